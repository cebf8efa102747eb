import type { JSX } from 'preact';
import type { PromotionsReply, PromotionSummaryReply } from '../../../lib/platform/http/schemas.js';
import { Link } from '../router.js';
import { Async, Badge, Page, short, time, useApi } from '../ui.js';

type Status = PromotionSummaryReply['status'];

/** Statuses after which a promotion changes no more (the page stops polling). */
export const FINAL_STATUSES: readonly Status[] = ['succeeded', 'rolled_back', 'failed', 'denied', 'cancelled', 'expired'];

const TONES: Record<Status, 'ok' | 'bad' | 'warn' | 'info'> = {
  pending_multisig: 'info',
  rolling_out: 'info',
  succeeded: 'ok',
  rolled_back: 'bad',
  failed: 'bad',
  denied: 'bad',
  cancelled: 'warn',
  expired: 'warn',
};

export function StatusBadge(props: { status: Status }): JSX.Element {
  return <Badge tone={TONES[props.status]}>{props.status.replace('_', ' ')}</Badge>;
}

/** What a promotion did, in a few words: its strategy, target and where its rollout stands. */
const progress = (p: PromotionSummaryReply): string =>
  p.status === 'pending_multisig'
    ? `${p.approvals.filter((a) => a.valid !== false).length} of ${p.threshold ?? '?'} approvals`
    : (p.rollout?.reason ?? p.rollout?.stageName ?? '—');

/**
 * An artifact's promotions (and rollbacks to it), newest first, each linking to its page: what
 * the artifact page shows under "Promotions" (`GET /v1/artifacts/{id}/promotions`).
 */
export function PromotionsList(props: { artifactId: string; heading?: 'h2' | 'h3' }): JSX.Element {
  const list = useApi<PromotionsReply>(`/v1/artifacts/${encodeURIComponent(props.artifactId)}/promotions`);
  const H = props.heading ?? 'h2';
  return (
    <section aria-labelledby="promotions-of-artifact">
      <H id="promotions-of-artifact">Promotions</H>
      <Async loaded={list} what="the promotions" empty={(d) => d.items.length === 0 && 'This artifact was never promoted.'}>
        {(d) => (
          <table>
            <caption class="sr-only">Promotions of artifact {props.artifactId}</caption>
            <thead>
              <tr>
                <th scope="col">Promotion</th>
                <th scope="col">Kind</th>
                <th scope="col">Environment</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">Requested by</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {[...d.items].reverse().map((p) => (
                <tr key={p.promotionId}>
                  <td>
                    <Link href={`/promotions/${p.promotionId}`}>{short(p.promotionId)}</Link>
                  </td>
                  <td>{p.kind}</td>
                  <td>{p.targetEnv}</td>
                  <td>
                    <StatusBadge status={p.status} />
                  </td>
                  <td>{progress(p)}</td>
                  <td>{p.requestedBy}</td>
                  <td>{time(p.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Async>
    </section>
  );
}

/** `/artifacts/:id/promotions`: the list on a page of its own. */
export function ArtifactPromotionsPage(props: { artifactId: string }): JSX.Element {
  return (
    <Page title={`Promotions of artifact ${short(props.artifactId)}`}>
      <p>
        <Link href={`/artifacts/${encodeURIComponent(props.artifactId)}`}>Back to the artifact</Link>
      </p>
      <PromotionsList artifactId={props.artifactId} />
    </Page>
  );
}
