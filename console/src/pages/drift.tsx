import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { DriftReportsReply, DriftSuggestionsReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { hrefWith, Link, navigate, type Location } from '../router.js';
import { Async, Badge, Page, Pager, short, time, useApi } from '../ui.js';

type Report = DriftReportsReply['reports'][number];
type Suggestion = DriftSuggestionsReply['suggestions'][number];

/** The environments a drift report names (kernel/policy.ts TARGET_ENVS; the API refuses any other). */
const ENVS = ['staging', 'canary', 'prod'] as const;

export const verdictBadge = (v: Report['verdict']): JSX.Element => (
  <Badge tone={v === 'drift' ? 'bad' : v === 'no-drift' ? 'ok' : 'warn'}>{v}</Badge>
);

export const suggestionBadge = (s: Suggestion['status']): JSX.Element => (
  <Badge tone={s === 'open' ? 'warn' : s === 'accepted' ? 'info' : s === 'resolved' ? 'ok' : 'info'}>{s}</Badge>
);

export const reasonText = (r: Suggestion['reasons'][number]): string =>
  `${r.detector}${r.feature ? ` ${r.feature}` : ''}: ${r.metric} ${+r.value.toFixed(4)} (threshold ${r.threshold})`;

function Filters(props: { loc: Location }): JSX.Element {
  const { loc } = props;
  const [model, setModel] = useState(loc.query.get('model') ?? '');
  const [env, setEnv] = useState(loc.query.get('env') ?? '');
  const sinceIso = loc.query.get('since');
  const [since, setSince] = useState(sinceIso && !Number.isNaN(Date.parse(sinceIso)) ? sinceIso.slice(0, 10) : '');
  const submit = (e: Event) => {
    e.preventDefault();
    navigate(
      hrefWith(loc, {
        model: model.trim(),
        env,
        since: since ? new Date(`${since}T00:00:00Z`).toISOString() : undefined,
        cursor: undefined,
        scursor: undefined,
      }),
    );
  };
  return (
    <form class="filters" onSubmit={submit} aria-label="filter the reports and suggestions">
      <label>
        Model <input name="model" value={model} onInput={(e) => setModel((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <label>
        Environment{' '}
        <select name="env" value={env} onChange={(e) => setEnv((e.currentTarget as HTMLSelectElement).value)}>
          <option value="">any</option>
          {ENVS.map((x) => (
            <option key={x} value={x}>
              {x}
            </option>
          ))}
        </select>
      </label>
      <label>
        Windows ending on or after (UTC day){' '}
        <input name="since" type="date" value={since} onInput={(e) => setSince((e.currentTarget as HTMLInputElement).value)} />
      </label>
      <button type="submit">Filter</button>
      {['model', 'env', 'since'].some((k) => loc.query.get(k)) ? <Link href="/drift">Clear filters</Link> : null}
    </form>
  );
}

function ReportsTable(props: { reports: Report[] }): JSX.Element {
  return (
    <table>
      <caption class="sr-only">Drift reports, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Report</th>
          <th scope="col">Model</th>
          <th scope="col">Environment</th>
          <th scope="col">Window</th>
          <th scope="col">Verdict</th>
          <th scope="col">Drifted features</th>
          <th scope="col">Rows</th>
          <th scope="col">Suggestion</th>
        </tr>
      </thead>
      <tbody>
        {props.reports.map((r) => (
          <tr key={r.reportId}>
            <td>
              <Link href={`/drift/reports/${encodeURIComponent(r.reportId)}`}>{r.reportId}</Link>
            </td>
            <td>
              <Link href={withQuery('/drift', { model: r.model })}>{r.model}</Link>
            </td>
            <td>
              <Link href={withQuery('/drift', { model: r.model, env: r.env })}>{r.env}</Link>
            </td>
            <td>
              {time(r.from)} – {time(r.to)}
            </td>
            <td>{verdictBadge(r.verdict)}</td>
            <td>{r.summary.driftedFeatures.length ? r.summary.driftedFeatures.join(', ') : '—'}</td>
            <td>{r.summary.rows}</td>
            <td>{r.suggestionId ? <code>{r.suggestionId}</code> : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SuggestionsTable(props: { suggestions: Suggestion[] }): JSX.Element {
  return (
    <table>
      <caption class="sr-only">Retrain suggestions, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Suggestion</th>
          <th scope="col">Model</th>
          <th scope="col">Environment</th>
          <th scope="col">Serving artifact</th>
          <th scope="col">Status</th>
          <th scope="col">Reasons</th>
          <th scope="col">Raised by</th>
          <th scope="col">Raised</th>
        </tr>
      </thead>
      <tbody>
        {props.suggestions.map((s) => (
          <tr key={s.suggestionId}>
            <td>
              <code>{s.suggestionId}</code>
            </td>
            <td>{s.model}</td>
            <td>{s.env}</td>
            <td>
              <code title={s.servingArtifactId}>{short(s.servingArtifactId)}</code>
            </td>
            <td>
              {suggestionBadge(s.status)}
              {s.statusBy ? <span class="muted"> by {s.statusBy}</span> : null}
            </td>
            <td>
              <ul class="plain">
                {s.reasons.map((r) => (
                  <li key={reasonText(r)}>{reasonText(r)}</li>
                ))}
              </ul>
            </td>
            <td>
              <Link href={`/drift/reports/${encodeURIComponent(s.reportId)}`}>{s.reportId}</Link>
              {s.reportIds.length > 1 ? <span class="muted"> (+{s.reportIds.length - 1} attached)</span> : null}
            </td>
            <td>{time(s.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Drift reports per model and environment (filters and cursors in the URL), and the retrain suggestions they raised. */
export function DriftPage(props: { loc: Location }): JSX.Element {
  const { loc } = props;
  const q = (k: string) => loc.query.get(k);
  const filter = { model: q('model'), env: q('env') };
  const reports = useApi<DriftReportsReply>(
    withQuery('/v1/drift/reports', { ...filter, since: q('since'), cursor: q('cursor'), limit: 25 }),
  );
  const suggestions = useApi<DriftSuggestionsReply>(withQuery('/v1/drift/suggestions', { ...filter, cursor: q('scursor'), limit: 25 }));
  return (
    <Page title="Drift">
      <Filters key={loc.query.toString()} loc={loc} />
      <h2>Reports</h2>
      <Async loaded={reports} what="the drift reports" empty={(d) => d.reports.length === 0 && 'No drift reports match these filters.'}>
        {(d) => (
          <>
            <ReportsTable reports={d.reports} />
            <Pager loc={loc} nextCursor={d.nextCursor} />
          </>
        )}
      </Async>
      <h2>Retrain suggestions</h2>
      <Async
        loaded={suggestions}
        what="the retrain suggestions"
        empty={(d) => d.suggestions.length === 0 && 'No retrain suggestions for these filters.'}
      >
        {(d) => (
          <>
            <SuggestionsTable suggestions={d.suggestions} />
            <Pager loc={loc} nextCursor={d.nextCursor} param="scursor" />
          </>
        )}
      </Async>
    </Page>
  );
}
