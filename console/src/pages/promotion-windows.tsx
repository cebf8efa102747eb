/** The promotion page's canary windows: the judge's numbers for each, the failed check highlighted. */
import type { JSX } from 'preact';
import type { VerdictReply } from '../../../lib/platform/http/schemas.js';
import { Badge, time } from '../ui.js';

type Judgement = NonNullable<VerdictReply['judgement']>;

const pct = (v: number | null | undefined, digits = 2): string => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)} %`);
const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : `${v.toFixed(1)} ms`);
const p = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : v < 0.0001 ? v.toExponential(2) : v.toFixed(4));
const tone = (v: VerdictReply['verdict']) => (v === 'pass' ? 'ok' : v === 'fail' ? 'bad' : 'warn');

interface Row {
  /** the judge's check name (CANARY_CHECKS), matched against `failed.metric` */
  check: string;
  label: string;
  stable: string;
  canary: string;
  test: string;
}

function rows(j: Judgement): Row[] {
  const m = j.metrics;
  const out: Row[] = [
    { check: 'requests', label: 'Requests', stable: String(m.requests.stable), canary: String(m.requests.canary), test: '' },
    {
      check: 'errorRate',
      label: 'Error rate',
      stable: pct(m.errorRate.stable),
      canary: pct(m.errorRate.canary),
      test: `${m.errorRate.test} test, difference ${pct(m.errorRate.difference)}, p = ${p(m.errorRate.pValue)}`,
    },
    {
      check: 'latencyP95',
      label: 'Latency p95',
      stable: ms(m.latency.stable.p95),
      canary: ms(m.latency.canary.p95),
      test: `Mann-Whitney U on ${m.latency.source}, p = ${p(m.latency.pValue)}`,
    },
    { check: 'latencyP99', label: 'Latency p99', stable: ms(m.latency.stable.p99), canary: ms(m.latency.canary.p99), test: '' },
  ];
  if (m.quality)
    out.push({
      check: 'quality',
      label: 'Quality',
      stable: `${pct(m.quality.stable, 1)} of ${m.quality.labelled.stable}`,
      canary: `${pct(m.quality.canary, 1)} of ${m.quality.labelled.canary}`,
      test: `${m.quality.judged ? '' : 'not judged, '}relative drop ${pct(m.quality.relativeDrop, 1)}, p = ${p(m.quality.pValue)}`,
    });
  const g = m.guardrails;
  out.push(
    {
      check: 'errorCeiling',
      label: 'Error ceiling (guardrail)',
      stable: '',
      canary: `${pct(g.errorCeiling.canary)} vs ceiling ${pct(g.errorCeiling.ceiling)}`,
      test: `p = ${p(g.errorCeiling.pValue)}${g.errorCeiling.tripped ? ', tripped' : ''}`,
    },
    {
      check: 'sampleRatio',
      label: 'Sample ratio (guardrail)',
      stable: '',
      canary: g.sampleRatio.checked
        ? `${pct(g.sampleRatio.observedShare)} observed, ${pct(g.sampleRatio.expectedShare)} expected`
        : 'not checked',
      test: `χ² ${g.sampleRatio.chiSquare.toFixed(2)}, p = ${p(g.sampleRatio.pValue)}${g.sampleRatio.tripped ? ', tripped' : ''}`,
    },
  );
  return out;
}

function JudgementTable(props: { v: VerdictReply; j: Judgement }): JSX.Element {
  const { v, j } = props;
  const failed = j.failed?.metric;
  return (
    <>
      <table class="judgement">
        <caption class="sr-only">The judge's numbers for window {v.seq}</caption>
        <thead>
          <tr>
            <th scope="col">Check</th>
            <th scope="col">Stable</th>
            <th scope="col">Canary</th>
            <th scope="col">Test</th>
          </tr>
        </thead>
        <tbody>
          {rows(j).map((r) => (
            <tr key={r.check} class={r.check === failed ? 'failed' : undefined}>
              <th scope="row">
                {r.label}
                {r.check === failed ? (
                  <>
                    {' '}
                    <Badge tone="bad">failed</Badge>
                  </>
                ) : null}
              </th>
              <td>{r.stable}</td>
              <td>{r.canary}</td>
              <td>{r.test}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">
        Significance: family α {j.significance.family}, guardrail α {j.significance.guardrail}, {j.significance.comparisons} comparisons at
        α {p(j.significance.perComparison)} each.
      </p>
    </>
  );
}

/** Every judged window, oldest first: verdict, what the rollout did next, the judge's numbers. */
export function CanaryWindows(props: { verdicts: VerdictReply[] }): JSX.Element {
  return (
    <>
      {props.verdicts.map((v) => (
        <article key={v.seq} class={`window ${v.verdict}`} aria-labelledby={`window-${v.seq}`}>
          <h3 id={`window-${v.seq}`}>
            Window {v.seq}: {v.stageName} at {v.percent} % <Badge tone={tone(v.verdict)}>{v.verdict}</Badge>
          </h3>
          <p>
            {time(v.from)} – {time(v.to)} · reason <strong>{v.reason}</strong> · next <strong>{v.next}</strong> · requests stable{' '}
            {v.requests.stable}, canary {v.requests.canary}
            {v.errors ? ` · errors stable ${v.errors.stable}, canary ${v.errors.canary}` : ''}
            {v.agreement ? ` · agreement ${v.agreement.agreed} of ${v.agreement.compared}` : ''}
          </p>
          {v.detail ? <p class="muted">{v.detail}</p> : null}
          {v.judgement ? <JudgementTable v={v} j={v.judgement} /> : <p class="muted">No numbers: a scripted judge decided this window.</p>}
        </article>
      ))}
    </>
  );
}
