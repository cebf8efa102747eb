/**
 * The HTTP half of `aegis drift sample`: each step through the public API as any client would
 * take it (train --record and register, promote, predict and feedback, drift runs, reports and
 * suggestions), so the drill exercises the real path.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AegisClient } from '../http/client.js';
import { resolveCodeRef } from '../training/provenance.js';
import { recordTraining, type Reporter } from '../training/record.js';
import type { DriftReportRecord, DriftRun, RetrainSuggestion } from '../../modules/drift/records.js';
import type { PredictReply, PromotionReply, RegisterReply } from '../../platform/http/schemas.js';
import { CliError } from './context.js';
import type { Request } from './drift-sample-streams.js';
import { parseDatasetSpecs, registerRecorded } from './training-commands.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const enc = encodeURIComponent;

/** Polls `read` every `everyMs` until `done`, at most `timeoutMs`; the last value either way. */
export async function poll<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() >= deadline) return v;
    await sleep(everyMs);
  }
}

export interface Trained {
  registration: RegisterReply;
  artifactSha256: string;
  manifestPath: string;
}

/** `train --record --register` of the sample with the built-in trainer, into `work`. */
export async function trainSample(
  api: AegisClient,
  reporter: Reporter,
  o: { model: string; data: string; seed: number; work: string; containerDigest: string; codeRef?: string | undefined },
): Promise<Trained> {
  const cwd = process.cwd();
  const datasets = await parseDatasetSpecs([`sample=${o.data}`]);
  // a drill runs from whatever checkout it is in: a dirty tree is recorded (environment.gitDirty), not refused
  const code = await resolveCodeRef(cwd, { given: o.codeRef, allowDirty: true });
  const outDir = join(o.work, 'model');
  const artifactPath = join(o.work, 'model.tar.gz');
  const manifestPath = join(o.work, 'model.manifest.json');
  await mkdir(o.work, { recursive: true });
  const result = await recordTraining({
    modelName: o.model,
    datasets,
    cmd: undefined,
    hyperparams: {},
    seed: o.seed,
    code,
    containerDigest: o.containerDigest,
    outDir,
    artifactPath,
    cwd,
    reporter,
  });
  const { registration } = await registerRecorded(api, reporter, {
    modelName: o.model,
    datasets: result.manifest.datasetRefs,
    artifactPath,
    manifest: result.manifest,
    manifestPath,
  });
  return { registration, artifactSha256: result.manifest.artifactSha256, manifestPath };
}

const UNSETTLED = new Set(['rolling_out']);

/** Promotes with no canary stage and waits until it is applied: anything but `succeeded` stops the drill. */
export async function promoteNow(api: AegisClient, artifactId: string, env: string, timeoutMs = 120_000): Promise<PromotionReply> {
  const p = await api.request<PromotionReply>('POST', `/v1/artifacts/${enc(artifactId)}/promote`, {
    targetEnv: env,
    reason: 'aegis drift sample: the drift drill',
    canary: { steps: 0 },
  });
  if (p.status === 'pending_multisig')
    throw new CliError(
      `promotion ${p.promotionId} to ${env} waits for approvals (${p.policyDecision.rules.join(', ')}): run the drill in staging or canary`,
    );
  const done = await poll(
    () => api.request<PromotionReply>('GET', `/v1/promotions/${enc(p.promotionId)}`),
    (x) => !UNSETTLED.has(x.status),
    timeoutMs,
  );
  if (done.status !== 'succeeded')
    throw new CliError(
      `promotion ${p.promotionId} to ${env} ended ${done.status} (${done.policyDecision.rules.join(', ')}), not succeeded`,
    );
  return done;
}

export interface Served {
  requests: number;
  rows: number;
  labels: number;
  artifacts: Set<string>;
}

/**
 * Sends the requests (`concurrency` at a time, in order within each worker), request ids
 * `<tag>-<i>`; the labelled ones' true labels go back as feedback in batches of 100.
 */
export async function serveStream(
  api: AegisClient,
  o: { model: string; env: string; tag: string; requests: readonly Request[]; concurrency?: number },
): Promise<Served> {
  const base = `/v1/serving/${enc(o.model)}/${enc(o.env)}`;
  const served: Served = { requests: 0, rows: 0, labels: 0, artifacts: new Set() };
  const feedback: { requestId: string; label: string }[] = [];
  const flush = async (all: boolean) => {
    while (feedback.length >= (all ? 1 : 100)) {
      const items = feedback.splice(0, 100);
      await api.request('POST', `${base}/feedback`, { items });
      served.labels += items.length;
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < o.requests.length) {
      const i = next++;
      const r = o.requests[i]!;
      const requestId = `${o.tag}-${i}`;
      const reply = await api.request<PredictReply>('POST', `${base}/predict`, { requestId, inputs: r.rows.map((x) => x.inputs) });
      served.requests += 1;
      served.rows += r.rows.length;
      served.artifacts.add(reply.artifactId);
      if (r.labelled) feedback.push({ requestId, label: r.rows[0]!.label });
      await flush(false);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  await flush(true);
  return served;
}

/** Requests a run over [from, to) and waits until it leaves `running`; its report when it made one. */
export async function runWindow(
  api: AegisClient,
  o: { model: string; env: string; from: Date; to: Date; timeoutMs: number },
): Promise<{ run: DriftRun; record: DriftReportRecord | undefined; report: Record<string, unknown> | undefined }> {
  const { run: started } = await api.request<{ run: DriftRun }>('POST', '/v1/drift/runs', {
    modelName: o.model,
    env: o.env,
    from: o.from.toISOString(),
    to: o.to.toISOString(),
  });
  const { run } = await poll(
    () => api.request<{ run: DriftRun }>('GET', `/v1/drift/runs/${enc(started.runId)}`),
    (x) => x.run.status !== 'running',
    o.timeoutMs,
  );
  if (run.status === 'running') throw new CliError(`drift run ${run.runId} still running after ${o.timeoutMs / 1000} s`);
  if (!run.reportId) return { run, record: undefined, report: undefined };
  const r = await api.request<{ record: DriftReportRecord; report: Record<string, unknown> }>(
    'GET',
    `/v1/drift/reports/${enc(run.reportId)}`,
  );
  return { run, record: r.record, report: r.report };
}

/** Every suggestion of the deployment (all pages) that names the artifact. */
export async function suggestionsOf(api: AegisClient, o: { model: string; env: string; artifactId: string }): Promise<RetrainSuggestion[]> {
  const out: RetrainSuggestion[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ model: o.model, env: o.env, limit: '500', ...(cursor ? { cursor } : {}) });
    const page: { suggestions: RetrainSuggestion[]; nextCursor: string | null } = await api.request('GET', `/v1/drift/suggestions?${q}`);
    out.push(...page.suggestions.filter((s) => s.servingArtifactId === o.artifactId));
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}
