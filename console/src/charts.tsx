/**
 * Time series with uPlot: canvas drawing, the legend as a table of the series' names (its styles
 * are set from JavaScript, which the console's CSP allows). Each chart carries a text summary for
 * screen readers, since a canvas says nothing.
 */
import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** CSS colour of the line */
  color: string;
  dash?: number[];
}

/** The variants' colours, shared by every chart (stable blue, canary orange). */
export const VARIANT_COLORS = { stable: '#0b5fbd', canary: '#c2410c' } as const;

/** One line chart over time: `x` in epoch seconds, one value (or null: no data) per x and series. */
export function TimeChart(props: {
  title: string;
  x: number[];
  series: ChartSeries[];
  /** shown after values on the axis and in the legend */
  unit: string;
  /** a fixed y range, e.g. [0, 1] for rates */
  range?: [number, number];
  summary: string;
}): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const { title, x, series, unit, range } = props;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${Number(v.toPrecision(4))} ${unit}`.trim());
    const opts: uPlot.Options = {
      width: Math.max(320, Math.min(640, el.clientWidth || 600)),
      height: 220,
      scales: { x: { time: true }, ...(range ? { y: { range } } : {}) },
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${Number(t.toPrecision(3))}${unit === '%' ? '%' : ''}`), size: 60 }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => fmt(v),
          ...(s.dash ? { dash: s.dash } : {}),
        })),
      ],
    };
    const plot = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    return () => plot.destroy();
  }, [x, series, unit, range]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: ${props.summary}`} />
    </figure>
  );
}
