import type { JSX } from 'preact';
import type { ArtifactReply, ModelsReply, VersionsReply } from '../../../lib/platform/http/schemas.js';
import { withQuery } from '../api.js';
import { hrefWith, Link, navigate, type Location } from '../router.js';
import { Async, Badge, Page, Pager, time, useApi } from '../ui.js';
import { byEnv } from './models.js';

/** A metric or manifest value as text: numbers to 4 significant decimals, the rest as JSON. */
export function show(v: unknown): string {
  if (v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A manifest as `path → text` (objects flattened with dots; arrays as JSON), without its metrics. */
export function flatten(v: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) if (!(prefix === '' && k === 'metrics')) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = show(v);
  return out;
}

const metricNames = (items: ArtifactReply[]): string[] => [...new Set(items.flatMap((a) => Object.keys(a.manifest.metrics ?? {})))].sort();

/** The two versions in `?a=&b=`: toggling one adds it (A first, then B) or removes it. */
function toggle(loc: Location, v: string): string {
  const a = loc.query.get('a');
  const b = loc.query.get('b');
  if (a === v) return hrefWith(loc, { a: b ?? undefined, b: undefined });
  if (b === v) return hrefWith(loc, { b: undefined });
  return a ? hrefWith(loc, { b: v }) : hrefWith(loc, { a: v });
}

function Versions(props: { model: string; loc: Location }): JSX.Element {
  const { model, loc } = props;
  const versions = useApi<VersionsReply>(
    withQuery(`/v1/registry/models/${encodeURIComponent(model)}/versions`, { limit: 50, cursor: loc.query.get('cursor') }),
  );
  const picked = [loc.query.get('a'), loc.query.get('b')];
  return (
    <Async loaded={versions} what="the versions" empty={(d) => d.items.length === 0 && 'This model has no versions.'}>
      {(d) => {
        const metrics = metricNames(d.items);
        return (
          <>
            <p class="muted">Newest first. Tick two versions to compare them.</p>
            <table>
              <caption class="sr-only">Versions of {model} with their metrics</caption>
              <thead>
                <tr>
                  <th scope="col">Compare</th>
                  <th scope="col">Version</th>
                  {metrics.map((m) => (
                    <th scope="col" key={m}>
                      {m}
                    </th>
                  ))}
                  <th scope="col">Registered</th>
                  <th scope="col">By</th>
                </tr>
              </thead>
              <tbody>
                {d.items.map((a) => (
                  <tr key={a.artifactId}>
                    <td>
                      <input
                        type="checkbox"
                        id={`cmp-${a.version}`}
                        aria-label={`compare v${a.version}`}
                        checked={picked.includes(String(a.version))}
                        onChange={() => navigate(toggle(loc, String(a.version)), true)}
                      />
                    </td>
                    <th scope="row">
                      <Link href={`/artifacts/${a.artifactId}`}>v{a.version}</Link>
                    </th>
                    {metrics.map((m) => (
                      <td key={m}>{show(a.manifest.metrics?.[m])}</td>
                    ))}
                    <td>{time(a.createdAt)}</td>
                    <td>{a.createdBy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager loc={loc} nextCursor={d.nextCursor} />
          </>
        );
      }}
    </Async>
  );
}

function DiffRows(props: { rows: [string, string, string][]; label: (k: string) => string }): JSX.Element {
  return (
    <>
      {props.rows.map(([k, x, y]) => (
        <tr key={k} class={x === y ? '' : 'differs'}>
          <th scope="row">
            {props.label(k)} {x === y ? null : <Badge tone="warn">differs</Badge>}
          </th>
          <td>{x}</td>
          <td>{y}</td>
        </tr>
      ))}
    </>
  );
}

/** Two versions side by side: every metric (those that differ marked), and the manifest fields that differ. */
function Compare(props: { model: string; a: string; b: string; loc: Location }): JSX.Element {
  const base = `/v1/registry/models/${encodeURIComponent(props.model)}/versions`;
  const a = useApi<ArtifactReply>(`${base}/${encodeURIComponent(props.a)}`);
  const b = useApi<ArtifactReply>(`${base}/${encodeURIComponent(props.b)}`);
  return (
    <section aria-labelledby="compare-title">
      <h2 id="compare-title">
        Compare v{props.a} and v{props.b}
      </h2>
      <Link href={hrefWith(props.loc, { a: undefined, b: undefined })}>Clear the comparison</Link>
      <Async loaded={a} what={`v${props.a}`}>
        {(x) => (
          <Async loaded={b} what={`v${props.b}`}>
            {(y) => {
              const metrics = metricNames([x, y]).map((m): [string, string, string] => [
                m,
                show(x.manifest.metrics?.[m]),
                show(y.manifest.metrics?.[m]),
              ]);
              const fx = flatten(x.manifest);
              const fy = flatten(y.manifest);
              const fields = [...new Set([...Object.keys(fx), ...Object.keys(fy)])]
                .sort()
                .map((k): [string, string, string] => [k, fx[k] ?? '—', fy[k] ?? '—'])
                .filter(([, p, q]) => p !== q);
              return (
                <table class="compare">
                  <caption class="sr-only">
                    v{x.version} and v{y.version} side by side
                  </caption>
                  <thead>
                    <tr>
                      <th scope="col">Field</th>
                      <th scope="col">v{x.version}</th>
                      <th scope="col">v{y.version}</th>
                    </tr>
                  </thead>
                  <tbody>
                    <DiffRows rows={metrics} label={(k) => `metric ${k}`} />
                    <DiffRows rows={fields} label={(k) => `manifest ${k}`} />
                  </tbody>
                </table>
              );
            }}
          </Async>
        )}
      </Async>
    </section>
  );
}

/** Where the model serves: per environment the stable and canary (or shadow) artifacts and their traffic split. */
function Environments(props: { model: string }): JSX.Element {
  // the models list filtered by name gives this model's routes with their versions in one call
  const models = useApi<ModelsReply>(withQuery('/v1/registry/models', { q: props.model, limit: 500 }));
  return (
    <Async loaded={models} what="the environments">
      {(d) => {
        const envs = d.items.find((m) => m.name === props.model)?.environments ?? [];
        if (envs.length === 0) return <p class="state empty">Not serving in any environment.</p>;
        return (
          <table>
            <caption class="sr-only">What serves {props.model} in each environment</caption>
            <thead>
              <tr>
                <th scope="col">Environment</th>
                <th scope="col">Variant</th>
                <th scope="col">Artifact</th>
                <th scope="col">Traffic</th>
                <th scope="col">Set by promotion</th>
              </tr>
            </thead>
            <tbody>
              {byEnv(envs).flatMap(([env, entries]) =>
                entries.map((e) => (
                  <tr key={`${env}-${e.variant}`}>
                    <th scope="row">{env}</th>
                    <td>{e.variant}</td>
                    <td>
                      <Link href={`/artifacts/${e.artifactId}`}>{e.version === null ? e.artifactId : `v${e.version}`}</Link>
                    </td>
                    <td>
                      {e.traffic} %{e.variant === 'shadow' ? ' mirrored' : ''}
                    </td>
                    <td>{e.promotionId ? <Link href={`/promotions/${e.promotionId}`}>{e.promotionId.slice(0, 8)}</Link> : '—'}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        );
      }}
    </Async>
  );
}

/** One model: where it serves, its versions newest first with their metrics, two of them compared. */
export function ModelPage(props: { name: string; loc: Location }): JSX.Element {
  const { name, loc } = props;
  const a = loc.query.get('a');
  const b = loc.query.get('b');
  return (
    <Page title={`Model ${name}`}>
      <h2>Environments</h2>
      <Environments model={name} />
      {a && b ? <Compare model={name} a={a} b={b} loc={loc} /> : null}
      <h2>Versions</h2>
      <Versions model={name} loc={loc} />
    </Page>
  );
}
