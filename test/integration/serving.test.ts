/**
 * Issue 17 on the local stack: built-in train → register → promote → predict through the real
 * HTTP server; artifacts that fail a check at load (tampered bytes, an edited manifest in
 * storage, an unknown signer, an unsupported format) refused with 503 and `serving.refused`,
 * never answering; a canary promotion judged by the SQL metrics of real predicted traffic.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { settled } from '../promotion/support.js';
import { aegisCli } from '../support/spawn.js';
import { flipByte, storedVersionFile } from '../support/tamper.js';

let stack: Stack;
let work: string;
let invoker: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-serving-'));
  // routes read on every request: a canary stage of 3 s sees its split at once
  stack = await startStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '0' });
  invoker = (await stack.api('POST', '/v1/tokens', { principal: 'checkout-app', role: 'invoker' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

/** A packed folder of `files` (a trained model, or anything else). */
async function packed(name: string, files: Record<string, string>): Promise<Buffer> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
  await packDirectory(dir, join(work, `${name}.tar.gz`));
  return readFile(join(work, `${name}.tar.gz`));
}

/** The built-in trainer on the sample, packed as `aegis train` packs it. */
async function trained(name: string, seed: number): Promise<Buffer> {
  const dir = join(work, name);
  await runBuiltinTrainer({
    datasets: [{ id: 'sample', path: join(process.cwd(), 'test/data/sample') }],
    outDir: dir,
    seed,
    hyperparams: {},
  });
  await packDirectory(dir, join(work, `${name}.tar.gz`));
  return readFile(join(work, `${name}.tar.gz`));
}

async function registered(model: string, bytes: Buffer): Promise<string> {
  const r = await uploadAndRegister(stack, model, bytes);
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}

async function promoted(artifactId: string, targetEnv: string, canary?: Record<string, unknown>) {
  const r = await stack.api('POST', `/v1/registry/${artifactId}/promote`, { targetEnv, reason: 'test', ...(canary ? { canary } : {}) });
  expect(r.status).toBe(201);
  return settled(stack, r.body.promotionId as string, 30_000);
}

const ROW = { age: 41.2, income: 52000, ratio: 0.7, weak_signal: 0.4, noise: 100.1 };
const predict = (model: string, env: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  fetch(`${stack.url}/v1/serving/${model}/${env}/predict`, {
    method: 'POST',
    headers: { authorization: `Bearer ${invoker}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any }));

const auditOf = async (type: string, artifactId: string) =>
  (await stack.api('GET', `/v1/audit?type=${type}&subject=artifact:${artifactId}`)).body.items as { payload: Record<string, unknown> }[];

describe('POST /v1/serving/{model}/{env}/predict', () => {
  let artifactId: string;

  beforeAll(async () => {
    artifactId = await registered('churn', await trained('churn-v1', 7));
    expect((await promoted(artifactId, 'staging')).status).toBe('succeeded');
  });

  it('answers with the promoted artifact, naming it and its signature in the headers', async () => {
    const r = await predict('churn', 'staging', { inputs: [ROW, [30, 40000, 0.2, 0.9, 99]] }, { 'x-request-id': 'req-first-1' });
    expect(r.status).toBe(200);
    expect(r.body.predictions).toHaveLength(2);
    expect(['0', '1']).toContain(r.body.predictions[0].label);
    const p = r.body.predictions[0].probabilities;
    expect(p['0'] + p['1']).toBeCloseTo(1, 12);
    const record = (await stack.api('GET', `/v1/artifacts/${artifactId}`)).body;
    expect(r.headers.get('x-aegis-artifact-id')).toBe(artifactId);
    expect(r.headers.get('x-aegis-variant')).toBe('stable');
    expect(r.headers.get('x-aegis-manifest-signature-id')).toBe(record.signature.manifestSignatureId);
    expect(r.headers.get('x-request-id')).toBe('req-first-1');
    expect(r.body).toMatchObject({ requestId: 'req-first-1', artifactId, variant: 'stable', model: 'churn', env: 'staging' });
    // the first load in staging is a serving deployment, audited once however many requests follow
    expect((await predict('churn', 'staging', { inputs: [ROW] })).status).toBe(200);
    const verified = await auditOf('serving.verified', artifactId);
    expect(verified).toHaveLength(1);
    expect(verified[0]!.payload).toMatchObject({
      env: 'staging',
      format: 'aegis.logreg/v1',
      manifestSignatureId: record.signature.manifestSignatureId,
    });
    // lineage shows where it verified and served
    const lineage = (await stack.api('GET', `/v1/lineage/${artifactId}`)).body;
    expect(lineage.served).toEqual([
      {
        env: 'staging',
        manifestSignatureId: record.signature.manifestSignatureId,
        format: 'aegis.logreg/v1',
        verifiedAt: verified[0]!.payload.verifiedAt,
      },
    ]);
  });

  it('records one serving event per request, the first one cold', async () => {
    await stack.container.serving.metrics.window('churn/staging', 'stable', artifactId, new Date(0), new Date(Date.now() + 1000));
    const rows = await stack.container.database.db
      .selectFrom('serving_events')
      .selectAll()
      .where('artifact_id', '=', artifactId)
      .orderBy('at')
      .execute();
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.find((r) => r.request_id === 'req-first-1')).toMatchObject({
      deployment_key: 'churn/staging',
      variant: 'stable',
      error: false,
      cold: true,
    });
    expect(rows.filter((r) => r.cold)).toHaveLength(1);
  });

  it.each([
    [{ inputs: [ROW, ROW, ROW, { ...ROW, age: 'old' }] }, 'inputs[3].age'],
    [{ inputs: [{ ...ROW, height: 180 }] }, 'inputs[0].height'],
    [{ inputs: [[1, 2, 3]] }, 'inputs[0]'],
    [{ inputs: Array.from({ length: 1001 }, () => [1, 2, 3, 4, 5]) }, 'inputs'],
    [{ inputs: [ROW], surprise: 1 }, 'surprise'],
  ])('refuses bad input with 400 naming the field (%#), not as a model error', async (body, field) => {
    const r = await predict('churn', 'staging', body);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field });
  });

  it('aegis predict reads a CSV or JSON file and prints the predictions with the artifact and variant', async () => {
    const env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: invoker };
    const csv = join(work, 'rows.csv');
    await writeFile(csv, `${Object.keys(ROW).join(',')}\n${Object.values(ROW).join(',')}\n30,40000,0.2,0.9,99\n`);
    const r = await aegisCli(['predict', '--model', 'churn', '--env', 'staging', '--input', csv, '--subject', 'user-7'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`2 prediction(s) by churn in staging: stable artifact ${artifactId}`);
    expect(r.stdout).toMatch(/\[1\] [01] \(0 0\.\d{4}, 1 0\.\d{4}\)/);
    const json = join(work, 'rows.json');
    await writeFile(json, JSON.stringify({ inputs: [ROW, { ...ROW, age: 'old' }] }));
    const bad = await aegisCli(['predict', '--model', 'churn', '--env', 'staging', '--input', json], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('inputs[1].age');
    await writeFile(json, JSON.stringify([ROW]));
    const ok = JSON.parse((await aegisCli(['predict', '--model', 'churn', '--env', 'staging', '--input', json, '--json'], env)).stdout);
    expect(ok).toMatchObject({ artifactId, variant: 'stable', predictions: [{ label: expect.any(String) }] });
  });

  it('answers 404 where nothing serves, and only to invokers and admins', async () => {
    expect((await predict('churn', 'prod', { inputs: [ROW] })).body.error).toMatchObject({ code: 'NOT_FOUND', field: 'env' });
    const reader = (await stack.api('POST', '/v1/tokens', { principal: 'worker', role: 'reader' })).body.token;
    const r = await predict('churn', 'staging', { inputs: [ROW] }, { authorization: `Bearer ${reader}` });
    expect(r.status).toBe(403);
    // an invoker reads nothing else
    expect((await stack.api('GET', `/v1/artifacts/${artifactId}`, undefined, { token: invoker })).status).toBe(403);
  });
});

describe('artifacts that fail a check at load are never served', () => {
  /** Promotes, breaks it with `tamper`, then predicts twice: 503 with the code, one serving.refused. */
  async function expectRefused(model: string, bytes: Buffer, code: string, tamper: (artifactId: string) => Promise<void>) {
    const artifactId = await registered(model, bytes);
    expect((await promoted(artifactId, 'staging')).status).toBe('succeeded');
    await tamper(artifactId);
    for (let i = 0; i < 2; i++) {
      const r = await predict(model, 'staging', { inputs: [ROW] });
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe(code);
      expect(r.body.predictions).toBeUndefined();
    }
    const refused = await auditOf('serving.refused', artifactId);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.payload).toMatchObject({ code, env: 'staging', variant: 'stable' });
    expect(await auditOf('serving.verified', artifactId)).toEqual([]);
    return refused[0]!.payload;
  }

  it('refuses tampered bytes in the store', async () => {
    const p = await expectRefused('tampered', await trained('tampered', 8), 'ARTIFACT_UNVERIFIED', async (id) => {
      const { storage } = (await stack.api('GET', `/v1/artifacts/${id}`)).body;
      await flipByte(storedVersionFile(stack.dataDir, storage), -30);
    });
    expect(p.reason).toMatch(/sha256/);
  });

  it('refuses a manifest edited in storage', async () => {
    const p = await expectRefused('edited-manifest', await trained('edited', 9), 'ARTIFACT_UNVERIFIED', async (id) => {
      // Object Lock refuses a new version through the store: edit the stored version on disk
      const record = (await stack.api('GET', `/v1/artifacts/${id}`)).body;
      const dir = join(stack.dataDir, 'objects', 'keys', ...record.storage.manifestKey.split('/'), '@v');
      const [bin] = (await readdir(dir)).filter((f) => f.endsWith('.bin'));
      await chmod(join(dir, bin!), 0o644);
      await writeFile(join(dir, bin!), `${JSON.stringify({ ...record.manifest, metrics: { auc: 0.99 } })}\n`);
    });
    expect(p.reason).toMatch(/manifest in storage differs/);
  });

  it('refuses an artifact whose signer is not in the key ring', async () => {
    const p = await expectRefused('unknown-signer', await trained('unknown-signer', 10), 'ARTIFACT_UNVERIFIED', async (id) => {
      await stack.container.database.db
        .updateTable('manifest_signatures')
        .set({ signer_id: 'ghost-signer' })
        .where('artifact_id', '=', id)
        .execute();
    });
    expect(p.reason).toMatch(/signer/);
  });

  it('refuses an unsupported format (a pickle is never loaded)', async () => {
    const bytes = await packed('pickled', { 'model.pkl': 'cos\nsystem\n(S"echo pwned"\ntR.' });
    const p = await expectRefused('pickled', bytes, 'UNSUPPORTED_FORMAT', async () => undefined);
    expect(p.reason).toMatch(/no runtime accepts/);
  });
});

describe('aegis promote', () => {
  it('warns (not an error) when serving cannot load the artifact', async () => {
    const id = await registered('pickled-cli', await packed('pickled-cli', { 'model.pkl': 'x' }));
    const env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: stack.adminToken };
    const r = await aegisCli(['promote', '--artifact-id', id, '--env', 'staging', '--reason', 'try'], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('aegis: warning: not servable (UNSUPPORTED_FORMAT)');
  });

  it('does not warn for a servable artifact', async () => {
    const id = await registered('servable-cli', await trained('servable-cli', 12));
    const r = await stack.api('POST', `/v1/registry/${id}/promote`, { targetEnv: 'staging', reason: 'test' });
    expect(r.status).toBe(201);
    expect(r.body.warnings).toBeUndefined();
  });
});

describe('a canary judged by the serving events', () => {
  const CANARY = { percent: 50, steps: 1, windowSeconds: 3, minRequests: 20, maxInconclusive: 0 };

  /** Predicts with distinct request ids until the promotion settles; the variants that answered. */
  async function traffic(model: string, promotionId: string) {
    const seen = { stable: new Set<string>(), canary: new Set<string>() };
    let status = 'rolling_out';
    let n = 0;
    const failures: number[] = [];
    // four clients at once, so even a busy machine sends each arm its minimum within the window
    const client = async () => {
      while (status === 'rolling_out' && n < 20_000) {
        const i = n++;
        const r = await predict(model, 'canary', { inputs: [ROW], requestId: `${promotionId.slice(0, 8)}-${i}` });
        if (r.status !== 200) failures.push(r.status);
        else seen[r.body.variant as 'stable' | 'canary'].add(r.body.artifactId);
        if (i % 20 === 19) status = (await stack.api('GET', `/v1/promotions/${promotionId}`)).body.status;
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    expect(failures).toEqual([]);
    return { seen, promotion: await settled(stack, promotionId, 30_000) };
  }

  async function startCanary(model: string, bytes: Buffer, canary = CANARY) {
    const candidate = await registered(model, bytes);
    const r = await stack.api('POST', `/v1/registry/${candidate}/promote`, { targetEnv: 'canary', reason: 'test', canary });
    expect(r.status).toBe(201);
    return { candidate, promotionId: r.body.promotionId as string };
  }

  it('promotes a healthy canary on real traffic split by the assignment', async () => {
    const stable = await registered('fraud', await trained('fraud-v1', 21));
    expect((await promoted(stable, 'canary', { steps: 0 })).status).toBe('succeeded');
    // a busy machine may send a 3 s window too little traffic: two inconclusive windows may pass before the judge decides
    const { candidate, promotionId } = await startCanary('fraud', await trained('fraud-v2', 22), { ...CANARY, maxInconclusive: 2 });
    const { seen, promotion } = await traffic('fraud', promotionId);
    // the verdicts' details say why, should a busy machine's latency ever fail it
    const why = promotion.verdicts.map((v: { verdict: string; detail: string }) => `${v.verdict}: ${v.detail}`);
    if (promotion.status !== 'succeeded') throw new Error(`the healthy canary ended ${promotion.status}: ${why.join(' | ')}`);
    expect([...seen.canary]).toEqual([candidate]);
    // the candidate answers as the stable once promoted fully (the traffic runs until the promotion settles)
    expect(seen.stable.has(stable)).toBe(true);
    // the last window passed; a busy machine may first judge one inconclusive (too little traffic), never failed
    const verdicts = promotion.verdicts as { verdict: string; requests: { canary: number; stable: number }; judgement: any }[];
    expect(verdicts.filter((v) => v.verdict === 'fail')).toEqual([]);
    const pass = verdicts.at(-1)!;
    expect(pass).toMatchObject({ verdict: 'pass' });
    expect(pass.requests.canary).toBeGreaterThanOrEqual(20);
    expect(pass.requests.stable).toBeGreaterThanOrEqual(20);
    // the judge read the latency histogram of warm requests
    expect(pass.judgement.metrics.latency.source).toBe('histogram');
  });

  it('keeps the stable serving when the canary is refused, and rolls the canary back for lack of traffic', async () => {
    const stable = await registered('risk', await trained('risk-v1', 31));
    expect((await promoted(stable, 'canary', { steps: 0 })).status).toBe('succeeded');
    const { candidate, promotionId } = await startCanary('risk', await packed('risk-pickle', { 'model.pkl': 'x' }));
    const { seen, promotion } = await traffic('risk', promotionId);
    expect(promotion.status).toBe('rolled_back');
    expect(seen.canary.size).toBe(0);
    expect([...seen.stable]).toEqual([stable]);
    expect((await auditOf('serving.refused', candidate))[0]!.payload).toMatchObject({ variant: 'canary', code: 'UNSUPPORTED_FORMAT' });
  });
});
