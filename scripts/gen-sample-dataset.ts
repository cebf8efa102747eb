/**
 * Writes the synthetic sample datasets the built-in trainer is tested and demonstrated on:
 *   test/data/sample/train.csv             2000 rows, 5 features, binary `label`
 *   test/data/sample-multiclass/train.csv   600 rows, 3 features, classes a/b/c
 * Seeded (lib/clients/training/prng.ts) and printed with fixed decimals, so re-running it reproduces
 * the committed files byte for byte. Run: `npx tsx scripts/gen-sample-dataset.ts`
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPrng, type Prng } from '../lib/clients/training/prng.js';
import { sigmoid } from '../lib/clients/training/logistic-regression.js';

export const SAMPLE_SEED = 20240611;
export const MULTICLASS_SEED = 20240612;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// toFixed is exactly specified by ECMAScript; only "-0.000" needs fixing for a canonical text.
const fmt = (v: number): string => {
  const s = v.toFixed(3);
  return /^-0\.0+$/.test(s) ? s.slice(1) : s;
};

/**
 * Binary data from a known logistic model. Scales differ by orders of magnitude (to exercise
 * standardisation); `weak_signal` is only mildly informative and `noise` not at all. The
 * Bernoulli draw of the label is the noise around the model.
 */
export function binarySample(rng: Prng, rows: number): string {
  const lines = ['age,income,ratio,weak_signal,noise,label'];
  for (let i = 0; i < rows; i += 1) {
    const age = 40 + 12 * rng.normal();
    const income = 52000 + 15000 * rng.normal();
    const ratio = rng.next();
    const weak = rng.normal();
    const noise = 100 + 5 * rng.normal();
    const logit = -0.3 + 2.2 * ((age - 40) / 12) - 1.9 * ((income - 52000) / 15000) + 4 * (ratio - 0.5) + 0.4 * weak;
    const label = rng.next() < sigmoid(logit) ? 1 : 0;
    lines.push([age, income, ratio, weak, noise].map(fmt).join(',') + `,${label}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Three Gaussian clusters (classes a, b, c) in 3 features of different scales. */
export function multiclassSample(rng: Prng, rows: number): string {
  const centres: Record<string, [number, number, number]> = { a: [0, 0, 0], b: [2, 0, 1], c: [0, 2, -1] };
  const scales = [1, 10, 0.1];
  const lines = ['x1,x2,x3,label'];
  for (let i = 0; i < rows; i += 1) {
    const cls = (['a', 'b', 'c'] as const)[rng.int(3)] as string;
    const centre = centres[cls] as [number, number, number];
    const values = centre.map((c, j) => (c + rng.normal()) * (scales[j] as number));
    lines.push(`${values.map(fmt).join(',')},${cls}`);
  }
  return `${lines.join('\n')}\n`;
}

function write(relDir: string, csv: string): void {
  const dir = join(root, relDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'train.csv'), csv, 'utf8');
  process.stdout.write(`wrote ${join(relDir, 'train.csv')} (${Buffer.byteLength(csv)} bytes)\n`);
}

write('test/data/sample', binarySample(createPrng(SAMPLE_SEED), 2000));
write('test/data/sample-multiclass', multiclassSample(createPrng(MULTICLASS_SEED), 600));
