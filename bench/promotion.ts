/**
 * Promotion request → rollout started, locally: POST /promote (SentinelNet evaluated,
 * record signed, audit events appended, state machine started in-process) until the
 * rollout's first state (StartCanary) has been entered, as the step records it (its
 * `entered_at`, the server's clock at ms resolution, read back after the request, not polled
 * for: a busy poll queued before the step's own statements on PGlite's one connection). Reference: GET /healthz round trips
 * in the same run. One promotion at a time: the next request is sent once the previous
 * rollout has ended (a staging rollout sets the route, then promotes fully), so each is
 * measured on a quiet server; rollouts wait out their real windows, as in production.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AegisClient } from '../lib/clients/http/client.js';
import { registerArtifact, registerDatasets } from '../lib/clients/http/registration.js';
import { loadCheckedConfig } from '../lib/platform/config.js';
import { startLocal } from '../lib/platform/composition/local-start.js';
import { envInt, ms, ratio, summarize, table } from './stats.js';
import { manifestFor, removeTree, tempDir } from './stack.js';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
export const promotionOptionsFromEnv = () => ({ promotions: envInt('BENCH_PROMOTIONS', 100) });

export async function promotionBench(o: ReturnType<typeof promotionOptionsFromEnv>, print: (l: string) => void): Promise<void> {
  print(`\n== 5. Promotion request → rollout started: ${o.promotions} staging promotions, one at a time ==`);
  const dataDir = await tempDir('promotion');
  const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'test' });
  const running = await startLocal(config, {
    logger: quiet,
  });
  try {
    const admin = new AegisClient({ baseUrl: running.url, token: running.newAdminToken! });
    const token = async (role: string) =>
      (await admin.request<{ token: string }>('POST', '/v1/tokens', { principal: `bench-${role}`, role })).token;
    const publisher = new AegisClient({ baseUrl: running.url, token: await token('publisher') });
    const promoter = new AegisClient({ baseUrl: running.url, token: await token('promoter') });
    const ids: string[] = [];
    for (let i = 0; i < o.promotions + 3; i++) {
      const bytes = randomBytes(4096);
      const file = join(dataDir, `a${i}.bin`);
      await writeFile(file, bytes);
      const manifest = manifestFor(`bench-promo-${i}`, createHash('sha256').update(bytes).digest('hex'), bytes.length);
      if (i === 0)
        await registerDatasets(
          publisher,
          manifest.datasetRefs.map((r) => ({ ...r, uri: 'file:///bench' })),
        );
      ids.push((await registerArtifact(publisher, { modelName: manifest.modelName, artifactPath: file, manifest })).artifactId);
    }
    const db = running.container.database.db;
    /**
     * When the promotion's StartCanary step was entered, as the step recorded it (`entered_at`,
     * the server's clock, ms): read back at a gentle pace, so the reading does not queue before
     * the steps' own statements on PGlite's one connection.
     */
    const startCanary = async (promotionId: string): Promise<number> => {
      for (;;) {
        const row = await db
          .selectFrom('promotion_steps')
          .select('entered_at')
          .where('promotion_id', '=', promotionId)
          .where('state', '=', 'StartCanary')
          .executeTakeFirst();
        if (row) return new Date(row.entered_at).getTime();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    /** Resolves once the promotion's rollout has ended (a staging one: its route set, then promoted fully). */
    const ended = async (promotionId: string) => {
      for (;;) {
        const row = await db.selectFrom('promotions').select('status').where('promotion_id', '=', promotionId).executeTakeFirstOrThrow();
        if (row.status !== 'rolling_out') return;
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const requestMs: number[] = [];
    const startedMs: number[] = [];
    for (const [i, artifactId] of ids.entries()) {
      const t0 = performance.now();
      const sentAt = performance.timeOrigin + t0; // the same clock as the step's entered_at
      const p = await promoter.request<{ promotionId: string }>('POST', `/v1/artifacts/${artifactId}/promote`, {
        targetEnv: 'staging',
        reason: 'bench',
      });
      const t1 = performance.now();
      const enteredAt = await startCanary(p.promotionId);
      await ended(p.promotionId);
      if (i >= 3) {
        // the first three warm up Cedar's wasm and the state machine runner
        requestMs.push(t1 - t0);
        startedMs.push(enteredAt - sentAt);
      }
    }
    const health: number[] = [];
    for (let i = 0; i < o.promotions; i++) {
      const t0 = performance.now();
      await admin.request('GET', '/healthz');
      health.push(performance.now() - t0);
    }
    const [h, r, s] = [summarize(health), summarize(requestMs), summarize(startedMs)];
    print(
      table(
        ['measurement', 'n', 'p50', 'p95', 'p50 vs healthz'],
        [
          ['GET /healthz (reference)', String(h.n), ms(h.p50), ms(h.p95), '1.00×'],
          ['POST /promote → 201', String(r.n), ms(r.p50), ms(r.p95), ratio(r.p50 / h.p50)],
          ['POST /promote → StartCanary entered', String(s.n), ms(s.p50), ms(s.p95), ratio(s.p50 / h.p50)],
        ],
      ),
    );
    print(`   rollout started p95: ${ms(s.p95)} (issue 25's goal ≤ 30 ms: ${s.p95 <= 30 ? 'met' : 'NOT met'})`);
    print('   context, not asserted: the seed\'s SLO is "promotion flow p95 < 2 s (assuming async gating)"');
  } finally {
    await running.close();
    await removeTree(dataDir);
  }
}
