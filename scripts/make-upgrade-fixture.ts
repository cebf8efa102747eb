/**
 * Makes the upgrade fixture (issue 12, "Upgrades keep working"): the state an earlier release
 * wrote, for test/integration/upgrade.test.ts to open with the current code.
 *
 *   npx tsx scripts/make-upgrade-fixture.ts [--commit b5daf96] [--out test/fixtures/upgrade] [--keep]
 *
 * The commit is checked out into a temporary git worktree (node_modules linked to this
 * repo's), and that release's own local server (`tsx bin/server.ts`) and CLI (`bin/aegis.js`)
 * are driven as a user would, twice: once on the embedded PGlite data folder, once on a fresh
 * database of the PostgreSQL server (AEGIS_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test).
 * Nothing of this repo's lib/ is imported: only the old release's entry points run.
 *
 * What each run leaves behind: two datasets; churn v1, v2 (built-in trainer, `train --record
 * --register`), fraud-detector v1, v2 and ranker v1, v2 (`aegis register` with hand-written
 * manifests, a publisher token); a manifest key rotation between registrations and an audit key
 * rotation before the last promotions; three enrolled approver keys; promotions — staging
 * (applied directly), judged canaries on recorded metrics that complete (churn, fraud-detector
 * v1 and v2) or roll back (ranker v2), churn to prod, fraud-detector (high risk) to prod with 3
 * approvals, a cancelled pending multisig, a denied prod request, a staging rollback; two audit
 * archive runs and a graceful stop (archive + head checkpoint). Every promotion has settled.
 *
 * It writes test/fixtures/upgrade/<commit>/: pglite/data.tar.xz (the whole data folder, PGlite
 * database included), postgres/database.sql.gz (pg_dump, plain SQL with INSERTs) and
 * postgres/data.tar.xz (the same data folder without a database: objects, audit archive, key
 * files), each run's approver keys under fixture-dev-approver-keys/, and manifest.json (what
 * the registry held at the stop: artifacts, promotions, routes, keys, audit head). Every key and
 * token in it is a throwaway dev key made for the fixture (DEV_ALLOW_EPHEMERAL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { apiClient } from './dr-drill-steps.js';
import { registrySnapshot } from './upgrade-snapshot.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loose JSON replies of the old release, checked field by field
type Json = any;

const { values: args } = parseArgs({
  options: {
    commit: { type: 'string', default: 'b5daf96' },
    out: { type: 'string', default: 'test/fixtures/upgrade' },
    keep: { type: 'boolean', default: false },
  },
});

const repo = resolve(dirname(new URL(import.meta.url).pathname), '..');
const ADMIN_PG_URL = process.env.AEGIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const HIGH_RISK = 'fraud-detector';
const CONTAINER = `sha256:${'c'.repeat(64)}`;
const log = (m: string) => process.stderr.write(`make-upgrade-fixture: ${m}\n`);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd ?? repo, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

async function must(cmd: string, argv: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(cmd, argv, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** The environment of every child: this shell's, less anything that would point Aegis elsewhere. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('AEGIS_') || k.startsWith('MODEL_REGISTRY_') || k === 'NODE_OPTIONS') delete env[k];
  delete env.AUDIT_SIGNING_KMS_KEY_ID;
  delete env.MANIFEST_SIGNING_KMS_KEY_ID;
  delete env.REQUIRE_KMS;
  return env;
}

interface Server {
  url: string;
  stop(): Promise<void>;
}

/** Servers still running: a failed run kills them before removing its folders. */
const running = new Set<{ child: ChildProcess; exited: Promise<number | null> }>();

/** The old release's `tsx bin/server.ts`, waiting for its "listening on" line. */
async function startServer(src: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [join(src, 'node_modules/tsx/dist/cli.mjs'), 'bin/server.ts'], {
    cwd: src,
    env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const handle = { child, exited };
  running.add(handle);
  void exited.then(() => running.delete(handle));
  const deadline = Date.now() + 90_000;
  while (!out.includes('listening on')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the old server did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM'); // graceful: archives the rest of the chain and signs its head
      const code = await exited;
      if (code !== 0) throw new Error(`the old server exited ${code} on SIGTERM:\n${out}`);
    },
  };
}

/** A temp copy of the old release's SentinelNet policies with `fraud-detector` high risk (prod needs 3 of 5 approvals). */
async function policies(src: string, dir: string): Promise<string> {
  await cp(join(src, 'policies'), dir, { recursive: true });
  const cfg = JSON.parse(await readFile(join(dir, 'sentinelnet.json'), 'utf8')) as Json;
  cfg.riskTiers.models = { [HIGH_RISK]: 'high' };
  await writeFile(join(dir, 'sentinelnet.json'), JSON.stringify(cfg));
  return dir;
}

/**
 * Recorded serving metrics for the canaries, 50/50 as their routes split: healthy for churn and
 * fraud-detector, a canary failing one request in five for ranker (it must roll back).
 */
function recording(from: number, seconds: number) {
  const samples: Record<string, unknown>[] = [];
  const perSecond = 100;
  for (const model of ['churn', HIGH_RISK, 'ranker'])
    for (let i = 0; i < seconds * perSecond; i++) {
      const at = new Date(from + Math.floor((i * 1000) / perSecond)).toISOString();
      const latencyMs = 30 + ((i * 37) % 40);
      samples.push({ deploymentKey: `${model}/canary`, variant: 'stable', at, latencyMs, error: false, correct: i % 10 !== 0 });
      const bad = model === 'ranker' && i % 5 === 0;
      samples.push({ deploymentKey: `${model}/canary`, variant: 'canary', at, latencyMs, error: bad, correct: i % 10 !== 0 });
    }
  return { samples };
}

interface Ctx {
  src: string;
  work: string;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  server?: Server;
  adminToken?: string;
  publisherToken?: string;
}

/** The old release's CLI (`node bin/aegis.js --json …`); a non-zero exit throws unless `allowFail`. */
async function aegis(ctx: Ctx, argv: string[], opts: { token?: string; allowFail?: boolean } = {}): Promise<Json> {
  const env = {
    ...ctx.env,
    AEGIS_URL: ctx.server!.url,
    AEGIS_DATA_DIR: ctx.dataDir,
    CONTAINER_DIGEST: CONTAINER,
    ...(opts.token ? { AEGIS_TOKEN: opts.token } : {}),
  };
  const r = await run(process.execPath, [join(ctx.src, 'bin/aegis.js'), '--json', ...argv], { cwd: ctx.work, env });
  if (r.code !== 0 && !opts.allowFail) throw new Error(`aegis ${argv.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : {};
}

async function api(ctx: Ctx, method: string, path: string, body?: unknown): Promise<Json> {
  const res = await fetch(`${ctx.server!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ctx.adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const reply = (await res.json()) as Json;
  if (res.status >= 300) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(reply)}`);
  return reply;
}

async function settled(ctx: Ctx, promotionId: string): Promise<Json> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const p = await api(ctx, 'GET', `/v1/promotions/${promotionId}`);
    if (!['rolling_out', 'pending_multisig'].includes(p.status)) return p;
    if (Date.now() > deadline) throw new Error(`promotion ${promotionId} still ${p.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function expectStatus(p: Json, status: string, what: string) {
  if (p.status !== status) throw new Error(`${what}: expected ${status}, got ${p.status}: ${JSON.stringify(p).slice(0, 2000)}`);
}

/** A hand-written manifest for `aegis register` (the CLI fills in sha256, size and createdAt). */
async function registerByHand(ctx: Ctx, model: string, n: number, auc: number, dataset: { id: string; version: string; checksum: string }) {
  const dir = join(ctx.work, `${model}-${n}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.bin'), randomBytes(2048 + n * 16));
  await writeFile(
    join(dir, 'manifest.json'),
    JSON.stringify({
      codeRef: `git:${createHash('sha1').update(`${model}${n}`).digest('hex').slice(0, 7)}`,
      containerDigest: CONTAINER,
      datasetRefs: [dataset],
      hyperparams: { lr: 0.1, epochs: 3 + n },
      seed: 40 + n,
      trainingCmd: 'python train.py --epochs 3',
      environment: { python: '3.11' },
      metrics: { auc },
    }),
  );
  return aegis(ctx, ['register', '--model', model, '--artifact', join(dir, 'model.bin'), '--manifest', join(dir, 'manifest.json')], {
    token: ctx.publisherToken!,
  });
}

/** Drives the old release through its CLI and API; returns what the fixture's manifest records of this run. */
async function populate(ctx: Ctx, approverDir: string): Promise<void> {
  const serverEnv = { ...ctx.env, AEGIS_DATA_DIR: ctx.dataDir, AEGIS_POLICIES_DIR: await policies(ctx.src, join(ctx.work, 'policies')) };

  // first start: registrations, keys, tokens, an archive run
  ctx.server = await startServer(ctx.src, serverEnv);
  ctx.adminToken = (await readFile(join(ctx.dataDir, 'admin.token'), 'utf8')).trim();
  ctx.publisherToken = (await aegis(ctx, ['tokens', 'create', '--principal', 'ci-publisher', '--role', 'publisher'])).token;
  if (!ctx.publisherToken) throw new Error('tokens create returned no token');
  await mkdir(approverDir, { recursive: true });
  for (let i = 1; i <= 3; i++) {
    const file = join(approverDir, `ap-${i}.pem`);
    await aegis(ctx, ['keys', 'generate', '--out', file]);
    await aegis(ctx, ['keys', 'add', '--role', 'approver', '--kid', `ap-${i}`, '--owner', `approver-${i}`, '--public-key', `${file}.pub`]);
  }
  const tx = await aegis(ctx, [
    'datasets',
    'register',
    '--id',
    'transactions',
    '--version',
    '2026-11',
    '--path',
    join(ctx.src, 'test/data/sample-multiclass'),
    '--uri',
    's3://fixture-data/transactions/2026-11',
  ]);
  const transactions = { id: 'transactions', version: '2026-11', checksum: tx.checksum as string };
  const train = (seed: number, epochs: number) =>
    aegis(ctx, [
      'train',
      '--record',
      '--model',
      'churn',
      '--dataset',
      `sample@v1=${join(ctx.src, 'test/data/sample')}`,
      '--seed',
      String(seed),
      '--hyperparams',
      JSON.stringify({ epochs }),
      '--out',
      join(ctx.work, `churn-${seed}`),
      '--register',
      '--code-ref',
      `git:${args.commit}`,
    ]);
  await train(7, 40);
  await registerByHand(ctx, HIGH_RISK, 1, 0.91, transactions);
  await registerByHand(ctx, 'ranker', 1, 0.8, transactions);
  await aegis(ctx, ['keys', 'rotate', '--purpose', 'manifest']);
  await train(8, 60);
  await registerByHand(ctx, HIGH_RISK, 2, 0.915, transactions);
  await registerByHand(ctx, 'ranker', 2, 0.81, transactions);
  await aegis(ctx, ['audit', 'archive']);
  await ctx.server.stop();

  // second start, with a recording of serving metrics: promotions
  const metricsFile = join(ctx.work, 'canary-metrics.json');
  await writeFile(metricsFile, JSON.stringify(recording(Date.now() - 5_000, 400)));
  ctx.server = await startServer(ctx.src, { ...serverEnv, AEGIS_CANARY_METRICS_FILE: metricsFile });
  const version = async (model: string, v: number) =>
    (await api(ctx, 'GET', `/v1/registry/models/${model}/versions/${v}`)).artifactId as string;
  const churn1 = await version('churn', 1);
  const churn2 = await version('churn', 2);
  const fraud1 = await version(HIGH_RISK, 1);
  const fraud2 = await version(HIGH_RISK, 2);
  const ranker2 = await version('ranker', 2);
  const promote = (artifactId: string, env: string, extra: string[] = []) =>
    aegis(ctx, ['promote', '--artifact-id', artifactId, '--env', env, '--reason', `fixture: ${env}`, ...extra]);
  const canary = ['--canary-percent', '50', '--canary-steps', '1', '--canary-window', '3', '--min-requests', '100'];

  expectStatus(await settled(ctx, (await promote(churn1, 'staging')).promotionId), 'succeeded', 'churn v1 → staging');
  const canaries = await Promise.all([
    promote(churn1, 'canary', canary),
    promote(fraud1, 'canary', canary),
    promote(ranker2, 'canary', canary),
  ]);
  const [c1, f1, r2] = await Promise.all(canaries.map((p) => settled(ctx, p.promotionId)));
  expectStatus(c1, 'succeeded', 'churn v1 canary');
  expectStatus(f1, 'succeeded', 'fraud-detector v1 canary');
  expectStatus(r2, 'rolled_back', 'ranker v2 canary (a failing canary)');
  expectStatus(await settled(ctx, (await promote(fraud2, 'canary', canary)).promotionId), 'succeeded', 'fraud-detector v2 canary');
  expectStatus(await settled(ctx, (await promote(churn1, 'prod', ['--canary-steps', '0'])).promotionId), 'succeeded', 'churn v1 → prod');

  const multisig = await promote(fraud1, 'prod', ['--canary-steps', '0']);
  expectStatus(multisig, 'pending_multisig', 'fraud-detector v1 → prod');
  for (let i = 1; i <= 3; i++)
    await aegis(ctx, ['approve', '--promotion', multisig.promotionId, '--key', join(approverDir, `ap-${i}.pem`), '--kid', `ap-${i}`]);
  expectStatus(await settled(ctx, multisig.promotionId), 'succeeded', 'fraud-detector v1 → prod after 3 approvals');

  const pending = await promote(fraud2, 'prod', ['--canary-steps', '0']);
  expectStatus(pending, 'pending_multisig', 'fraud-detector v2 → prod');
  await aegis(ctx, ['approve', '--promotion', pending.promotionId, '--key', join(approverDir, 'ap-1.pem'), '--kid', 'ap-1']);
  await aegis(ctx, ['cancel', '--promotion', pending.promotionId, '--reason', 'fixture: postponed']);

  const denied = await aegis(ctx, ['promote', '--artifact-id', ranker2, '--env', 'prod', '--reason', 'fixture: no canary'], {
    allowFail: true,
  });
  if (denied.error?.code !== 'POLICY_DENIED') throw new Error(`ranker v2 → prod should be denied: ${JSON.stringify(denied)}`);

  await aegis(ctx, ['keys', 'rotate', '--purpose', 'audit']);
  expectStatus(await settled(ctx, (await promote(churn2, 'staging')).promotionId), 'succeeded', 'churn v2 → staging');
  const rb = await aegis(ctx, ['rollback', '--model', 'churn', '--env', 'staging', '--to', churn1, '--reason', 'fixture: rollback']);
  expectStatus(await settled(ctx, rb.promotionId), 'succeeded', 'churn staging rollback to v1');
  await aegis(ctx, ['audit', 'archive']);
}

/**
 * tar.xz of a folder's entries (modes kept: the store's versions are read-only). xz, not gzip:
 * PGlite's folder (about 40 MB, mostly the template databases and a WAL segment) packs to
 * about 1.2 MB with xz and 4.9 MB with gzip.
 */
async function tarball(dir: string, entries: string[], out: string): Promise<number> {
  await must('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--use-compress-program=xz -9',
    '-cf',
    out,
    '-C',
    dir,
    ...entries,
  ]);
  return (await stat(out)).size;
}

async function duBytes(dir: string): Promise<number> {
  return Number((await must('du', ['-sb', dir])).split('\t')[0]);
}

async function makeWritable(path: string): Promise<void> {
  await must('chmod', ['-R', 'u+w', path]).catch(() => undefined);
}

const work = await mkdtemp(join(tmpdir(), 'aegis-upgrade-fixture-'));
const src = join(work, 'src');
const full = (await must('git', ['rev-parse', `${args.commit}^{commit}`])).trim();
const short = full.slice(0, 7);
const outDir = resolve(repo, args.out, short);
const dbName = `aegis_fixture_${Date.now()}_${randomBytes(3).toString('hex')}`;
let dbCreated = false;
try {
  log(`worktree of ${short} in ${src}`);
  await must('git', ['worktree', 'add', '--detach', src, full]);
  await symlink(realpathSync(join(repo, 'node_modules')), join(src, 'node_modules'));
  if (existsSync(outDir)) await rm(outDir, { recursive: true });
  await mkdir(outDir, { recursive: true });
  const manifest: Json = {
    about:
      'Upgrade fixture: state written by an earlier Aegis release, for test/integration/upgrade.test.ts. Made by scripts/make-upgrade-fixture.ts. Every key and token here is a throwaway dev key made for this fixture (DEV_ALLOW_EPHEMERAL), never used anywhere else.',
    commit: full,
    commitShort: short,
    madeAt: new Date().toISOString(),
    node: process.version,
    policies: { riskTiers: { [HIGH_RISK]: 'high' } },
    backends: {},
  };

  for (const backend of ['pglite', 'postgres'] as const) {
    const bdir = join(work, backend);
    const ctx: Ctx = {
      src,
      work: bdir,
      dataDir: join(bdir, 'data'),
      env: { ...baseEnv(), DEV_ALLOW_EPHEMERAL: 'true', NODE_ENV: 'development' },
    };
    await mkdir(bdir, { recursive: true });
    let dbUrl: string | undefined;
    if (backend === 'postgres') {
      const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${dbName}`);
      await admin.end();
      dbCreated = true;
      const u = new URL(ADMIN_PG_URL);
      u.pathname = `/${dbName}`;
      dbUrl = u.toString();
      ctx.env.MODEL_REGISTRY_DATABASE_URL = dbUrl;
    }
    log(`${backend}: populating through the ${short} server and CLI`);
    const fixtureOut = join(outDir, backend);
    await mkdir(fixtureOut, { recursive: true });
    const approverDir = join(fixtureOut, 'fixture-dev-approver-keys');
    await populate(ctx, approverDir);
    const state = { ...(await registrySnapshot(apiClient(ctx.server!.url, ctx.adminToken!))), tokens: { publisher: ctx.publisherToken } };
    await ctx.server!.stop();
    // the public halves are not needed: the keys are enrolled in the registry
    for (const f of await readdir(approverDir)) if (f.endsWith('.pub')) await rm(join(approverDir, f));

    const entries = (await readdir(ctx.dataDir)).sort();
    const files: Json = { dataFolder: 'data.tar.xz', dataFolderEntries: entries, approverKeys: 'fixture-dev-approver-keys/ap-{1,2,3}.pem' };
    files.dataFolderBytes = await duBytes(ctx.dataDir);
    if (existsSync(join(ctx.dataDir, 'pg'))) files.pgliteFolderBytes = await duBytes(join(ctx.dataDir, 'pg'));
    files.dataTarXzBytes = await tarball(ctx.dataDir, entries, join(fixtureOut, 'data.tar.xz'));
    if (dbUrl) {
      const u = new URL(dbUrl);
      const sql = await must('pg_dump', [
        '--host',
        u.hostname,
        '--port',
        u.port || '5432',
        '--username',
        decodeURIComponent(u.username),
        '--no-owner',
        '--no-privileges',
        '--inserts',
        '--rows-per-insert=100',
        dbName,
      ]);
      await writeFile(join(fixtureOut, 'database.sql.gz'), gzipSync(sql, { level: 9 }));
      files.database = 'database.sql.gz';
      files.databaseSqlBytes = Buffer.byteLength(sql);
      files.databaseSqlGzBytes = (await stat(join(fixtureOut, 'database.sql.gz'))).size;
      files.pgDump = (await must('pg_dump', ['--version'])).trim();
    }
    for (const f of await readdir(approverDir)) await chmod(join(approverDir, f), 0o600);
    manifest.backends[backend] = { files, ...state };
    log(`${backend}: ${state.artifacts.length} artifacts, ${state.promotions.length} promotions, ${state.audit.events} audit events`);
    await makeWritable(ctx.dataDir);
  }
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`wrote ${outDir} (${(await duBytes(outDir)) / 1e6} MB)`);
} finally {
  for (const { child, exited } of running) {
    child.kill('SIGKILL');
    await exited;
  }
  if (dbCreated) {
    const admin = new pg.Client({ connectionString: ADMIN_PG_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
  await run('git', ['worktree', 'remove', '--force', src]);
  if (args.keep) log(`kept ${work}`);
  else {
    await makeWritable(work);
    await rm(work, { recursive: true, force: true });
  }
}
