import type { JSX } from 'preact';
import type { KeysReply } from '../../../lib/platform/http/schemas.js';
import { Async, Badge, Page, time, useApi } from '../ui.js';

type Key = KeysReply['keys'][number];

function keyState(k: Key, now: number): { tone: 'ok' | 'bad' | 'warn' | 'info'; label: string } {
  if (k.revokedAt) return { tone: 'bad', label: 'revoked' };
  if (k.notAfter && Date.parse(k.notAfter) <= now) return { tone: 'warn', label: 'retired' };
  if (Date.parse(k.notBefore) > now) return { tone: 'info', label: 'not yet valid' };
  return { tone: 'ok', label: 'active' };
}

/** The key ring: every key with its purpose, validity window and revocation. */
export function KeysPage(): JSX.Element {
  const keys = useApi<KeysReply>('/v1/keys');
  const now = Date.now();
  return (
    <Page title="Keys">
      <Async loaded={keys} what="the key ring" empty={(d) => d.keys.length === 0 && 'The key ring is empty.'}>
        {(d) => (
          <table>
            <caption class="sr-only">Signing and approver keys</caption>
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Purpose</th>
                <th scope="col">Owner</th>
                <th scope="col">Backend</th>
                <th scope="col">Valid from</th>
                <th scope="col">Valid until</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {d.keys.map((k) => {
                const s = keyState(k, now);
                return (
                  <tr key={k.kid}>
                    <td>
                      <code>{k.kid}</code>
                    </td>
                    <td>{k.purpose}</td>
                    <td>{k.owner ?? '—'}</td>
                    <td>{k.backend}</td>
                    <td>{time(k.notBefore)}</td>
                    <td>{time(k.notAfter)}</td>
                    <td>
                      <Badge tone={s.tone}>{s.label}</Badge>
                      {k.revokedAt ? <span class="muted"> {time(k.revokedAt)}</span> : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Async>
    </Page>
  );
}
