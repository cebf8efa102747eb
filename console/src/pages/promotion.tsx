import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { AuditListReply, PromotionReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { Link } from '../router.js';
import { Async, Badge, Page, short, time, useApi, useCan } from '../ui.js';
import { PromotionActions } from './promotion-actions.js';
import { CanaryWindows } from './promotion-windows.js';
import { FINAL_STATUSES, StatusBadge } from './promotions-list.js';
import './promotion.css';

/** How often a promotion that is not final is read again (the live view). */
const POLL_MS = 2000;

function Summary(props: { p: PromotionReply }): JSX.Element {
  const { p } = props;
  const c = p.canary;
  return (
    <dl class="facts">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={p.status} /> {FINAL_STATUSES.includes(p.status) ? null : <span class="muted">(live: updates every 2 s)</span>}
      </dd>
      <dt>Model</dt>
      <dd>
        <Link href={`/models/${encodeURIComponent(p.modelName)}`}>{p.modelName}</Link> → {p.targetEnv} ({p.kind})
      </dd>
      <dt>Artifact</dt>
      <dd>
        <Link href={`/artifacts/${encodeURIComponent(p.artifactId)}`}>{p.artifactId}</Link>
      </dd>
      <dt>Requested</dt>
      <dd>
        by {p.requestedBy} at {time(p.createdAt)}: “{p.reason}”
      </dd>
      <dt>Strategy</dt>
      <dd>
        {c.strategy ?? 'canary'}: first {c.percent} %, {c.steps} step{c.steps === 1 ? '' : 's'}, windows of {c.windowSeconds} s, at least{' '}
        {c.minRequests ?? 200} requests{c.minLabelled === undefined ? '' : ` and ${c.minLabelled} labels (quality required)`},{' '}
        {c.maxInconclusive} inconclusive allowed
      </dd>
      <dt>Applied</dt>
      <dd>{time(p.appliedAt)}</dd>
      {p.rollout ? (
        <>
          <dt>Rollout</dt>
          <dd>
            {p.rollout.stageName}
            {p.rollout.reason ? null : ` (${p.rollout.percent} %)`}
          </dd>
        </>
      ) : null}
    </dl>
  );
}

function Policy(props: { p: PromotionReply }): JSX.Element {
  const d = props.p.policyDecision;
  const tone = d.decision === 'allow' ? 'ok' : d.decision === 'deny' ? 'bad' : 'info';
  return (
    <section aria-labelledby="policy">
      <h2 id="policy">Policy decision</h2>
      <p>
        <Badge tone={tone}>{d.decision.replace('_', ' ')}</Badge> by {d.engine ?? 'cedar'} at {time(d.evaluatedAt)}, policy set{' '}
        <code title={d.policySetSha256}>{short(d.policySetSha256 || '—')}</code>
      </p>
      <p>
        Rules:{' '}
        {d.rules.length ? (
          d.rules.map((r, i) => (
            <code key={r}>
              {i ? ', ' : ''}
              {r}
            </code>
          ))
        ) : (
          <span class="muted">none matched</span>
        )}
      </p>
      {d.reasons.length ? (
        <ul>
          {d.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

/** Refused approvals live in the audit chain only: shown to roles that read it. */
function Refused(props: { promotionId: string }): JSX.Element {
  const refused = useApi<AuditListReply>(
    withQuery('/v1/audit', { subject: `promotion:${props.promotionId}`, type: 'promotion.approval_refused', limit: 100 }),
  );
  return (
    <Async loaded={refused} what="the refused approvals" empty={(d) => d.items.length === 0 && 'No approval was refused.'}>
      {(d) => (
        <table>
          <caption>Refused approvals (from the audit chain)</caption>
          <thead>
            <tr>
              <th scope="col">Key id</th>
              <th scope="col">Refusal</th>
              <th scope="col">Why</th>
              <th scope="col">Sent by</th>
              <th scope="col">At</th>
            </tr>
          </thead>
          <tbody>
            {d.items.map((e) => (
              <tr key={e.seq}>
                <td>
                  <code>{String(e.payload.approverId ?? '—')}</code>
                </td>
                <td>{String(e.payload.refusal ?? '—')}</td>
                <td>{String(e.payload.reason ?? '—')}</td>
                <td>{e.actor}</td>
                <td>{time(e.ts)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Async>
  );
}

function Approvals(props: { p: PromotionReply }): JSX.Element | null {
  const { p } = props;
  const can = useCan();
  if (p.threshold === null && p.approvals.length === 0) return null;
  const counted = p.approvals.filter((a) => a.valid !== false).length;
  const of = p.policyDecision.approvers;
  return (
    <section aria-labelledby="approvals">
      <h2 id="approvals">Approvals</h2>
      <p>
        <strong>
          {counted} of {p.threshold ?? '?'}
        </strong>{' '}
        approvals{of ? ` (any ${p.threshold} of ${of} approvers)` : ''}
        {p.expiresAt ? `; the request expires ${time(p.expiresAt)}` : ''}
      </p>
      {p.approvals.length ? (
        <table>
          <caption class="sr-only">Approvals received</caption>
          <thead>
            <tr>
              <th scope="col">Approver key id</th>
              <th scope="col">Signed at</th>
              <th scope="col">Statement expires</th>
              <th scope="col">Counts</th>
            </tr>
          </thead>
          <tbody>
            {p.approvals.map((a) => (
              <tr key={a.approverId}>
                <td>
                  <code>{a.approverId}</code>
                </td>
                <td>{time(a.at)}</td>
                <td>{time(a.expiresAt)}</td>
                <td>{a.valid === false ? <Badge tone="bad">no: {a.reason ?? 'no longer valid'}</Badge> : <Badge tone="ok">yes</Badge>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">No approval yet.</p>
      )}
      {can('auditList') ? <Refused promotionId={p.promotionId} /> : null}
      {p.status === 'pending_multisig' ? (
        <div class="cli">
          <p>
            Approvals are signed in the CLI with the approver's key (it never enters a browser). The statement names promotion{' '}
            <code>{p.promotionId}</code>, artifact <code>{p.artifactId}</code>, its manifest digest and environment{' '}
            <code>{p.targetEnv}</code>:
          </p>
          <pre>{`npx aegis approve --promotion ${p.promotionId} --key <approver key file> --kid <approver key id> [--expires-in 24h]`}</pre>
        </div>
      ) : null}
    </section>
  );
}

function Trace(props: { p: PromotionReply }): JSX.Element | null {
  const steps = props.p.trace;
  if (steps.length === 0) return null;
  return (
    <section aria-labelledby="trace">
      <h2 id="trace">Rollout trace</h2>
      <ol class="timeline">
        {steps.map((s) => (
          <li key={s.step} class={s.error ? 'bad' : undefined}>
            <strong>{s.state}</strong> <span class="muted">{time(s.enteredAt)}</span>
            {s.finishedAt ? <span class="muted"> → {time(s.finishedAt)}</span> : <Badge tone="info">running</Badge>}
            {s.error ? <p class="state error">{s.error}</p> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** `/promotions/:id`: the promotion with its decision, approvals, trace and canary windows; live while it runs. */
export function PromotionPage(props: { id: string }): JSX.Element {
  const path = `/v1/promotions/${encodeURIComponent(props.id)}`;
  const [live, setLive] = useState(false);
  const loaded = useApi<PromotionReply>(path, live ? POLL_MS : undefined);
  // polls while the promotion can still change; stops once it is final
  const running = loaded.state === 'ok' && !FINAL_STATUSES.includes(loaded.data.status);
  useEffect(() => setLive(running), [running]);
  return (
    <Page title={`Promotion ${short(props.id)}`}>
      <Async loaded={loaded} what="the promotion">
        {(p) => (
          <>
            <Summary p={p} />
            <PromotionActions p={p} changed={loaded.reload} />
            <Policy p={p} />
            <Approvals p={p} />
            <Trace p={p} />
            {p.verdicts.length ? (
              <section aria-labelledby="windows">
                <h2 id="windows">Canary windows</h2>
                <CanaryWindows verdicts={p.verdicts} />
              </section>
            ) : null}
            {['rolling_out', 'succeeded', 'rolled_back', 'failed'].includes(p.status) ? (
              <p>
                <Link href={`/serving/${encodeURIComponent(p.modelName)}/${encodeURIComponent(p.targetEnv)}`}>
                  What serves {p.modelName} in {p.targetEnv}
                </Link>
              </p>
            ) : null}
          </>
        )}
      </Async>
    </Page>
  );
}
