import { Fragment, type JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { DriftReportReply, DriftSuggestionReply } from '../../../lib/platform/http/schemas.js';
import type { FeatureDrift, WindowReport } from '../../../lib/modules/drift/detect.js';
import { api, ApiError } from '../api.js';
import { categoryBins, Histogram, numericBins, type HistogramData } from '../histogram.js';
import { Link } from '../router.js';
import { Async, Badge, Page, time, useApi, useCan } from '../ui.js';
import { reasonText, suggestionBadge, verdictBadge } from './drift.js';

const num = (n: number | null | undefined, digits = 4): string => (n === null || n === undefined ? '—' : String(+n.toFixed(digits)));
const pval = (p: number): string => (p < 1e-6 ? '< 0.000001' : num(p, 6));
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function featureHistogram(f: FeatureDrift): HistogramData {
  const h = f.histograms;
  const bins = 'edges' in h ? numericBins(h.edges) : categoryBins(h.categories, h.reference.length);
  return { bins, reference: h.reference, current: h.current };
}

/** The statistics the detectors computed for one feature, the gated one first. */
function FeatureStats(props: { f: FeatureDrift }): JSX.Element {
  const { f } = props;
  const rows: [string, string][] = [
    ['Jensen–Shannon distance (gated)', `${num(f.js)} (threshold ${num(f.threshold)})`],
    ['Rows in the window', String(f.rows)],
    ['Missing rate', `reference ${pct(f.missingRate.reference)}, current ${pct(f.missingRate.current)}`],
  ];
  if (f.kind === 'numeric') {
    rows.push(['PSI', num(f.psi)], ['Wasserstein ÷ reference σ', num(f.wassersteinSigma)]);
    rows.push(['Binned KS', `D ${num(f.binnedKs.statistic)}, p ${pval(f.binnedKs.pValue)}`]);
    if (f.ks) rows.push(['KS (raw samples)', `D ${num(f.ks.statistic)}, p ${pval(f.ks.pValue)}`]);
    if (f.invalid) rows.push(['Values not numbers', String(f.invalid)]);
  } else {
    rows.push(['χ² homogeneity', `χ² ${num(f.chiSquare.statistic)}, df ${f.chiSquare.df}, p ${pval(f.chiSquare.pValue)}`]);
    rows.push([
      'Unseen categories',
      `${pct(f.unseenShare)}${f.unseen.length ? `: ${f.unseen.map((u) => `${u.category} (${u.count})`).join(', ')}` : ''}`,
    ]);
  }
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </Fragment>
      ))}
      <dt>Decision</dt>
      <dd>
        <Badge tone={f.drift ? 'bad' : 'ok'}>{f.drift ? 'drift' : 'no drift'}</Badge>
        {f.reasons.length ? ` by ${f.reasons.join('; ')}` : ''}
      </dd>
    </dl>
  );
}

function Overall(props: { rec: DriftReportReply['record']; report: WindowReport }): JSX.Element {
  const { rec, report } = props;
  const perf = report.performance;
  return (
    <dl class="facts">
      <dt>Verdict</dt>
      <dd>{verdictBadge(rec.verdict)}</dd>
      <dt>Model, environment</dt>
      <dd>
        {rec.model} in {rec.env}
      </dd>
      <dt>Serving artifact</dt>
      <dd>
        <code>{rec.artifactId}</code>
      </dd>
      <dt>Window</dt>
      <dd>
        {time(rec.from)} – {time(rec.to)}
      </dd>
      <dt>Rows, requests, labelled</dt>
      <dd>
        {rec.summary.rows}, {rec.summary.requests}, {rec.summary.labelled}
      </dd>
      <dt>Dataset drift</dt>
      <dd>
        {rec.summary.datasetDrift ? 'yes' : 'no'}: {rec.summary.driftedFeatures.length} of {rec.summary.features} feature(s) drifted (
        {pct(rec.summary.driftedShare)}){report.datasetReasons.length ? `; ${report.datasetReasons.join(', ')}` : ''}
      </dd>
      <dt>Label, prediction drift</dt>
      <dd>
        {rec.summary.labelDrift === null ? 'not measured' : rec.summary.labelDrift ? 'yes' : 'no'},{' '}
        {rec.summary.predictionDrift === null ? 'not measured' : rec.summary.predictionDrift ? 'yes' : 'no'}
      </dd>
      <dt>Performance</dt>
      <dd>
        {perf.status}
        {perf.accuracy !== undefined ? `: accuracy ${num(perf.accuracy)} vs holdout ${num(perf.holdoutAccuracy)}` : ''}
        {perf.regression ? ' — regression' : ''}
      </dd>
      <dt>Stored report</dt>
      <dd>
        <code>{rec.objectKey}</code> (sha256 <code>{rec.sha256.slice(0, 16)}…</code>, checked by the server)
      </dd>
    </dl>
  );
}

/** The suggestion the report raised or attached to, with accept and dismiss for the roles that may decide. */
function SuggestionPanel(props: { id: string; reportId: string }): JSX.Element {
  const can = useCan();
  const loaded = useApi<DriftSuggestionReply>(`/v1/drift/suggestions/${encodeURIComponent(props.id)}`);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const decide = async (action: 'accept' | 'dismiss') => {
    setBusy(true);
    setRefused(null);
    try {
      await api(`/v1/drift/suggestions/${encodeURIComponent(props.id)}/${action}`, { method: 'POST', body: { reason } });
      setReason('');
      loaded.reload();
    } catch (e) {
      setRefused(e instanceof ApiError ? e : new ApiError(0, 'CLIENT', String(e)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Async loaded={loaded} what="the retrain suggestion">
      {({ suggestion: s }) => {
        const mayAccept = can('driftSuggestionAccept') && s.status === 'open';
        const mayDismiss = can('driftSuggestionDismiss') && (s.status === 'open' || s.status === 'accepted');
        return (
          <>
            <p>
              <code>{s.suggestionId}</code> {suggestionBadge(s.status)}{' '}
              {s.reportId === props.reportId ? 'raised by this report' : 'this report attached to it'}; raised {time(s.createdAt)} for{' '}
              <code>{s.servingArtifactId}</code>.
              {s.statusBy ? ` ${s.status} by ${s.statusBy} ${time(s.statusAt)}: ${s.statusReason ?? ''}` : ''}
              {s.resolvedBy ? ` Resolved by promotion ${s.resolvedBy.promotionId} (artifact ${s.resolvedBy.artifactId}).` : ''}
            </p>
            <ul>
              {s.reasons.map((r) => (
                <li key={reasonText(r)}>{reasonText(r)}</li>
              ))}
            </ul>
            {s.reportIds.length > 1 ? (
              <p>
                Reports:{' '}
                {s.reportIds.map((id) => (
                  <span key={id}>
                    <Link href={`/drift/reports/${encodeURIComponent(id)}`}>{id}</Link>{' '}
                  </span>
                ))}
              </p>
            ) : null}
            {mayAccept || mayDismiss ? (
              <form class="decide" onSubmit={(e) => e.preventDefault()}>
                <label for="decision-reason">Reason (recorded and audited)</label>
                <textarea
                  id="decision-reason"
                  rows={2}
                  cols={60}
                  value={reason}
                  onInput={(e) => setReason((e.currentTarget as HTMLTextAreaElement).value)}
                />
                <div>
                  {mayAccept ? (
                    <button type="button" disabled={busy} onClick={() => void decide('accept')}>
                      Accept suggestion
                    </button>
                  ) : null}{' '}
                  {mayDismiss ? (
                    <button type="button" class="danger" disabled={busy} onClick={() => void decide('dismiss')}>
                      Dismiss suggestion
                    </button>
                  ) : null}
                </div>
              </form>
            ) : null}
            {refused ? (
              <p class="state error" role="alert">
                The server refused: <strong>{refused.code}</strong> {refused.message}
                {refused.field ? ` (field ${refused.field})` : ''}
              </p>
            ) : null}
          </>
        );
      }}
    </Async>
  );
}

/** One drift report: the overall verdict, per feature both histograms with the statistics and decision, and its suggestion. */
export function DriftReportPage(props: { id: string }): JSX.Element {
  const loaded = useApi<DriftReportReply>(`/v1/drift/reports/${encodeURIComponent(props.id)}`);
  return (
    <Page title={`Drift report ${props.id}`}>
      <p>
        <Link href="/drift">« All drift reports</Link>
      </p>
      <Async loaded={loaded} what="the drift report">
        {({ record, report: body }) => {
          const report = body as unknown as WindowReport;
          return (
            <>
              <Overall rec={record} report={report} />
              <h2>Retrain suggestion</h2>
              {record.suggestionId ? (
                <SuggestionPanel id={record.suggestionId} reportId={record.reportId} />
              ) : (
                <p class="muted">This report raised no suggestion and attached to none.</p>
              )}
              <h2>Features</h2>
              {report.features.length === 0 ? <p class="muted">The report judged no feature.</p> : null}
              {report.features.map((f) => (
                <section key={f.feature} aria-labelledby={`feature-${f.feature}`} class="feature">
                  <h3 id={`feature-${f.feature}`}>
                    {f.feature} <span class="muted">({f.kind})</span>{' '}
                    <Badge tone={f.drift ? 'bad' : 'ok'}>{f.drift ? 'drift' : 'no drift'}</Badge>
                  </h3>
                  <div class="feature-body">
                    <Histogram title={f.feature} data={featureHistogram(f)} />
                    <FeatureStats f={f} />
                  </div>
                </section>
              ))}
              {report.labelHistogram ? (
                <section aria-labelledby="label-hist">
                  <h3 id="label-hist">Labels</h3>
                  <Histogram
                    title="labels"
                    data={{
                      ...report.labelHistogram,
                      bins: categoryBins(report.labelHistogram.categories, report.labelHistogram.reference.length),
                    }}
                  />
                </section>
              ) : null}
              {report.predictionHistogram ? (
                <section aria-labelledby="prediction-hist">
                  <h3 id="prediction-hist">Prediction scores</h3>
                  <Histogram
                    title="prediction scores"
                    data={{ ...report.predictionHistogram, bins: numericBins(report.predictionHistogram.edges) }}
                  />
                </section>
              ) : null}
            </>
          );
        }}
      </Async>
    </Page>
  );
}
