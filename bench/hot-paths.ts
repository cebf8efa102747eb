/**
 * Hot paths (issue 25), each against a reference measured in the same run by the same client
 * loop (node:http, keep-alive, one connection per client):
 * 1. registrations/s with `clients` (50) concurrent clients, on PGlite and on the PostgreSQL
 *    server, as a ratio to a minimal node:http server doing the same durable work
 *    (`hot-reference.ts`) on the same kind of database: goal ≥ 0.5×;
 * 2. a registration's p50/p95/p99 at `clients` and at 1 client: goals p99 ≤ 150 ms at 50
 *    clients (PostgreSQL), ≤ 15 ms at 1 client. The goals are judged on the one-request
 *    registration of a small artifact; the 3-request path through an upload is printed beside it;
 * 3. GET version / GET artifact throughput with `clients` connections (PGlite) against the
 *    reference's one-SELECT GET: goal ≥ 0.8×.
 * Promotion request → rollout started p95 is printed by the promotion bench (`promotion.ts`).
 * Each registration measurement runs `rounds` (3) times, reference and stack interleaved: the
 * ratios printed are the median of the rounds' ratios with their range (this machine's runs
 * vary by ±10 % or more; one run's ratio is a hint, not a measurement), and each side's process
 * CPU per registration (server and client loop, the same loop both sides) is printed beside.
 * It asserts nothing: the goals are printed beside the numbers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../test/support/postgres.js';
import { startReferenceServer, type ReferenceDatabase, type ReferenceServer } from './hot-reference.js';
import { envInt, ms, ratio, summarize, table, type Summary } from './stats.js';
import { sumThreadCpu, threadCpuSince, threadCpuSnapshot, type ThreadCpu } from './thread-cpu.js';
import {
  manifestFor,
  removeTree,
  runConcurrent,
  startBenchStack,
  tempDir,
  type BenchStack,
  type Registration,
  type UploadTarget,
} from './stack.js';

const ARTIFACT_BYTES = 64 * 1024;
const MODEL = 'bench-hot';
/** The size of the stack's `pg.Pool` (PgDatabase's default), given to the reference's pool too. */
const STACK_PG_POOL = 10;
/** The 1-client phase runs at most this many registrations: a p99 needs ~100 samples, not thousands. */
const SERIAL_MAX = 200;
const PG_ADMIN_URL = process.env.AEGIS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const hotPathsOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) => ({
  registrations: envInt('BENCH_HOT_REGISTRATIONS', 500, env),
  clients: envInt('BENCH_HOT_CLIENTS', 50, env),
  gets: envInt('BENCH_HOT_GETS', 5000, env),
  rounds: envInt('BENCH_HOT_ROUNDS', 3, env),
});
type Options = ReturnType<typeof hotPathsOptionsFromEnv>;

/** One HTTP exchange on `agent`; the body of a 2xx answer, else an error naming the status. */
function call(agent: Agent, method: string, url: string, headers: Record<string, string>, body?: Buffer | string): Promise<string> {
  const h = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: h, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve(text);
        else reject(new Error(`${method} ${new URL(url).pathname} answered ${status}: ${text.slice(0, 300)}`));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Artifact {
  bytes: Buffer;
  manifest: ReturnType<typeof manifestFor>;
  /** the one-request registration's body, encoded before timing (as the reference's manifest header is) */
  inlineBody: Buffer;
  /** the reference's manifest header */
  manifestHeader: string;
}
interface Registered {
  id: string;
  version: number;
  /** the `register` call alone (the stack; the reference has one call) */
  registerMs?: number;
}
type Register = (a: Artifact, agent: Agent) => Promise<Registered>;

/** The stack's registration of a small artifact: one POST of its bytes (base64) and manifest. */
const stackRegisterInline =
  (stack: BenchStack): Register =>
  async ({ inlineBody }, agent) => {
    const json = { authorization: `Bearer ${stack.publisherToken}`, 'content-type': 'application/json' };
    const reg = JSON.parse(await call(agent, 'POST', `${stack.url}/v1/registry/artifacts`, json, inlineBody)) as Registration;
    if (reg.replayed) throw new Error(`registration of ${reg.artifactId} was a replay: the artifacts should all be distinct`);
    return { id: reg.artifactId, version: reg.version };
  };

/** The stack's registration through an upload (any size): POST uploads → PUT the bytes → POST register (3 round trips). */
const stackRegisterUpload =
  (stack: BenchStack): Register =>
  async ({ bytes, manifest }, agent) => {
    const json = { authorization: `Bearer ${stack.publisherToken}`, 'content-type': 'application/json' };
    const uploadBody = JSON.stringify({ modelName: manifest.modelName, size: bytes.length });
    const up = JSON.parse(await call(agent, 'POST', `${stack.url}/v1/registry/uploads`, json, uploadBody)) as UploadTarget;
    await call(agent, 'PUT', up.url, up.headers, bytes);
    const t = performance.now();
    const registerBody = JSON.stringify({ uploadId: up.uploadId, manifest });
    const reg = JSON.parse(await call(agent, 'POST', `${stack.url}/v1/registry/register`, json, registerBody)) as Registration;
    if (reg.replayed) throw new Error(`registration of ${reg.artifactId} was a replay: the artifacts should all be distinct`);
    return { id: reg.artifactId, version: reg.version, registerMs: performance.now() - t };
  };

/** The reference's registration: one POST carrying the bytes, the manifest in a header. */
const referenceRegister =
  (ref: ReferenceServer): Register =>
  async ({ bytes, manifestHeader }, agent) => {
    const headers = { 'content-type': 'application/octet-stream', 'x-manifest': manifestHeader };
    return JSON.parse(await call(agent, 'POST', ref.registerUrl, headers, bytes)) as Registered;
  };

interface Phase {
  latencies: number[];
  registerOnly: number[];
  wallMs: number;
  /** this process's CPU time (user + system) during the phase: the server's and the client loop's */
  cpuMs: number;
  /** the same by thread (Linux): the main thread's, the other threads' (database thread, libuv pool, V8 helpers) */
  threads: ThreadCpu | undefined;
  done: Registered[];
}

/** Phases of several rounds as one: their samples pooled, their times summed. */
const pooled = (phases: readonly Phase[]): Phase => ({
  latencies: phases.flatMap((p) => p.latencies),
  registerOnly: phases.flatMap((p) => p.registerOnly),
  wallMs: phases.reduce((t, p) => t + p.wallMs, 0),
  cpuMs: phases.reduce((t, p) => t + p.cpuMs, 0),
  threads: sumThreadCpu(phases.map((p) => p.threads)),
  done: phases.flatMap((p) => p.done),
});

/** The median of the rounds' values and their range, e.g. `0.24× (0.21–0.27×)`. */
function spread(values: readonly number[]): { median: number; text: string } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const range = sorted.length > 1 ? ` (${ratio(sorted[0]!).slice(0, -1)}–${ratio(sorted.at(-1)!)} over ${sorted.length} rounds)` : '';
  return { median, text: `${ratio(median)}${range}` };
}

/**
 * Random artifacts, their manifests and each side's encoded request, made before timing: the
 * client's own work (JSON, base64) is not the server's, and runs on the same thread.
 */
const prepare = (count: number): Artifact[] =>
  Array.from({ length: count }, () => {
    const bytes = randomBytes(ARTIFACT_BYTES);
    const manifest = manifestFor(MODEL, createHash('sha256').update(bytes).digest('hex'), bytes.length);
    return {
      bytes,
      manifest,
      inlineBody: Buffer.from(JSON.stringify({ manifest, artifact: bytes.toString('base64') })),
      manifestHeader: Buffer.from(JSON.stringify(manifest)).toString('base64url'),
    };
  });

/**
 * Runs `fn` with a keep-alive agent of `clients` connections made for it, destroyed after: a
 * connection left idle between phases would meet the server's keep-alive timeout (5 s) and
 * could be closed just as it is reused ("socket hang up").
 */
async function withAgent<T>(clients: number, fn: (agent: Agent) => Promise<T>): Promise<T> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  try {
    return await fn(agent);
  } finally {
    agent.destroy();
  }
}

async function registrations(n: number, clients: number, register: Register): Promise<Phase> {
  const artifacts = prepare(n);
  const phase: Phase = { latencies: [], registerOnly: [], wallMs: 0, cpuMs: 0, threads: undefined, done: [] };
  const threads = threadCpuSnapshot();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await withAgent(clients, (agent) =>
    runConcurrent(n, clients, async (i) => {
      const t = performance.now();
      const r = await register(artifacts[i]!, agent);
      phase.latencies.push(performance.now() - t);
      if (r.registerMs !== undefined) phase.registerOnly.push(r.registerMs);
      phase.done.push(r);
    }),
  );
  phase.wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  phase.cpuMs = (used.user + used.system) / 1000;
  phase.threads = threadCpuSince(threads);
  return phase;
}

async function gets(n: number, clients: number, urls: readonly string[], headers: Record<string, string>) {
  const latencies: number[] = [];
  const start = performance.now();
  await withAgent(clients, (agent) =>
    runConcurrent(n, clients, async (i) => {
      const t = performance.now();
      await call(agent, 'GET', urls[i % urls.length]!, headers);
      latencies.push(performance.now() - t);
    }),
  );
  return { latencies, wallMs: performance.now() - start };
}

const perS = (p: { latencies: number[]; wallMs: number }) => p.latencies.length / (p.wallMs / 1000);
const rate = (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`;
const goal = (met: boolean) => (met ? 'met' : 'NOT met');
const summaryRow = (label: string, clients: number, s: Summary, tput: string, vs: string) => [
  label,
  String(clients),
  String(s.n),
  ms(s.p50),
  ms(s.p95),
  ms(s.p99),
  tput,
  vs,
];

interface Target {
  kind: ReferenceDatabase['kind'];
  label: string;
  stack: BenchStack;
  ref: ReferenceServer;
}

/** Registrations at `clients` and at 1 client, reference first each time; returns what each side registered. */
async function registrationRows(
  t: Target,
  o: Options,
  print: (l: string) => void,
): Promise<{ stack: Registered[]; reference: Registered[] }> {
  const [stackReg, uploadReg, refReg] = [stackRegisterInline(t.stack), stackRegisterUpload(t.stack), referenceRegister(t.ref)];
  const c = o.clients;
  const warm = Math.min(o.registrations, 2 * c);
  // Warm-up (not counted): JIT, caches, the first use of each signing key.
  const refWarm = await registrations(warm, c, refReg);
  const stackWarm = await registrations(warm, c, stackReg);
  const uploadWarm = await registrations(warm, c, uploadReg);
  const serial = Math.min(o.registrations, SERIAL_MAX);
  // rounds interleaved: reference, then the stack's two ways, at `c` clients and then at 1
  const rounds: { many: [Phase, Phase, Phase]; one: [Phase, Phase, Phase] }[] = [];
  for (let r = 0; r < Math.max(1, o.rounds); r++) {
    const many: [Phase, Phase, Phase] = [
      await registrations(o.registrations, c, refReg),
      await registrations(o.registrations, c, stackReg),
      await registrations(o.registrations, c, uploadReg),
    ];
    const one: [Phase, Phase, Phase] = [
      await registrations(serial, 1, refReg),
      await registrations(serial, 1, stackReg),
      await registrations(serial, 1, uploadReg),
    ];
    rounds.push({ many, one });
  }
  const pool = (at: 'many' | 'one', side: 0 | 1 | 2) => pooled(rounds.map((r) => r[at][side]));
  const [refMany, stackMany, uploadMany] = [pool('many', 0), pool('many', 1), pool('many', 2)];
  const [refOne, stackOne, uploadOne] = [pool('one', 0), pool('one', 1), pool('one', 2)];
  const stackAll = [...stackWarm.done, ...stackMany.done, ...stackOne.done, ...uploadWarm.done, ...uploadMany.done, ...uploadOne.done];
  const refAll = [...refWarm.done, ...refMany.done, ...refOne.done];
  const versions = new Set(stackAll.map((r) => r.version));
  if (versions.size !== stackAll.length) throw new Error(`expected ${stackAll.length} distinct versions, got ${versions.size}`);

  const many = spread(rounds.map((r) => perS(r.many[1]) / perS(r.many[0])));
  const one = spread(rounds.map((r) => perS(r.one[1]) / perS(r.one[0])));
  const [p99Many, p99One] = [summarize(stackMany.latencies).p99, summarize(stackOne.latencies).p99];
  print(`\n-- ${t.label}: registrations (${rounds.length} rounds, samples pooled) --`);
  /** A phase's row: its latencies, throughput, ratio to `ref`'s throughput and CPU per registration (by thread). */
  const phaseRow = (label: string, clients: number, p: Phase, ref: Phase) => {
    const per = (v: number) => (v / p.latencies.length).toFixed(1);
    const t = p.threads;
    return [
      ...summaryRow(label, clients, summarize(p.latencies), rate(perS(p)), ratio(perS(p) / perS(ref))),
      ms(p.cpuMs / p.latencies.length),
      t ? `${per(t.mainUser)} + ${per(t.mainSystem)}` : '-',
      t ? `${per(t.otherUser)} + ${per(t.otherSystem)}` : '-',
    ];
  };
  const rows = (clients: number, ref: Phase, inline: Phase, upload: Phase) => [
    phaseRow('reference (1 request)', clients, ref, ref),
    phaseRow('registration (1 request)', clients, inline, ref),
    phaseRow('through an upload (3 requests)', clients, upload, ref),
    [...summaryRow('  of which the register call', clients, summarize(upload.registerOnly), '-', '-'), '-', '-', '-'],
  ];
  print(
    table(
      [
        'measurement',
        'clients',
        'n',
        'p50',
        'p95',
        'p99',
        'throughput',
        'vs reference',
        'CPU/registration',
        'main (user + sys)',
        'others (user + sys)',
      ],
      [...rows(c, refMany, stackMany, uploadMany), ...rows(1, refOne, stackOne, uploadOne)],
    ),
  );
  const pgGoal = t.kind === 'pg' ? ` (goal ≤ 150 ms: ${goal(p99Many <= 150)})` : ' (the 150 ms goal is for PostgreSQL)';
  print(
    `   registrations/s at ${c} clients (1 request): ${many.text} of the reference, median of the rounds (goal ≥ 0.5×: ${goal(many.median >= 0.5)}); at 1 client: ${one.text}`,
  );
  print(`   p99 at ${c} clients: ${ms(p99Many)}${pgGoal}; at 1 client: ${ms(p99One)} (goal ≤ 15 ms: ${goal(p99One <= 15)})`);
  print("   CPU per registration: the process's; in ms, the main thread's and the other threads' (database thread, libuv's pool:");
  print("   file I/O and fsync, V8's helpers), user + system, from /proc (10 ms ticks; Linux only)");
  print(`   ${warm} warm-up registrations each way first, not counted; all ${stackAll.length} of the stack's got distinct versions`);
  return { stack: stackAll, reference: refAll };
}

/** GET version and GET artifact against the reference's one-SELECT GET, `clients` connections each. */
async function getRows(t: Target, registered: { stack: Registered[]; reference: Registered[] }, o: Options, print: (l: string) => void) {
  const auth = { authorization: `Bearer ${t.stack.publisherToken}`, accept: 'application/json' };
  const versionUrls = registered.stack.map((r) => `${t.stack.url}/v1/registry/models/${MODEL}/versions/${r.version}`);
  const artifactUrls = registered.stack.map((r) => `${t.stack.url}/v1/artifacts/${r.id}`);
  const refUrls = registered.reference.map((r) => t.ref.recordUrl(r.id));
  const c = o.clients;
  const warm = Math.min(o.gets, 4 * c);
  await gets(warm, c, refUrls, {});
  await gets(warm, c, versionUrls, auth);
  await gets(warm, c, artifactUrls, auth);
  const ref = await gets(o.gets, c, refUrls, {});
  const version = await gets(o.gets, c, versionUrls, auth);
  const artifact = await gets(o.gets, c, artifactUrls, auth);
  const [rv, ra] = [perS(version) / perS(ref), perS(artifact) / perS(ref)];
  print(`\n-- ${t.label}: reads, ${c} keep-alive connections, over the ${registered.stack.length} versions each side registered --`);
  print(
    table(
      ['measurement', 'clients', 'n', 'p50', 'p95', 'p99', 'throughput', 'vs reference'],
      [
        summaryRow('reference: GET a row (one SELECT)', c, summarize(ref.latencies), rate(perS(ref)), '1.00×'),
        summaryRow(`GET /v1/registry/models/${MODEL}/versions/{v}`, c, summarize(version.latencies), rate(perS(version)), ratio(rv)),
        summaryRow('GET /v1/artifacts/{artifactId}', c, summarize(artifact.latencies), rate(perS(artifact)), ratio(ra)),
      ],
    ),
  );
  print(`   GET version ${ratio(rv)}, GET artifact ${ratio(ra)} of the reference (goal ≥ 0.8×: ${goal(rv >= 0.8)}, ${goal(ra >= 0.8)})`);
}

/** Runs the registration rows on one kind of database (and on PGlite the read rows), then stops everything. */
async function onDatabase(
  label: string,
  stackEnv: Record<string, string>,
  refDb: (dataDir: string) => ReferenceDatabase,
  o: Options,
  print: (l: string) => void,
) {
  const dir = await tempDir('hot-ref');
  let stack: BenchStack | undefined;
  let ref: ReferenceServer | undefined;
  try {
    await mkdir(join(dir, 'files'));
    const database = refDb(join(dir, 'pgdata'));
    ref = await startReferenceServer(database, join(dir, 'files'));
    stack = await startBenchStack(stackEnv);
    const target: Target = { kind: database.kind, label, stack, ref };
    const registered = await registrationRows(target, o, print);
    if (database.kind === 'pglite') await getRows(target, registered, o, print);
  } finally {
    await ref?.close();
    await stack?.close();
    await removeTree(dir);
  }
}

/** Why the PostgreSQL server cannot be used, or undefined when it answers. */
async function postgresUnreachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return undefined;
  } catch (e) {
    return `no PostgreSQL server at ${new URL(PG_ADMIN_URL).host} (${(e as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function hotPathsBench(o: Options, print: (l: string) => void): Promise<void> {
  print(
    `\n== Hot paths (issue 25): ${o.registrations} registrations of ${ARTIFACT_BYTES / 1024} KiB random artifacts to one model, ${o.clients} concurrent clients; ${o.gets} GETs ==`,
  );
  print('   stack: POST /v1/registry/artifacts (the bytes base64 beside the manifest: 1 round trip), and through an upload');
  print('   (POST /v1/registry/uploads -> PUT the bytes -> POST /v1/registry/register: 3 round trips), as larger artifacts go');
  print('   reference: a bare node:http server in this process, 1 round trip carrying the bytes (the manifest in a header):');
  print('   sha256 as they arrive, a new file written + fsync, one Ed25519 signature, one INSERT in a transaction');
  print(`   both driven by the same loop (node:http, keep-alive, ${o.clients} connections each); reference measured first each time`);

  await onDatabase('PGlite', {}, (dataDir) => ({ kind: 'pglite', dataDir }), o, print);

  const why = await postgresUnreachable();
  if (why) print(`\n-- PostgreSQL server: rows skipped: ${why} --`);
  else {
    const db = await createTestDatabase();
    if (!db) throw new Error(`the PostgreSQL server at ${new URL(PG_ADMIN_URL).host} answered, then refused a new database`);
    try {
      await onDatabase(
        'PostgreSQL server',
        { MODEL_REGISTRY_DATABASE_URL: db.url },
        () => ({ kind: 'pg', url: db.url, poolSize: STACK_PG_POOL }),
        o,
        print,
      );
    } finally {
      await db.drop();
    }
  }
  print('\n-- Promotion request → rollout started: p95 is printed by BENCH_ONLY=promotion (bench/promotion.ts, section 5,');
  print('   row "POST /promote → StartCanary entered"); the issue\'s goal there is ≤ 30 ms --');
}
