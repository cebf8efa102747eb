/**
 * Issue 9: two local servers on one PostgreSQL database, one of them killed with SIGKILL at a
 * deterministic point (inside the rollout's evaluate transaction, before its commit) through
 * the test-only AEGIS_TEST_KILL_AT hook. One rollout, one runner at a time: the survivor takes
 * the rollout over once the dead server's lease expired, and only then.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serve, type Server } from '../support/server-process.js';
import { createTestDatabase } from '../support/postgres.js';
import { uploadAndRegister, type Stack } from '../support/local-stack.js';

// generous against a loaded machine: a step slower than the lease would (rightly) be taken over
const LEASE_SECONDS = 5;
const WINDOW_SECONDS = 2;
const MODEL = 'two-servers';

/** Healthy arms, split 50/50 as the route does: the canary should pass and be promoted. */
function recording(from: number, seconds: number) {
  const samples: Record<string, unknown>[] = [];
  const perSecond = 150;
  for (let i = 0; i < seconds * perSecond; i++) {
    const at = new Date(from + Math.floor((i * 1000) / perSecond)).toISOString();
    const latencyMs = 30 + ((i * 37) % 40);
    for (const variant of ['stable', 'canary'])
      samples.push({ deploymentKey: `${MODEL}/canary`, variant, at, latencyMs, error: false, correct: i % 10 !== 0 });
  }
  return { samples };
}

const testDb = await createTestDatabase();

(testDb ? describe : describe.skip)('two local servers on one PostgreSQL database', () => {
  let dataDir: string;
  let env: Record<string, string>;
  const servers: Server[] = [];
  let db: pg.Client;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aegis-two-servers-'));
    const metricsFile = join(dataDir, 'canary-metrics.json');
    await writeFile(metricsFile, JSON.stringify(recording(Date.now() - 10_000, 240)));
    env = {
      NODE_ENV: 'test',
      DEV_ALLOW_EPHEMERAL: 'true',
      AEGIS_DATA_DIR: dataDir,
      MODEL_REGISTRY_DATABASE_URL: testDb!.url,
      AEGIS_CANARY_METRICS_FILE: metricsFile,
      AEGIS_ROLLOUT_LEASE_SECONDS: String(LEASE_SECONDS),
    };
    db = new pg.Client({ connectionString: testDb!.url });
  });
  afterAll(async () => {
    for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await db?.end().catch(() => undefined);
    await testDb?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('kill -9 of the server driving a rollout: the other takes over once the lease expired and finishes it once, as its metrics dictate', async () => {
    // A dies inside its first evaluate transaction; B runs beside it from the start
    const a = await serve({ ...env, AEGIS_TEST_KILL_AT: 'rollout.evaluate.before-commit#1' });
    servers.push(a);
    const b = await serve(env);
    servers.push(b);
    await db.connect();
    const adminToken = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    const client = (url: string) =>
      ({
        url,
        async api(method: string, path: string, body?: unknown) {
          const res = await fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          return { status: res.status, body: (await res.json()) as any };
        },
      }) as unknown as Stack;

    const reg = await uploadAndRegister(client(a.url), MODEL, randomBytes(1200));
    expect(reg.status).toBe(201);
    const artifactId = reg.body.artifactId as string;
    const res = await client(a.url).api('POST', `/v1/registry/${artifactId}/promote`, {
      targetEnv: 'canary',
      reason: 'two servers',
      canary: { percent: 50, steps: 1, windowSeconds: WINDOW_SECONDS, minRequests: 100 },
    });
    expect(res.status).toBe(201);
    const promotionId = res.body.promotionId as string;

    // the fault point: A is killed with SIGKILL inside the evaluate step's transaction
    expect(await a.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(a.output()).toContain('AEGIS_TEST_KILL_AT: killed at rollout.evaluate.before-commit#1');

    let done: any;
    const deadline = Date.now() + 60_000;
    for (;;) {
      done = (await client(b.url).api('GET', `/v1/promotions/${promotionId}`)).body;
      if (done.status !== 'rolling_out') break;
      if (Date.now() > deadline) throw new Error(`still rolling out; server B said:\n${b.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // healthy metrics: promoted, and the route serves the artifact
    expect(done.status).toBe('succeeded');
    expect(
      (await db.query('select stable_artifact_id, canary_artifact_id, canary_percent from routes where model_name = $1', [MODEL])).rows,
    ).toEqual([{ stable_artifact_id: artifactId, canary_artifact_id: null, canary_percent: 0 }]);

    // one start, one judged window, one applied record: the killed evaluate left nothing behind
    const events = (
      await db.query('select type, payload from audit_events where subject = $1 order by seq', [`promotion:${promotionId}`])
    ).rows.map((e) => (e.type === 'promotion.step' ? JSON.parse(e.payload).action : e.type));
    expect(events).toEqual(['promotion.requested', 'start', 'evaluate', 'promotion.applied']);
    const verdicts = (await db.query('select verdict, window_from, window_to from canary_verdicts where promotion_id = $1', [promotionId]))
      .rows;
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0].verdict).toBe('pass');

    // one runner at a time: A's execution (token 1), then B's (token 2), never interleaved, no refused step
    const steps = (
      await db.query(
        'select state, runner, lease_token, entered_at, finished_at, error from promotion_steps where promotion_id = $1 order by step',
        [promotionId],
      )
    ).rows;
    expect(steps.every((s) => s.lease_token !== null)).toBe(true);
    const runners = [...new Set(steps.map((s) => s.runner))];
    expect(runners).toHaveLength(2);
    expect(steps.map((s) => s.lease_token)).toEqual(steps.map((s) => (s.runner === runners[0] ? 1 : 2)));
    expect(steps.map((s) => s.state)).toEqual(['StartCanary', 'Evaluate', 'StartCanary', 'Evaluate', 'PromoteFully']);
    const [aStart, aEvaluate, bStart] = steps;
    expect(aEvaluate.finished_at).toBeNull(); // killed mid-step
    // B took over only once A's lease expired (A renewed it when its evaluate began)
    expect(bStart.entered_at.getTime() - aEvaluate.entered_at.getTime()).toBeGreaterThanOrEqual(LEASE_SECONDS * 1000);
    // no step judged before its window: every evaluate began a full window after the stage started
    const stageStart = aStart.entered_at.getTime();
    for (const s of steps.filter((x) => x.state === 'Evaluate'))
      expect(s.entered_at.getTime() - stageStart).toBeGreaterThanOrEqual(WINDOW_SECONDS * 1000);
    expect(verdicts[0].window_to.getTime() - stageStart).toBeGreaterThanOrEqual(WINDOW_SECONDS * 1000);
    expect(await db.query('select holder, token from rollout_leases where promotion_id = $1', [promotionId]).then((r) => r.rows)).toEqual([
      { holder: runners[1], token: 2 },
    ]);

    expect((await client(b.url).api('GET', '/v1/audit/verify')).body.ok).toBe(true);
    // B says it took the rollout over
    expect(b.output()).toContain('resumed rollouts nobody held');
    expect(b.output()).toContain(promotionId);
  }, 180_000);
});
