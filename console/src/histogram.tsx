/**
 * A reference vs current histogram as plain SVG: per bin two bars side by side, each the bin's
 * share of its series (the two windows hold different numbers of rows), with axis labels, a
 * `<title>` per bar, and the counts as a table for screen readers and for copying.
 */
import type { JSX } from 'preact';

export interface HistogramData {
  /** one label per bin */
  bins: string[];
  reference: number[];
  current: number[];
}

const W = 720;
const H = 240;
const M = { top: 12, right: 12, bottom: 64, left: 66 };
const COLOURS = { reference: '#6b7785', current: '#0b5fbd' } as const;

const fmt = (n: number): string => (Math.abs(n) >= 1e4 || (n !== 0 && Math.abs(n) < 1e-2) ? n.toPrecision(3) : String(+n.toFixed(2)));
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Bin labels of a numeric feature: `edges` ascending, open tails below the first and at or above the last. */
export function numericBins(edges: readonly number[]): string[] {
  if (edges.length === 0) return ['all'];
  const out = [`< ${fmt(edges[0]!)}`];
  for (let i = 1; i < edges.length; i++) out.push(`${fmt(edges[i - 1]!)} – ${fmt(edges[i]!)}`);
  out.push(`≥ ${fmt(edges[edges.length - 1]!)}`);
  return out;
}

/** Bin labels of a categorical feature: the named categories, then the pooled rest and the missing values when counted. */
export function categoryBins(categories: readonly string[], counts: number): string[] {
  return [...categories, '(other)', '(missing)'].slice(0, Math.max(counts, categories.length));
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

function Swatch(props: { series: keyof typeof COLOURS }): JSX.Element {
  return (
    <svg width="12" height="12" aria-hidden="true">
      <rect width="12" height="12" fill={COLOURS[props.series]} />
    </svg>
  );
}

export function Histogram(props: { title: string; data: HistogramData }): JSX.Element {
  const { bins, reference, current } = props.data;
  const refTotal = sum(reference) || 1;
  const curTotal = sum(current) || 1;
  const share = { reference: reference.map((c) => c / refTotal), current: current.map((c) => c / curTotal) };
  const top = Math.max(0.01, ...share.reference, ...share.current);
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const slot = plotW / Math.max(1, bins.length);
  const bar = Math.max(1, (slot * 0.8) / 2);
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const ticks = [0, top / 2, top];
  const label = `${props.title}: reference and current share of rows in ${bins.length} bins`;
  return (
    <figure class="histogram">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} stroke="#d8dee4" />
            <text x={M.left - 6} y={y(t) + 4} text-anchor="end" font-size="11" fill="#5b6570">
              {pct(t)}
            </text>
          </g>
        ))}
        {bins.map((b, i) => {
          const x0 = M.left + i * slot + slot * 0.1;
          const lx = M.left + i * slot + slot / 2;
          return (
            <g key={i}>
              {(['reference', 'current'] as const).map((series, k) => {
                const v = share[series][i] ?? 0;
                const count = (series === 'reference' ? reference : current)[i] ?? 0;
                return (
                  <rect
                    key={series}
                    class={`bar ${series}`}
                    x={x0 + k * bar}
                    y={y(v)}
                    width={bar}
                    height={Math.max(0, M.top + plotH - y(v))}
                    fill={COLOURS[series]}
                  >
                    <title>{`${b} — ${series}: ${pct(v)} (${count} rows)`}</title>
                  </rect>
                );
              })}
              <text
                x={lx}
                y={M.top + plotH + 12}
                font-size="10"
                fill="#5b6570"
                text-anchor="end"
                transform={`rotate(-35 ${lx} ${M.top + plotH + 12})`}
              >
                {b}
              </text>
            </g>
          );
        })}
        <line x1={M.left} x2={W - M.right} y1={M.top + plotH} y2={M.top + plotH} stroke="#5b6570" />
        <text
          x={12}
          y={M.top + plotH / 2}
          font-size="11"
          fill="#5b6570"
          transform={`rotate(-90 14 ${M.top + plotH / 2})`}
          text-anchor="middle"
        >
          share of rows
        </text>
      </svg>
      <figcaption>
        <Swatch series="reference" /> reference ({sum(reference)} rows) <Swatch series="current" /> current ({sum(current)} rows)
      </figcaption>
      <details>
        <summary>{props.title}: counts as a table</summary>
        <table>
          <caption class="sr-only">{props.title}: reference and current counts per bin</caption>
          <thead>
            <tr>
              <th scope="col">Bin</th>
              <th scope="col">Reference</th>
              <th scope="col">Current</th>
            </tr>
          </thead>
          <tbody>
            {bins.map((b, i) => (
              <tr key={i}>
                <th scope="row">{b}</th>
                <td>
                  {reference[i] ?? 0} ({pct(share.reference[i] ?? 0)})
                </td>
                <td>
                  {current[i] ?? 0} ({pct(share.current[i] ?? 0)})
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
