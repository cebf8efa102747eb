import type { JSX } from 'preact';
import type { ModelsReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { Link, type Location } from '../router.js';
import { Async, Page, Pager, time, useApi } from '../ui.js';

/** Every model the caller's scope holds, a page at a time, newest registration first. */
export function ModelsPage(props: { loc: Location }): JSX.Element {
  const { loc } = props;
  const models = useApi<ModelsReply>(withQuery('/v1/registry/models', { limit: 50, cursor: loc.query.get('cursor') }));
  return (
    <Page title="Models">
      <Async
        loaded={models}
        what="the models"
        empty={(d) => d.items.length === 0 && 'No models yet: register one with npx aegis register.'}
      >
        {(d) => (
          <>
            <table>
              <caption class="sr-only">Registered models</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Latest version</th>
                  <th scope="col">Team</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((m) => (
                  <tr key={m.name}>
                    <td>
                      <Link href={`/models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
                    </td>
                    <td>v{m.latestVersion}</td>
                    <td>{m.team ?? '—'}</td>
                    <td>{time(m.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager loc={loc} nextCursor={d.nextCursor} />
          </>
        )}
      </Async>
    </Page>
  );
}
