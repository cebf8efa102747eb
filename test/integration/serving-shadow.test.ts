/**
 * Shadow mirroring and blue-green warm-up on the local stack, through the real HTTP server:
 * a candidate trained on flipped labels shadows the stable; every caller gets the stable
 * answer, the shadow's answers are serving events of their own (variant `shadow`, the same
 * request ids) that the agreement counts; half a share mirrors the requests the deterministic
 * sample picks; an unloadable shadow never fails a caller; a warm-up loads once, and routing
 * the warmed artifact needs no further load.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuiltinTrainer } from '../../lib/clients/training/builtin-trainer.js';
import { packDirectory } from '../../lib/clients/training/pack.js';
import { mirrored } from '../../lib/modules/serving/domain.js';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { settled } from '../promotion/support.js';

let stack: Stack;
let work: string;
let invoker: string;
const MODEL = 'shadowed';
const ENV = 'staging';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'aegis-shadow-'));
  stack = await startStack({ AEGIS_SERVING_ROUTE_CACHE_SECONDS: '0' });
  invoker = (await stack.api('POST', '/v1/tokens', { principal: 'checkout-app', role: 'invoker' })).body.token;
});
afterAll(async () => {
  await stack?.stop();
  await rm(work, { recursive: true, force: true });
});

/** The built-in trainer on the sample (labels flipped for a candidate that answers the other class), packed. */
async function trained(name: string, seed: number, flip = false): Promise<Buffer> {
  let data = join(process.cwd(), 'test/data/sample');
  if (flip) {
    data = join(work, `${name}-data`);
    await mkdir(data, { recursive: true });
    const [header, ...rows] = (await readFile(join(process.cwd(), 'test/data/sample/train.csv'), 'utf8')).trim().split('\n');
    const flipped = rows.map((r) => r.replace(/,([01])$/, (_, l: string) => `,${l === '0' ? '1' : '0'}`));
    await writeFile(join(data, 'train.csv'), `${[header, ...flipped].join('\n')}\n`);
  }
  const dir = join(work, name);
  await runBuiltinTrainer({ datasets: [{ id: 'sample', path: data }], outDir: dir, seed, hyperparams: {} });
  await packDirectory(dir, join(work, `${name}.tar.gz`));
  return readFile(join(work, `${name}.tar.gz`));
}

async function registered(bytes: Buffer): Promise<string> {
  const r = await uploadAndRegister(stack, MODEL, bytes);
  expect(r.status).toBe(201);
  return r.body.artifactId as string;
}

/** The route's shadow, set as the rollout sets it (the rollout engine is not what this suite tests). */
const setRoute = (values: { shadow_artifact_id?: string | null; shadow_percent?: number; stable_artifact_id?: string }) =>
  stack.container.database.db.updateTable('routes').set(values).where('model_name', '=', MODEL).where('env', '=', ENV).execute();

const row = (i: number) => ({ age: 20 + (i % 50), income: 30000 + 997 * i, ratio: (i % 10) / 10, weak_signal: 0.4, noise: 100 });
const predict = (requestId: string, i: number) =>
  fetch(`${stack.url}/v1/serving/${MODEL}/${ENV}/predict`, {
    method: 'POST',
    headers: { authorization: `Bearer ${invoker}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ inputs: [row(i)] }),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: (await r.json()) as any }));

const eventsOf = async (ids: string[]) => {
  await stack.container.serving.flush();
  return stack.container.database.db
    .selectFrom('serving_events')
    .selectAll()
    .where('request_id', 'in', ids)
    .orderBy('request_id')
    .execute();
};

describe('shadow strategy and blue-green warm-up on the local server', () => {
  let stable: string;
  let flipped: string;
  let promotionId: string;

  beforeAll(async () => {
    stable = await registered(await trained('stable', 7));
    flipped = await registered(await trained('flipped', 7, true));
    const p = await stack.api('POST', `/v1/registry/${stable}/promote`, { targetEnv: ENV, reason: 'test' });
    expect(p.status).toBe(201);
    expect((await settled(stack, p.body.promotionId as string, 30_000)).status).toBe('succeeded');
    promotionId = (await stack.container.rollout.route(MODEL, ENV)).promotionId!;
  }, 120_000);

  it('answers every caller with the stable; records the shadow answers under the same request ids; agreement counts them', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `shadow-all-${String(i).padStart(2, '0')}`);
    const before = await Promise.all(ids.map((_, i) => predict(`plain-${i}`, i)));
    const from = new Date(Date.now() - 1000);
    await setRoute({ shadow_artifact_id: flipped, shadow_percent: 100 });
    for (const [i, id] of ids.entries()) {
      const r = await predict(id, i);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-aegis-artifact-id')).toBe(stable);
      expect(r.body).toMatchObject({ variant: 'stable', artifactId: stable, requestId: id });
      expect(r.body.predictions).toEqual(before[i]!.body.predictions); // exactly what the stable answers
    }
    const to = new Date(Date.now() + 1000);
    const events = await eventsOf(ids);
    const shadow = events.filter((e) => e.variant === 'shadow');
    const routed = new Map(events.filter((e) => e.variant === 'stable').map((e) => [e.request_id, e]));
    expect(shadow.map((e) => e.request_id)).toEqual(ids);
    expect(shadow.every((e) => e.artifact_id === flipped && !e.error && e.promotion_id === promotionId)).toBe(true);
    const label = (p: string | null) => (JSON.parse(p!) as { label: string }[])[0]!.label;
    const agreed = shadow.filter((e) => label(e.prediction) === label(routed.get(e.request_id)!.prediction)).length;
    expect(agreed).toBeLessThan(ids.length / 2); // trained on flipped labels: it mostly answers the other class
    const m = stack.container.serving.metrics;
    expect(await m.agreement(`${MODEL}/${ENV}`, stable, flipped, from, to)).toEqual({ compared: ids.length, agreed });
    expect(await m.window(`${MODEL}/${ENV}`, 'shadow', flipped, from, to)).toMatchObject({ requests: ids.length, errors: 0 });
  });

  it('mirrors at 50 % exactly the requests the deterministic sample picks', async () => {
    await setRoute({ shadow_artifact_id: flipped, shadow_percent: 50 });
    const ids = Array.from({ length: 120 }, (_, i) => `shadow-half-${i}`);
    for (const [i, id] of ids.entries()) expect((await predict(id, i)).status).toBe(200);
    const picked = ids.filter((id) =>
      mirrored({ modelName: MODEL, env: ENV, stable, canary: null, percent: 0, promotionId, shadow: flipped, shadowPercent: 50 }, id),
    );
    expect(picked.length).toBeGreaterThan(40);
    expect(picked.length).toBeLessThan(80);
    const shadowed = (await eventsOf(ids)).filter((e) => e.variant === 'shadow').map((e) => e.request_id);
    expect(shadowed.sort()).toEqual(picked.sort());
  });

  it('never fails a caller for an unloadable shadow: its answers are shadow errors, its refusal audited', async () => {
    const pickled = join(work, 'pickled');
    await mkdir(pickled, { recursive: true });
    await writeFile(join(pickled, 'model.pkl'), 'not a model');
    await packDirectory(pickled, join(work, 'pickled.tar.gz'));
    const refused = await registered(await readFile(join(work, 'pickled.tar.gz')));
    await setRoute({ shadow_artifact_id: refused, shadow_percent: 100 });
    const ids = ['bad-shadow-1', 'bad-shadow-2', 'bad-shadow-3'];
    for (const [i, id] of ids.entries()) {
      const r = await predict(id, i);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ variant: 'stable', artifactId: stable });
    }
    const shadow = (await eventsOf(ids)).filter((e) => e.variant === 'shadow');
    expect(shadow.map((e) => [e.request_id, e.artifact_id, e.error, e.prediction])).toEqual(ids.map((id) => [id, refused, true, null]));
    const audit = (await stack.api('GET', `/v1/audit?type=serving.refused&subject=artifact:${refused}`)).body.items;
    expect(audit).toHaveLength(1);
    expect(audit[0].payload).toMatchObject({ variant: 'shadow', code: 'UNSUPPORTED_FORMAT', env: ENV });

    // a warm-up of it is not ok, naming the refusal
    expect(await stack.container.serving.warmUp({ modelName: MODEL, env: ENV, artifactId: refused, requests: 3 })).toEqual({
      ok: false,
      answered: 0,
      requests: 3,
      inputs: 'synthetic',
      reason: expect.stringMatching(new RegExp(`^artifact ${refused} is refused \\(UNSUPPORTED_FORMAT\\): no runtime accepts`)),
    });
    await setRoute({ shadow_artifact_id: null, shadow_percent: 0 });
  });

  it('warms a green artifact with one load, and the switch to it and back needs no further load', async () => {
    const green = await registered(await trained('green', 11));
    const serving = stack.container.serving;
    const loads = serving.modelLoads;
    expect(await serving.warmUp({ modelName: MODEL, env: ENV, artifactId: green, requests: 5 })).toEqual({
      ok: true,
      answered: 5,
      requests: 5,
      inputs: 'synthetic',
    });
    expect(serving.modelLoads).toBe(loads + 1);
    await setRoute({ stable_artifact_id: green });
    const switched = await predict('green-1', 1);
    expect(switched.body).toMatchObject({ artifactId: green });
    await setRoute({ stable_artifact_id: stable }); // a rollback within the hold
    expect((await predict('blue-again-1', 1)).body).toMatchObject({ artifactId: stable });
    expect(serving.modelLoads).toBe(loads + 1);
    const cold = (await eventsOf(['green-1', 'blue-again-1'])).map((e) => [e.request_id, e.variant, e.cold]);
    expect(cold).toEqual([
      ['blue-again-1', 'stable', false],
      ['green-1', 'stable', false],
    ]);
    const metrics = await fetch(`${stack.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(new RegExp(`ai_infra_serving_model_loads_total\\{env="${ENV}",variant="warm-up"\\} 1\\b`));
    expect(metrics).toMatch(new RegExp(`ai_infra_serving_model_loads_total\\{env="${ENV}",variant="shadow"\\} 2\\b`));
  });
});
