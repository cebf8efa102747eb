/**
 * The promotion page's actions: cancel (pending), abort (rolling out) and roll back (the
 * environment, to a named earlier artifact), each behind a confirmation that asks for the
 * audited reason; shown only to roles that may call the route, the API's refusal shown as is.
 * Approvals are not here: they are signed in the CLI with a key that never enters a browser.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { PromotionReply } from '../../../lib/platform/http/schemas.js';
import { api, ApiError, policyRefusal } from '../api.js';
import { Link } from '../router.js';
import { useCan } from '../ui.js';

interface ActionSpec {
  id: string;
  route: string;
  label: string;
  explain: string;
  /** roll back asks which artifact to return to */
  needsArtifact?: boolean;
  call: (reason: string, artifactId: string) => Promise<unknown>;
}

/** The API's refusal as is; a policy refusal also lists the rules that denied it with their reasons, and links its record. */
export function Refusal(props: { error: ApiError }): JSX.Element {
  const { error } = props;
  const policy = policyRefusal(error);
  return (
    <div class="state error" role="alert">
      <p>
        Refused: <strong>{error.code}</strong> {error.message}
        {error.field ? ` (field ${error.field})` : ''}
      </p>
      {policy && policy.rules.length ? (
        <ul aria-label="Rules that refused it">
          {policy.rules.map((r) => (
            <li key={r.id}>
              <code>{r.id}</code>
              {r.reason ? `: ${r.reason}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
      {policy?.promotionId ? (
        <p>
          Recorded as <Link href={`/promotions/${policy.promotionId}`}>denied promotion {policy.promotionId.slice(0, 8)}</Link>.
        </p>
      ) : null}
    </div>
  );
}

function Action(props: { a: ActionSpec; done: () => void }): JSX.Element {
  const { a } = props;
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [artifact, setArtifact] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (!open)
    return (
      <button type="button" class="danger" onClick={() => setOpen(true)}>
        {a.label}…
      </button>
    );
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await a.call(reason, artifact.trim());
      setOpen(false);
      props.done();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="confirm" onSubmit={(e) => void submit(e)} aria-labelledby={`${a.id}-title`}>
      <p id={`${a.id}-title`}>
        <strong>{a.label}?</strong> {a.explain}
      </p>
      {a.needsArtifact ? (
        <p>
          <label for={`${a.id}-artifact`}>Artifact to return to</label>
          <input id={`${a.id}-artifact`} required size={38} value={artifact} onInput={(e) => setArtifact(e.currentTarget.value)} />
        </p>
      ) : null}
      <p>
        <label for={`${a.id}-reason`}>Reason (audited)</label>
        <input id={`${a.id}-reason`} required size={50} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </p>
      {error ? <Refusal error={error} /> : null}
      <button type="submit" class="danger" disabled={busy}>
        Confirm: {a.label.toLowerCase()}
      </button>{' '}
      <button type="button" onClick={() => setOpen(false)}>
        Back
      </button>
    </form>
  );
}

/** The actions this promotion's status allows and the signed-in role may call. */
export function PromotionActions(props: { p: PromotionReply; changed: () => void }): JSX.Element | null {
  const { p } = props;
  const can = useCan();
  const id = encodeURIComponent(p.promotionId);
  const all: (ActionSpec & { when: boolean })[] = [
    {
      id: 'cancel',
      route: 'promotionCancel',
      label: 'Cancel promotion',
      explain: 'The pending promotion closes without a rollout; approvals given so far stop counting.',
      when: p.status === 'pending_multisig',
      call: (reason) => api(`/v1/promotions/${id}/cancel`, { method: 'POST', body: { reason } }),
    },
    {
      id: 'abort',
      route: 'promotionAbort',
      label: 'Abort rollout',
      explain: 'The rollout stops and the route returns to the stable artifact.',
      when: p.status === 'rolling_out',
      call: (reason) => api(`/v1/promotions/${id}/abort`, { method: 'POST', body: { reason } }),
    },
    {
      id: 'rollback',
      route: 'rollback',
      label: `Roll back ${p.targetEnv}`,
      explain: `${p.modelName} in ${p.targetEnv} returns to the artifact you name (policy-checked; multisig when critical).`,
      needsArtifact: true,
      when: ['succeeded', 'rolled_back', 'failed'].includes(p.status),
      call: (reason, toArtifactId) =>
        api(`/v1/registry/models/${encodeURIComponent(p.modelName)}/rollback`, {
          method: 'POST',
          body: { targetEnv: p.targetEnv, toArtifactId, reason },
        }),
    },
  ];
  const shown = all.filter((a) => a.when && can(a.route));
  if (shown.length === 0) return null;
  return (
    <div class="actions" role="group" aria-label="actions">
      {shown.map((a) => (
        <Action key={a.id} a={a} done={props.changed} />
      ))}
    </div>
  );
}
