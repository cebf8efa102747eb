import type { JSX } from 'preact';
import { useMemo } from 'preact/hooks';
import type { ServingStatusReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { TimeChart, VARIANT_COLORS, type ChartSeries } from '../charts.js';
import { hrefWith, Link, type Location } from '../router.js';
import { Async, Badge, Page, short, time, useApi } from '../ui.js';
import './promotion.css';

/** The windows offered, in minutes (the URL's `window`). */
const WINDOWS = [15, 60, 360, 1440] as const;
const POINTS = 30;
/** the page reads the status again this often (a live view) */
const POLL_MS = 15_000;

type Series = NonNullable<ServingStatusReply['series']>;
type VariantName = 'stable' | 'canary';
const VARIANTS: VariantName[] = ['stable', 'canary'];

const windowLabel = (m: number) => (m < 60 ? `${m} min` : `${m / 60} h`);
const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(2)} %`);
const ms = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} ms`);

function Split(props: { s: ServingStatusReply }): JSX.Element {
  const canary = props.s.variants.canary.artifactId ? props.s.percent : 0;
  return (
    <div class="split">
      <p>
        Split: <strong>stable {100 - canary} %</strong> · <strong>canary {canary} %</strong>
        {props.s.promotionId ? (
          <>
            {' '}
            set by promotion <Link href={`/promotions/${props.s.promotionId}`}>{short(props.s.promotionId)}</Link> (
            {props.s.promotionStatus})
          </>
        ) : null}
      </p>
      <div class="splitbar" aria-hidden="true">
        <span style={{ width: `${100 - canary}%`, background: VARIANT_COLORS.stable }} />
        <span style={{ width: `${canary}%`, background: VARIANT_COLORS.canary }} />
      </div>
    </div>
  );
}

function Totals(props: { s: ServingStatusReply; minutes: number }): JSX.Element {
  return (
    <table>
      <caption>Over the last {windowLabel(props.minutes)}</caption>
      <thead>
        <tr>
          <th scope="col">Variant</th>
          <th scope="col">Artifact</th>
          <th scope="col">Requests</th>
          <th scope="col">Error rate</th>
          <th scope="col">p50</th>
          <th scope="col">p95</th>
          <th scope="col">p99</th>
          <th scope="col">Quality</th>
        </tr>
      </thead>
      <tbody>
        {VARIANTS.map((name) => {
          const v = props.s.variants[name];
          return (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>{v.artifactId ? <Link href={`/artifacts/${v.artifactId}`}>{short(v.artifactId)}</Link> : '—'}</td>
              <td>{v.requests}</td>
              <td>{pct(v.errorRate)}</td>
              <td>{ms(v.latencyMs.p50)}</td>
              <td>{ms(v.latencyMs.p95)}</td>
              <td>{ms(v.latencyMs.p99)}</td>
              <td>{v.quality ? `${pct(v.quality.rate)} of ${v.quality.labelled}` : '—'}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A series' non-null values summarised for screen readers. */
function summary(series: ChartSeries[], unit: string): string {
  return series
    .map((s) => {
      const vs = s.values.filter((v): v is number => v !== null);
      return vs.length
        ? `${s.label} from ${Math.min(...vs).toPrecision(3)} to ${Math.max(...vs).toPrecision(3)} ${unit}`
        : `${s.label} no data`;
    })
    .join('; ');
}

function Charts(props: { series: Series }): JSX.Element {
  const charts = useMemo(() => {
    const pts = props.series;
    const x = pts.map((p) => Date.parse(p.from) / 1000);
    const minutes = pts.length ? (Date.parse(pts[0]!.to) - Date.parse(pts[0]!.from)) / 60_000 : 1;
    const line = (v: VariantName, label: string, f: (p: Series[number][VariantName]) => number | null, dash?: number[]): ChartSeries => ({
      label: `${v} ${label}`.trim(),
      color: VARIANT_COLORS[v],
      values: pts.map((p) => f(p[v])),
      ...(dash ? { dash } : {}),
    });
    const both = (label: string, f: (p: Series[number][VariantName]) => number | null, dash?: number[]) =>
      VARIANTS.map((v) => line(v, label, f, dash));
    return [
      { title: 'Request rate (requests a minute)', unit: 'req/min', series: both('', (p) => p.requests / minutes) },
      { title: 'Error rate (%)', unit: '%', series: both('', (p) => (p.errorRate === null ? null : p.errorRate * 100)) },
      {
        title: 'Latency p50 / p95 / p99 (ms; p50 dotted, p99 dashed)',
        unit: 'ms',
        series: [
          ...both('p50', (p) => p.latencyMs.p50, [2, 4]),
          ...both('p95', (p) => p.latencyMs.p95),
          ...both('p99', (p) => p.latencyMs.p99, [8, 4]),
        ],
      },
      {
        title: 'Quality (% of labelled predictions correct)',
        unit: '%',
        series: both('', (p) => (p.quality === null ? null : p.quality * 100)),
      },
    ].map((c) => ({ ...c, x }));
  }, [props.series]);
  return (
    <div class="charts">
      {charts.map((c) => (
        <TimeChart key={c.title} title={c.title} x={c.x} series={c.series} unit={c.unit} summary={summary(c.series, c.unit)} />
      ))}
    </div>
  );
}

/** `/serving/:model/:env`: the split and each variant's traffic, errors, latency and quality over time. */
export function ServingPage(props: { model: string; env: string; loc: Location }): JSX.Element {
  const { model, env, loc } = props;
  const asked = Number(loc.query.get('window'));
  const minutes = (WINDOWS as readonly number[]).includes(asked) ? asked : 60;
  const path = withQuery(`/v1/serving/${encodeURIComponent(model)}/${encodeURIComponent(env)}/status`, {
    windowMinutes: minutes,
    points: POINTS,
  });
  const status = useApi<ServingStatusReply>(path, POLL_MS);
  return (
    <Page title={`Serving ${model} in ${env}`}>
      <nav class="tabs" aria-label="time window">
        {WINDOWS.map((w) => (
          <Link
            key={w}
            href={hrefWith(loc, { window: w === 60 ? undefined : String(w) })}
            aria-current={w === minutes ? 'page' : undefined}
          >
            Last {windowLabel(w)}
          </Link>
        ))}
      </nav>
      <Async loaded={status} what="the serving status">
        {(s) => (
          <>
            <Split s={s} />
            <Totals s={s} minutes={minutes} />
            <h2>Over time</h2>
            <p class="muted">
              {time(s.window.from)} – {time(s.window.to)} in {POINTS} slots; each variant whatever artifact served it then.
            </p>
            {s.series ? <Charts series={s.series} /> : null}
            <h2>Last canary windows</h2>
            {s.verdicts.length ? (
              <ul>
                {s.verdicts.map((v) => (
                  <li key={v.seq}>
                    {time(v.judgedAt)} {v.stageName} at {v.percent} %:{' '}
                    <Badge tone={v.verdict === 'pass' ? 'ok' : v.verdict === 'fail' ? 'bad' : 'warn'}>{v.verdict}</Badge> {v.reason} →{' '}
                    {v.next}
                  </li>
                ))}
              </ul>
            ) : (
              <p class="muted">No judged window for the promotion that set this route.</p>
            )}
          </>
        )}
      </Async>
    </Page>
  );
}
