/**
 * The artifact page's promote form, for roles that may promote (the `promote` route of
 * `/v1/whoami`): the target environment and the audited reason, sent as the CLI sends them.
 * The server decides (verification, quarantine, the policy, multisig): a refusal is shown with
 * the policy's rule ids; an accepted request opens its promotion page, live while it rolls out.
 * The strategy is the API's default (a canary with the policy's stages); the CLI sets others.
 */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { PromoteRequest, PromotionReply } from '../../../lib/platform/http/schemas.js';
import { api, ApiError } from '../api.js';
import { navigate } from '../router.js';
import { useCan } from '../ui.js';
import { Refusal } from './promotion-actions.js';

const ENVIRONMENTS: readonly PromoteRequest['targetEnv'][] = ['staging', 'canary', 'prod'];

export function PromoteAction(props: { artifactId: string; modelName: string }): JSX.Element | null {
  const can = useCan();
  const [open, setOpen] = useState(false);
  const [targetEnv, setTargetEnv] = useState<PromoteRequest['targetEnv']>('staging');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  if (!can('promote')) return null;
  if (!open)
    return (
      <p>
        <button type="button" onClick={() => setOpen(true)}>
          Promote…
        </button>
      </p>
    );
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: PromoteRequest = { targetEnv, reason };
      const p = await api<PromotionReply>(`/v1/artifacts/${encodeURIComponent(props.artifactId)}/promote`, { method: 'POST', body });
      navigate(`/promotions/${p.promotionId}`);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, 'CLIENT', String(err)));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="confirm" onSubmit={(e) => void submit(e)} aria-labelledby="promote-title">
      <p id="promote-title">
        <strong>Promote {props.modelName}?</strong> The server verifies the artifact and asks the policy; a critical environment waits for
        signed approvals (given in the CLI).
      </p>
      <p>
        <label for="promote-env">Environment</label>
        <select id="promote-env" value={targetEnv} onChange={(e) => setTargetEnv(e.currentTarget.value as PromoteRequest['targetEnv'])}>
          {ENVIRONMENTS.map((env) => (
            <option key={env} value={env}>
              {env}
            </option>
          ))}
        </select>
      </p>
      <p>
        <label for="promote-reason">Reason (audited)</label>
        <input id="promote-reason" required size={50} maxLength={2000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      </p>
      {error ? <Refusal error={error} /> : null}
      <button type="submit" disabled={busy}>
        Confirm: promote to {targetEnv}
      </button>{' '}
      <button type="button" onClick={() => setOpen(false)}>
        Back
      </button>
    </form>
  );
}
