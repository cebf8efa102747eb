/**
 * `npm run bench`: runs the benches in order and prints each measurement next to a reference
 * measured in the same run. It asserts no times: numbers depend on the machine.
 *
 *   BENCH_ONLY=registration|artifact|multipart|pull|dataset|audit|promotion|bundles|cli|onnx|predict|shadow|drift|drift-windows|console|events|hotpaths|memory   run one bench
 *   BENCH_REGISTRATIONS=200 BENCH_CONCURRENCY=8 BENCH_ARTIFACT_MB=1024 BENCH_MULTIPART_MB=1024 BENCH_MULTIPART_CONCURRENCY=4 BENCH_PULL_BYTES=1073741824 BENCH_PULL_CPU_PROF=<dir> BENCH_DATASET_MB=1024
 *   BENCH_IMPORT_RUNS=7 BENCH_CLI_RUNS=7 BENCH_ONNX_LOADS=20 BENCH_ONNX_RUNS=2000
 *   BENCH_SERVING_REQUESTS=4000 BENCH_SERVING_CONCURRENCY=8 BENCH_SERVING_INGEST_CLIENTS=50 BENCH_SHADOW_REQUESTS=2000 BENCH_SHADOW_RUNS=3
 *   BENCH_DRIFT_ROWS=1000000 BENCH_DRIFT_FEATURES=100 BENCH_DRIFT_WINDOW_ROWS=200000 BENCH_DRIFT_RUNS=5
 *   BENCH_DRIFT_SEGMENT_ROWS=200000 BENCH_DRIFT_SEGMENT_FEATURES=5
 *   BENCH_CONSOLE_RUNS=7 BENCH_CONSOLE_VERSIONS=10000 BENCH_CONSOLE_MODELS=300
 *   BENCH_IDLE_MS=3000
 *   BENCH_EVENTS=1000 BENCH_EVENT_REGISTRATIONS=20 BENCH_EVENT_ROUNDS=3
 *   BENCH_AUDIT_EVENTS=100000 BENCH_AUDIT_WRITERS=20 BENCH_AUDIT_APPENDS=2000 BENCH_AUDIT_API_EVENTS=20000 BENCH_AUDIT_API_RUNS=3
 *   BENCH_PROMOTIONS=100   (promotion: staging promotions, one at a time, after 3 not counted)
 *   BENCH_HOT_REGISTRATIONS=500 BENCH_HOT_CLIENTS=50 BENCH_HOT_GETS=5000 BENCH_HOT_ROUNDS=3   (hotpaths: registrations at that
 *     many clients, then min(registrations, 200) at 1 client, per round, on PGlite and on the PostgreSQL server; GETs per row on PGlite)
 */
import { cpus, platform, arch } from 'node:os';
import { pullOptionsFromEnv, runArtifactPull } from './artifact-pull.js';
import { artifactOptionsFromEnv, runArtifactThroughput } from './artifact-throughput.js';
import { auditBench, auditOptionsFromEnv } from './audit.js';
import { bundlesBench, bundlesOptionsFromEnv } from './bundles.js';
import { cliBench, cliOptionsFromEnv } from './cli.js';
import { consoleBench, consoleOptionsFromEnv } from './console.js';
import { datasetChecksumBench, datasetOptionsFromEnv } from './dataset-checksum.js';
import { driftBench, driftOptionsFromEnv } from './drift.js';
import { driftWindowsBench, driftWindowsOptionsFromEnv } from './drift-windows.js';
import { eventsBench, eventsOptionsFromEnv } from './events.js';
import { hotPathsBench, hotPathsOptionsFromEnv } from './hot-paths.js';
import { idleMemoryBench, idleMemoryOptionsFromEnv } from './idle-memory.js';
import { multipartBench, multipartOptionsFromEnv } from './multipart-throughput.js';
import { onnxBench, onnxOptionsFromEnv } from './onnx.js';
import { promotionBench, promotionOptionsFromEnv } from './promotion.js';
import { registrationOptionsFromEnv, runRegistrationLatency } from './registration-latency.js';
import { servingBench, servingOptionsFromEnv } from './serving.js';
import { shadowBench, shadowOptionsFromEnv } from './serving-shadow.js';

const BENCHES = {
  registration: () => runRegistrationLatency(registrationOptionsFromEnv(), print),
  artifact: () => runArtifactThroughput(artifactOptionsFromEnv(), print),
  multipart: () => multipartBench(multipartOptionsFromEnv(), print),
  pull: () => runArtifactPull(pullOptionsFromEnv(), print),
  dataset: () => datasetChecksumBench(datasetOptionsFromEnv(), print),
  audit: () => auditBench(auditOptionsFromEnv(), print),
  promotion: () => promotionBench(promotionOptionsFromEnv(), print),
  bundles: () => bundlesBench(bundlesOptionsFromEnv(), print),
  cli: () => cliBench(cliOptionsFromEnv(), print),
  onnx: () => onnxBench(onnxOptionsFromEnv(), print),
  predict: () => servingBench(servingOptionsFromEnv(), print),
  shadow: () => shadowBench(shadowOptionsFromEnv(), print),
  drift: () => driftBench(driftOptionsFromEnv(), print),
  'drift-windows': () => driftWindowsBench(driftWindowsOptionsFromEnv(), print),
  console: () => consoleBench(consoleOptionsFromEnv(), print),
  events: () => eventsBench(eventsOptionsFromEnv(), print),
  hotpaths: () => hotPathsBench(hotPathsOptionsFromEnv(), print),
  memory: () => idleMemoryBench(idleMemoryOptionsFromEnv(), print),
} as const;
type BenchName = keyof typeof BENCHES;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function selected(only: string | undefined): BenchName[] {
  const all = Object.keys(BENCHES) as BenchName[];
  if (only === undefined || only === '') return all;
  if (!(all as string[]).includes(only)) throw new Error(`BENCH_ONLY must be one of ${all.join(', ')}; got ${JSON.stringify(only)}`);
  return [only as BenchName];
}

let names: BenchName[] = [];
try {
  names = selected(process.env.BENCH_ONLY);
  // Read every option before starting anything, so a bad value fails fast.
  registrationOptionsFromEnv();
  artifactOptionsFromEnv();
  multipartOptionsFromEnv();
  pullOptionsFromEnv();
  datasetOptionsFromEnv();
  auditOptionsFromEnv();
  promotionOptionsFromEnv();
  bundlesOptionsFromEnv();
  cliOptionsFromEnv();
  onnxOptionsFromEnv();
  servingOptionsFromEnv();
  shadowOptionsFromEnv();
  driftOptionsFromEnv();
  driftWindowsOptionsFromEnv();
  consoleOptionsFromEnv();
  hotPathsOptionsFromEnv();
  idleMemoryOptionsFromEnv();
} catch (e) {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(2);
}

try {
  const cpu = cpus();
  print(`Aegis bench — node ${process.version}, ${platform()} ${arch()}, ${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}`);
  print('Times are from this machine and run only; read the ratios against the same-run references.');
  const started = performance.now();
  for (const name of names) await BENCHES[name]();
  print(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} catch (e) {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
}
