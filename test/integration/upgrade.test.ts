/**
 * Issue 12, "Upgrades keep working": a data folder and a PostgreSQL database written by an
 * earlier release (test/fixtures/upgrade/<commit>/, made by scripts/make-upgrade-fixture.ts
 * with that release's own server and CLI) open with the current code, migrate, and verify —
 * chain, artifacts, promotions —, take new work on top, and pass the DR drill.
 *
 * Aegis is driven only through its public surface: `tsx bin/server.ts`, the `aegis` CLI, the
 * HTTP API, environment variables and the DR drill script.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { apiClient, removeTree, type Api } from '../../scripts/dr-drill-steps.js';
import { auditEvents, registrySnapshot, type RegistrySnapshot } from '../../scripts/upgrade-snapshot.js';
import { freePort } from '../support/moto.js';
import { createTestDatabase } from '../support/postgres.js';
import { assertReply } from '../support/replies.js';
import { aegisCli, run } from '../support/spawn.js';
import { describeUnless, NO_POSTGRES } from '../support/unavailable.js';

const root = process.cwd();
const FIXTURES = join(root, 'test/fixtures/upgrade');
const fixtures = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, 'manifest.json')));

type Backend = 'pglite' | 'postgres';
interface Fixture {
  commitShort: string;
  policies: { riskTiers: Record<string, string> };
  backends: Record<Backend, RegistrySnapshot & { tokens: { publisher: string }; files: { dataFolder: string; database?: string } }>;
}

/** Nothing else may point Aegis elsewhere: the children get this process's environment less these. */
const CLEAN = {
  NODE_OPTIONS: undefined,
  MODEL_REGISTRY_DATABASE_URL: undefined,
  MODEL_REGISTRY_S3_BUCKET: undefined,
  AEGIS_AUDIT_ARCHIVE_BUCKET: undefined,
  AEGIS_TOKEN: undefined,
  AEGIS_URL: undefined,
};

interface Server {
  url: string;
  output: () => string;
  stop(): Promise<number | null>;
}

/** The current release's `tsx bin/server.ts`, as `npm start` runs it, waiting for its "listening on" line. */
async function serve(env: Record<string, string>): Promise<Server> {
  const { NODE_OPTIONS: _omit, ...base } = process.env;
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'bin/server.ts')], {
    env: { ...base, ...CLEAN, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start on the fixture:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Restores a plain-SQL pg_dump through the pg client (no psql needed); psql's meta-commands (\restrict …) are dropped. */
async function restoreDump(url: string, gz: string) {
  const sql = gunzipSync(await readFile(gz))
    .toString('utf8')
    .split('\n')
    .filter((l) => !l.startsWith('\\'))
    .join('\n');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A temp copy of the current SentinelNet policies with the fixture's risk tiers (its high-risk model needs 3 of 5 approvals for prod). */
async function policies(dir: string, riskTiers: Record<string, string>): Promise<string> {
  await cp(join(root, 'policies'), dir, { recursive: true });
  const cfg = JSON.parse(await readFile(join(dir, 'sentinelnet.json'), 'utf8'));
  cfg.riskTiers.models = riskTiers;
  // the new work below is judged by the real judge on no traffic: a shadow could never pass, so the
  // prod promotion runs without one (high-risk-prod-requires-shadow off; test/promotion covers it)
  cfg.shadow = { requiredForHighRiskProd: false };
  await writeFile(join(dir, 'sentinelnet.json'), JSON.stringify(cfg));
  return dir;
}

/** Every reply, from data the earlier release wrote too, checked against its route's reply schema. */
const checkedReplies =
  (api: Api): Api =>
  async (method, path, body) => {
    const r = await api(method, path, body);
    assertReply(method, path, r.status, r.body);
    return r;
  };

async function settled(api: Api, promotionId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const p = (await api('GET', `/v1/promotions/${promotionId}`)).body;
    if (!['rolling_out', 'pending_multisig'].includes(p.status)) return p;
    if (Date.now() > deadline) throw new Error(`promotion ${promotionId} still ${p.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const testDb = await createTestDatabase();

function upgradeSuite(commit: string, backend: Backend) {
  const dir = join(FIXTURES, commit);
  const fixture = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Fixture;
  const was = fixture.backends[backend];
  const byModel = (model: string, version: number) => was.artifacts.find((a) => a.modelName === model && a.version === version)!;
  const highRisk = Object.keys(fixture.policies.riskTiers)[0]!;

  let work: string;
  let dataDir: string;
  let db: { url: string; drop(): Promise<void> } | undefined;
  let rebuiltDb: { url: string; drop(): Promise<void> } | undefined;
  let env: Record<string, string>;
  let server: Server | undefined;
  let api: Api;
  let token: string;
  /** the events the new work below appends, in order */
  const added: string[] = [];
  const aegis = (args: string[], extra: Record<string, string> = {}) =>
    aegisCli(args, { ...CLEAN, AEGIS_URL: server!.url, AEGIS_DATA_DIR: dataDir, ...extra });

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), `aegis-upgrade-${backend}-`));
    dataDir = join(work, 'data');
    await mkdir(dataDir);
    const untar = await run('tar', ['-xJf', join(dir, backend, was.files.dataFolder), '-C', dataDir]);
    if (untar.code !== 0) throw new Error(`tar: ${untar.stderr}`);
    env = {
      DEV_ALLOW_EPHEMERAL: 'true',
      NODE_ENV: 'test',
      AEGIS_DATA_DIR: dataDir,
      AEGIS_POLICIES_DIR: await policies(join(work, 'policies'), fixture.policies.riskTiers),
    };
    if (backend === 'postgres') {
      db = (await createTestDatabase())!;
      await restoreDump(db.url, join(dir, backend, was.files.database!));
      env.MODEL_REGISTRY_DATABASE_URL = db.url;
    }
    server = await serve(env);
    token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
    api = checkedReplies(apiClient(server.url, token));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    await rebuiltDb?.drop();
    if (work) await removeTree(work);
  });

  it('starts on the old state, migrates, and the audit chain verifies with the recorded head, nothing rewritten or added', async () => {
    const verified = await aegis(['--json', 'audit-verify']);
    expect(verified.stderr).toBe('');
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.stdout);
    expect(report).toMatchObject({ ok: true, source: 'database', checked: was.audit.events, headSeq: was.audit.headSeq, parity: 'ok' });
    expect(report.archivedThrough).toBeGreaterThanOrEqual(was.audit.archivedThrough!);
    // the old release's stop signed its head: the current code reads and checks that checkpoint
    expect(report.checkpoint?.seq).toBe(was.audit.headSeq);
    const fromArchive = await aegis(['--json', 'audit-verify', '--from-archive']);
    expect(fromArchive.code).toBe(0);
    expect(JSON.parse(fromArchive.stdout)).toMatchObject({ ok: true, checked: was.audit.events });

    const events = await auditEvents(api);
    // Starting the new release on this state appends nothing (no key created, no token, nothing
    // expired); a release whose migration legitimately adds events must list them here.
    expect(events.slice(was.audit.events).map((e) => e.type)).toEqual([]);
    const head = events[was.audit.events - 1]!;
    expect({ seq: head.seq, hash: head.hash }).toEqual({ seq: was.audit.headSeq, hash: was.audit.headHash });
  });

  it('keeps every artifact, promotion, route and key as the old release recorded them, and every manifest verifies', async () => {
    const now = await registrySnapshot(api);
    expect(now.artifacts).toEqual(was.artifacts);
    expect(now.promotions).toEqual(was.promotions);
    expect(now.deployments).toEqual(was.deployments);
    expect(now.keys).toEqual([...was.keys].sort((x, y) => (x.kid < y.kid ? -1 : 1)));
    expect(now.audit).toEqual(was.audit);
    // the fixture holds what it claims: completed and rolled-back canaries, an approved multisig, a cancelled one, a denial, a rollback
    const statuses = was.promotions.map((p) => `${p.kind}:${p.targetEnv}:${p.status}:${p.approvals.length}`);
    expect(statuses).toEqual(
      expect.arrayContaining([
        'promote:canary:succeeded:0',
        'promote:canary:rolled_back:0',
        'promote:prod:succeeded:3',
        'promote:prod:cancelled:1',
        'promote:prod:denied:0',
        'rollback:staging:succeeded:0',
      ]),
    );

    for (const a of was.artifacts) {
      const r = await api('GET', `/v1/artifacts/${a.artifactId}/validate`);
      expect({ artifactId: a.artifactId, status: r.status, ok: r.body.ok }).toEqual({ artifactId: a.artifactId, status: 200, ok: true });
    }
    // an artifact signed by the manifest key the old release retired still verifies under its window
    const old = was.artifacts.find((a) => a.signerId === 'manifest-signer-v1')!;
    const cli = await aegis(['verify-manifest', '--artifact-id', old.artifactId]);
    expect(cli.stdout).toMatch(new RegExp(`^VERIFIED {2}artifact ${old.artifactId} {2}signer manifest-signer-v1`));
    expect(cli.code).toBe(0);
  });

  it('lists the tokens the old release made (0008_token_lifecycle): ids from their hash, 90 days from the upgrade, creator unrecorded', async () => {
    const { items } = (await api('GET', '/v1/tokens?limit=500')).body as { items: Record<string, string | null>[] };
    const idOf = (secret: string) => `tok_${createHash('sha256').update(secret).digest('hex').slice(0, 16)}`;
    expect(items.map((t) => t.tokenId)).toEqual(expect.arrayContaining([idOf(token), idOf(was.tokens.publisher)]));
    for (const t of items) {
      expect(t).toMatchObject({ state: 'active', createdBy: null, revokedAt: null, revokedBy: null });
      const left = Date.parse(t.expiresAt!) - Date.now();
      expect(left).toBeGreaterThan(89 * 86_400_000);
      expect(left).toBeLessThanOrEqual(90 * 86_400_000);
    }
  });

  it('takes new work on top: a registration with the old publisher token, a staging promotion, a multisig prod promotion approved with the old approver keys, a rollback to what served before', async () => {
    const fraud1 = byModel(highRisk, 1);
    const fraud2 = byModel(highRisk, 2);
    const ds = await api('GET', '/v1/datasets/transactions/versions/2026-11');
    expect(ds.status).toBe(200);
    await writeFile(join(work, 'model.bin'), randomBytes(3000));
    await writeFile(
      join(work, 'manifest.json'),
      JSON.stringify({
        codeRef: 'git:0000000',
        containerDigest: `sha256:${'d'.repeat(64)}`,
        datasetRefs: [{ id: 'transactions', version: '2026-11', checksum: ds.body.checksum }],
        hyperparams: { lr: 0.1 },
        seed: 1,
        trainingCmd: 'python train.py',
        environment: { python: '3.11' },
        metrics: { auc: 0.92 },
      }),
    );
    const versions = was.artifacts.filter((a) => a.modelName === highRisk).length;
    const reg = await aegis(
      ['--json', 'register', '--model', highRisk, '--artifact', join(work, 'model.bin'), '--manifest', join(work, 'manifest.json')],
      { AEGIS_TOKEN: was.tokens.publisher },
    );
    expect(reg.code).toBe(0);
    const registered = JSON.parse(reg.stdout);
    expect(registered).toMatchObject({ modelName: highRisk, version: versions + 1 });
    // signed by the key the old release rotated in
    const activeManifestKey = was.keys.filter((k) => k.purpose === 'manifest' && k.notAfter === null)[0]!.kid;
    expect(registered.signerId).toBe(activeManifestKey);
    added.push('manifest.signed', 'artifact.registered');

    const staging = await api('POST', `/v1/artifacts/${registered.artifactId}/promote`, {
      targetEnv: 'staging',
      reason: 'after the upgrade',
    });
    expect(staging.status).toBe(201);
    expect((await settled(api, staging.body.promotionId)).status).toBe('succeeded');
    added.push('promotion.requested', 'promotion.step', 'promotion.applied');

    // fraud v2's canary completed in the old release: that evidence (old events, old signed
    // records) lets prod be requested, and the old approver keys close the quorum
    const prod = await api('POST', `/v1/artifacts/${fraud2.artifactId}/promote`, {
      targetEnv: 'prod',
      reason: 'after the upgrade',
      canary: { steps: 0 },
    });
    expect(prod.body).toMatchObject({ status: 'pending_multisig', threshold: 3 });
    expect(prod.status).toBe(202);
    added.push('promotion.requested');
    // the three desks approve at once (each CLI run is a process start: concurrent keeps the test short)
    const approvals = await Promise.all(
      [1, 2, 3].map((i) =>
        aegis([
          'approve',
          '--promotion',
          prod.body.promotionId,
          '--key',
          join(dir, backend, 'fixture-dev-approver-keys', `ap-${i}.pem`),
          '--kid',
          `ap-${i}`,
        ]),
      ),
    );
    for (const ok of approvals) {
      expect(ok.stderr).toMatch(new RegExp(`approving ${highRisk} → prod`));
      expect(ok.code).toBe(0);
      added.push('promotion.approval_accepted');
    }
    const applied = await settled(api, prod.body.promotionId);
    expect(applied).toMatchObject({ status: 'succeeded' });
    expect(applied.approvals.map((a: { approverId: string }) => a.approverId).sort()).toEqual(['ap-1', 'ap-2', 'ap-3']);
    added.push('promotion.approved', 'promotion.step', 'promotion.applied');

    // fraud v1 served prod before the upgrade (by the old chain): a non-critical rollback to it is allowed
    const rb = await api('POST', `/v1/registry/models/${highRisk}/rollback`, {
      targetEnv: 'prod',
      toArtifactId: fraud1.artifactId,
      reason: 'after the upgrade',
    });
    expect(rb.status).toBe(201);
    expect((await settled(api, rb.body.promotionId)).status).toBe('succeeded');
    added.push('promotion.requested', 'promotion.applied');
    const serving = (await api('GET', `/v1/lineage/${fraud1.artifactId}`)).body.deployments;
    expect(serving).toEqual(expect.arrayContaining([expect.objectContaining({ env: 'prod', role: 'stable', percent: 100 })]));

    const events = await auditEvents(api);
    const fresh = events.slice(was.audit.events);
    expect(fresh.map((e) => e.type)).toEqual(added);
    const verified = await aegis(['--json', 'audit-verify']);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, headSeq: was.audit.headSeq + added.length });
    // the new events continue the old chain
    expect(fresh[0]!.prevHash).toBe(was.audit.headHash);
  }, 120_000);

  it('passes the DR drill on the upgraded registry', async () => {
    const code = await server!.stop();
    server = undefined;
    expect(code).toBe(0);
    const artifacts = was.artifacts.length + 1;
    if (backend === 'pglite') {
      const drill = await run(
        process.execPath,
        [join(root, 'node_modules/tsx/dist/cli.mjs'), join(root, 'scripts/dr-drill.ts'), '--data-dir', dataDir],
        {
          env: CLEAN,
          timeoutMs: 180_000,
        },
      );
      if (drill.code !== 0) throw new Error(`drill exited ${drill.code}\n${drill.stdout}\n${drill.stderr}`);
      expect(drill.stdout).toContain(`${artifacts} artifacts (${artifacts} from the archive, 0 from storage)`);
      expect(drill.stdout).toMatch(/audit chain {3}ok \(\d+ events/);
      expect(drill.stdout).toContain(`manifests     ${artifacts}/${artifacts} verified`);
      expect(drill.stdout).toContain('parity        0 difference(s)');
      expect(drill.stdout).toMatch(/storage {7}0 issue\(s\)/);
      expect(drill.stdout).toMatch(/resume {8}ok/);
      expect(drill.stdout.trimEnd().endsWith('DRILL PASSED')).toBe(true);
      return;
    }
    // The drill script is PGlite-only (it copies database folders); on PostgreSQL its steps run
    // through the admin CLI: rebuild a fresh database from the storage alone (objects, audit
    // archive, key files), then compare it with the upgraded database field by field.
    const rebuiltDir = join(work, 'rebuilt');
    for (const part of ['objects', 'audit-archive', 'keys']) await cp(join(dataDir, part), join(rebuiltDir, part), { recursive: true });
    rebuiltDb = (await createTestDatabase())!;
    const target = { DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: rebuiltDir, MODEL_REGISTRY_DATABASE_URL: rebuiltDb.url };
    const rebuilt = await aegisCli(['rebuild-index', '--verify-bytes'], { ...CLEAN, ...target });
    if (rebuilt.code !== 0) throw new Error(`rebuild-index exited ${rebuilt.code}\n${rebuilt.stdout}\n${rebuilt.stderr}`);
    expect(rebuilt.stdout).toMatch(
      new RegExp(
        `^REBUILT {2}\\d+ key\\(s\\), \\d+ dataset\\(s\\), ${artifacts} artifact\\(s\\) \\(${artifacts} from the audit archive, 0 from storage only\\)`,
      ),
    );
    const parity = await aegisCli(['parity', '--against-database-url', db!.url], { ...CLEAN, ...target });
    expect(parity.stdout).toMatch(/^SAME {2}0 difference\(s\) from the other registry/);
    expect(parity.code).toBe(0);
    // and the rebuilt registry serves and verifies
    server = await serve({ ...env, ...target });
    // api tokens are never restored: its first start created a dev admin token, the one new event
    expect(server.output()).toContain('created the dev admin token');
    const verified = await aegisCli(['--json', 'audit-verify'], { ...CLEAN, AEGIS_URL: server.url, AEGIS_DATA_DIR: rebuiltDir });
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, headSeq: was.audit.headSeq + added.length + 1 });
    const last = (await auditEvents(apiClient(server.url, (await readFile(join(rebuiltDir, 'admin.token'), 'utf8')).trim()))).at(-1)!;
    expect(last.type).toBe('token.created');
  }, 180_000);
}

for (const commit of fixtures) {
  describe(`upgrade from ${commit}: the PGlite data folder`, () => upgradeSuite(commit, 'pglite'));
  describeUnless(testDb ? undefined : NO_POSTGRES, `upgrade from ${commit}: the PostgreSQL database`, () =>
    upgradeSuite(commit, 'postgres'),
  );
}
await testDb?.drop();
