/**
 * The ONNX runtime as serving pays for it: importing onnxruntime-node, a session from the
 * fixture's bytes (load, then close), and `predict` latency for 1 and 100 rows, each next to
 * the same rows computed in plain JavaScript from the fixture's closed form (the reference:
 * what the arithmetic alone costs here). The fixture is test/fixtures/onnx/classifier.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OnnxModelRuntime } from '../lib/platform/adapters/model-runtime/onnx.js';
import { envInt, ms, percentile, ratio, table } from './stats.js';

export const onnxOptionsFromEnv = () => ({ loads: envInt('BENCH_ONNX_LOADS', 20), runs: envInt('BENCH_ONNX_RUNS', 2000) });

const FIXTURE = fileURLToPath(new URL('../test/fixtures/onnx/classifier', import.meta.url));
/** The fixture's weights (scripts/make-onnx-fixture.py): standardise, dot, sigmoid. */
const MEAN = [24, 60, 2, 40];
const STD = [12, 25, 1.5, 12];
const W = [-1.2, 0.8, 1.5, -0.3];
const B = -0.4;

function closedForm(rows: readonly (readonly number[])[]): number[] {
  return rows.map((r) => 1 / (1 + Math.exp(-(r.reduce((z, v, j) => z + ((v - MEAN[j]!) / STD[j]!) * W[j]!, 0) + B))));
}

async function timed(runs: number, fn: () => unknown): Promise<number[]> {
  for (let i = 0; i < Math.min(200, runs); i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

export async function onnxBench(opts: { loads: number; runs: number }, print: (line: string) => void): Promise<void> {
  print('\n## ONNX runtime (onnxruntime-node, 4-feature logistic regression)');
  const files = new Map(readdirSync(FIXTURE).map((f) => [f, new Uint8Array(readFileSync(join(FIXTURE, f)))]));
  let t = performance.now();
  await import('onnxruntime-node');
  const importMs = performance.now() - t;
  const runtime = new OnnxModelRuntime();
  const loads: number[] = [];
  for (let i = 0; i < opts.loads; i++) {
    t = performance.now();
    const m = await runtime.load(files);
    loads.push(performance.now() - t);
    await m.close();
  }
  const model = await runtime.load(files);
  const rows = (n: number) => Array.from({ length: n }, (_, i) => [i % 48, 20 + (i % 90), i % 6, 18 + (i % 60)]);
  const table1: string[][] = [];
  try {
    for (const n of [1, 100]) {
      const batch = rows(n);
      const onnx = await timed(opts.runs, () => model.predict(batch));
      const js = await timed(opts.runs, () => closedForm(batch));
      const us = (v: number) => `${(v * 1000).toFixed(1)} µs`;
      table1.push([
        `${n} row${n > 1 ? 's' : ''}`,
        us(percentile(onnx, 50)),
        us(percentile(onnx, 99)),
        us(percentile(js, 50)),
        ratio(percentile(onnx, 50) / percentile(js, 50)),
      ]);
    }
  } finally {
    await model.close();
  }
  print(
    `import onnxruntime-node: ${ms(importMs)}; load (session from bytes + checks) p50 ${ms(percentile(loads, 50))}, max ${ms(Math.max(...loads))} of ${opts.loads}`,
  );
  print(table(['batch', 'predict p50', 'predict p99', 'plain JS p50', 'vs plain JS'], table1));
}
