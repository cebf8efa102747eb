import type { JSX } from 'preact';
import type { ModelsReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { hrefWith, Link, navigate, type Location } from '../router.js';
import { Async, Page, Pager, time, useApi } from '../ui.js';

export type ModelEnvironment = ModelsReply['items'][number]['environments'][number];

/** What serves one environment, compactly: `v3 · 90 %`, `v4 canary · 10 %`. */
export function EnvServing(props: { entries: ModelEnvironment[] }): JSX.Element {
  return (
    <>
      {props.entries.map((e, i) => (
        <span key={`${e.variant}-${e.artifactId}`}>
          {i > 0 ? ' · ' : ''}
          <Link href={`/artifacts/${e.artifactId}`}>{e.version === null ? e.artifactId.slice(0, 8) : `v${e.version}`}</Link>
          {e.variant === 'stable' ? '' : ` ${e.variant}`} {e.traffic} %
        </span>
      ))}
    </>
  );
}

/** The environments a model serves in, in the API's order (by name), each with its entries. */
export function byEnv(entries: ModelEnvironment[]): [string, ModelEnvironment[]][] {
  const out = new Map<string, ModelEnvironment[]>();
  for (const e of entries) out.set(e.env, [...(out.get(e.env) ?? []), e]);
  return [...out];
}

function Search(props: { loc: Location }): JSX.Element {
  const q = props.loc.query.get('q') ?? '';
  const onSubmit = (e: Event) => {
    e.preventDefault();
    const value = String(new FormData(e.currentTarget as HTMLFormElement).get('q') ?? '').trim();
    navigate(hrefWith(props.loc, { q: value, cursor: undefined }));
  };
  return (
    <form role="search" class="search" onSubmit={onSubmit}>
      <label for="model-search">Search models</label>
      <input id="model-search" name="q" type="search" value={q} maxLength={128} placeholder="part of a name" />
      <button type="submit">Search</button>
      {q ? <Link href={hrefWith(props.loc, { q: undefined, cursor: undefined })}>Clear</Link> : null}
    </form>
  );
}

/** Every model the caller's scope holds (or those matching the search), a page at a time, by name; what serves each where. */
export function ModelsPage(props: { loc: Location }): JSX.Element {
  const { loc } = props;
  const q = loc.query.get('q');
  const models = useApi<ModelsReply>(withQuery('/v1/registry/models', { limit: 50, cursor: loc.query.get('cursor'), q }));
  return (
    <Page title="Models">
      <Search key={q ?? ''} loc={loc} />
      <Async
        loaded={models}
        what="the models"
        empty={(d) =>
          d.items.length === 0 && (q ? `No model's name contains “${q}”.` : 'No models yet: register one with npx aegis register.')
        }
      >
        {(d) => (
          <>
            <table>
              <caption class="sr-only">Registered models{q ? ` whose name contains ${q}` : ''}</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Latest version</th>
                  <th scope="col">Serving</th>
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
                    <td>
                      {m.environments.length === 0 ? (
                        <span class="muted">not serving</span>
                      ) : (
                        <ul class="plain">
                          {byEnv(m.environments).map(([env, entries]) => (
                            <li key={env}>
                              <strong>{env}</strong>: <EnvServing entries={entries} />
                            </li>
                          ))}
                        </ul>
                      )}
                    </td>
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
