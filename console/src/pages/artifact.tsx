import type { JSX } from 'preact';
import type { ArtifactReply, LineageReply, VerificationReply } from '../../../lib/platform/http/schemas.js';
import { LineageGraph } from '../lineage-graph.js';
import { Link } from '../router.js';
import { Async, Badge, Page, time, useApi } from '../ui.js';
import { show } from './model.js';
import { PromoteAction } from './promote-action.js';

/** The server's verification of the artifact: a badge naming each failed check, and every check. */
function Verification(props: { id: string }): JSX.Element {
  const report = useApi<VerificationReply>(`/v1/artifacts/${props.id}/validate`);
  return (
    <Async loaded={report} what="the verification">
      {(r) => {
        const failed = r.checks.filter((c) => !c.ok).map((c) => c.check);
        return (
          <>
            <p>
              {r.ok ? (
                <Badge tone="ok">Verified</Badge>
              ) : (
                <Badge tone="bad">Verification failed{failed.length ? `: ${failed.join(', ')}` : ''}</Badge>
              )}{' '}
              {r.quarantined ? (
                <Badge tone="bad">
                  Quarantined by {r.quarantined.quarantinedBy}: {r.quarantined.reason}
                </Badge>
              ) : null}
            </p>
            <table>
              <caption class="sr-only">Verification checks</caption>
              <thead>
                <tr>
                  <th scope="col">Check</th>
                  <th scope="col">Result</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {r.checks.map((c) => (
                  <tr key={c.check}>
                    <th scope="row">{c.check}</th>
                    <td>{c.ok ? <Badge tone="ok">passed</Badge> : <Badge tone="bad">failed</Badge>}</td>
                    <td>
                      {c.reason ?? ''}
                      {c.expected !== undefined ? (
                        <div class="muted">
                          expected <code>{String(c.expected)}</code>, found <code>{String(c.actual ?? '—')}</code>
                        </div>
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        );
      }}
    </Async>
  );
}

function Pairs(props: { caption: string; values: Record<string, unknown> }): JSX.Element {
  const entries = Object.entries(props.values);
  if (entries.length === 0) return <p class="muted">none</p>;
  return (
    <table>
      <caption class="sr-only">{props.caption}</caption>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td>{show(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The training manifest, readable (fields, metrics, hyperparameters, datasets) and as the exact JSON. */
function Manifest(props: { a: ArtifactReply }): JSX.Element {
  const m = props.a.manifest;
  return (
    <>
      <dl class="facts">
        <dt>Code</dt>
        <dd>
          <code>{m.codeRef}</code>
        </dd>
        <dt>Container</dt>
        <dd>
          <code>{m.containerDigest}</code>
        </dd>
        <dt>Training command</dt>
        <dd>
          <code>{m.trainingCmd}</code>
        </dd>
        <dt>Seed</dt>
        <dd>{m.seed}</dd>
        <dt>Datasets</dt>
        <dd>{m.datasetRefs.map((d) => `${d.id}@${d.version}`).join(', ') || '—'}</dd>
        <dt>Trained</dt>
        <dd>{time(m.createdAt)}</dd>
        {m.parent ? (
          <>
            <dt>Retrained from</dt>
            <dd>
              <Link href={`/artifacts/${m.parent.artifactId}`}>{m.parent.artifactId}</Link>
            </dd>
          </>
        ) : null}
      </dl>
      <div class="grid">
        <div>
          <h3>Metrics</h3>
          <Pairs caption="Metrics" values={m.metrics ?? {}} />
        </div>
        <div>
          <h3>Hyperparameters</h3>
          <Pairs caption="Hyperparameters" values={m.hyperparams} />
        </div>
        <div>
          <h3>Environment</h3>
          <Pairs caption="Training environment" values={m.environment} />
        </div>
      </div>
      <details>
        <summary>Raw manifest JSON</summary>
        <pre tabIndex={0}>{JSON.stringify(m, null, 2)}</pre>
      </details>
    </>
  );
}

function Lineage(props: { a: ArtifactReply }): JSX.Element {
  const lineage = useApi<LineageReply>(`/v1/lineage/${props.a.artifactId}`);
  return (
    <>
      <p>
        <a href={`/v1/lineage/${props.a.artifactId}/bundle`} download={`lineage-${props.a.modelName}-v${props.a.version}.json`}>
          Download the offline lineage bundle
        </a>{' '}
        <span class="muted">(signed JSON: every file by name; write them out and check with aegis verify-bundle)</span>
      </p>
      <Async loaded={lineage} what="the lineage">
        {(l) => <LineageGraph lineage={l} title={`Lineage of ${props.a.modelName} v${props.a.version}`} />}
      </Async>
    </>
  );
}

/** One artifact (a model version): its record, the server's verification, the manifest and the lineage. */
export function ArtifactPage(props: { id: string }): JSX.Element {
  const artifact = useApi<ArtifactReply>(`/v1/artifacts/${encodeURIComponent(props.id)}`);
  return (
    <Async loaded={artifact} what="the artifact">
      {(a) => (
        <Page title={`${a.modelName} v${a.version}`}>
          <dl class="facts">
            <dt>Model</dt>
            <dd>
              <Link href={`/models/${encodeURIComponent(a.modelName)}`}>{a.modelName}</Link>
            </dd>
            <dt>Artifact</dt>
            <dd>
              <code>{a.artifactId}</code>
            </dd>
            <dt>sha256</dt>
            <dd>
              <code>{a.sha256}</code>
            </dd>
            <dt>Size</dt>
            <dd>{a.size.toLocaleString()} bytes</dd>
            <dt>Signed by</dt>
            <dd>
              <code>{a.signature.signerId}</code> ({a.signature.alg}, {time(a.signature.ts)})
            </dd>
            <dt>Registered</dt>
            <dd>
              {time(a.createdAt)} by {a.createdBy}
            </dd>
          </dl>
          <PromoteAction artifactId={a.artifactId} modelName={a.modelName} />
          <h2>Verification</h2>
          <Verification id={a.artifactId} />
          <h2>Manifest</h2>
          <Manifest a={a} />
          <h2>Lineage</h2>
          <Lineage a={a} />
        </Page>
      )}
    </Async>
  );
}
