import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '../../lib/kernel/canonical.js';
import { aegisCli } from '../support/spawn.js';

const SAMPLE = join(process.cwd(), 'test/data/sample/train.csv');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aegis-baseline-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const csv = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe('aegis baseline --data CSV', () => {
  it('writes the v2 profile as canonical JSON + newline to --out and prints its sha256 on stderr', async () => {
    const out = join(dir, 'sample-baseline.json');
    const res = await aegisCli(['baseline', '--data', SAMPLE, '--label', 'label', '--out', out]);
    expect(res.code).toBe(0);
    const bytes = await readFile(out);
    expect(res.stderr).toContain(`baseline sha256 ${sha256(bytes)}`);
    expect(res.stdout).toMatch(/wrote .*: 2000 rows, 5 features/);
    const text = bytes.toString('utf8');
    expect(text).toBe(`${canonicalJson(JSON.parse(text))}\n`);
    const p = JSON.parse(text);
    expect(p).toMatchObject({ format: 'aegis.baseline/v2', rows: 2000, featureOrder: ['age', 'income', 'ratio', 'weak_signal', 'noise'] });
    expect(p.label.categories).toEqual(['0', '1']);
    expect(p.label.counts.reduce((a: number, b: number) => a + b, 0)).toBe(2000);
    expect(p.features.age.edges).toHaveLength(21);
    // no model: no scores, metrics or feature ranking
    expect(p.predictions).toBeUndefined();
    expect(p.holdoutMetrics).toBeUndefined();
    expect(p.topFeatures).toBeUndefined();
    // deterministic: the same CSV gives the same bytes
    const again = await aegisCli(['baseline', '--data', SAMPLE, '--label', 'label']);
    expect(again.stdout).toBe(text);
    expect(again.stderr).toContain(sha256(text));
  });

  it('detects numeric and categorical columns, counting empty cells as missing; --json reports the sha256', async () => {
    const data = await csv('mixed.csv', 'x,city,empty,y\n1.5,paris,,a\n,berlin,,b\n-2,paris,,a\n3e2,,,a\n');
    const out = join(dir, 'mixed.json');
    const res = await aegisCli(['--json', 'baseline', '--data', data, '--label', 'y', '--out', out]);
    expect(res.code).toBe(0);
    const bytes = await readFile(out);
    expect(JSON.parse(res.stdout)).toEqual({ sha256: sha256(bytes), rows: 4, features: 3, out });
    const p = JSON.parse(bytes.toString('utf8'));
    expect(p.features.x).toMatchObject({ kind: 'numeric', count: 3, missing: 1, min: -2, max: 300 });
    expect(p.features.city).toEqual({ kind: 'categorical', count: 3, missing: 1, categories: ['paris', 'berlin'], counts: [2, 1, 0, 1] });
    expect(p.features.empty).toEqual({ kind: 'categorical', count: 0, missing: 4, categories: [], counts: [0, 4] });
    expect(p.label).toEqual({ column: 'y', categories: ['a', 'b'], counts: [3, 1] });
  });

  it('takes a column named `label` as the label by default (as drift compare does); --no-label profiles it as a feature', async () => {
    const data = await csv('default-label.csv', 'x,label\n1,a\n2,b\n3,a\n');
    const labelled = JSON.parse((await aegisCli(['baseline', '--data', data])).stdout);
    expect(labelled.featureOrder).toEqual(['x']);
    expect(labelled.label).toEqual({ column: 'label', categories: ['a', 'b'], counts: [2, 1] });
    const unlabelled = JSON.parse((await aegisCli(['baseline', '--data', data, '--no-label'])).stdout);
    expect(unlabelled.featureOrder).toEqual(['x', 'label']);
    expect(unlabelled.label).toBeUndefined();
    // without a `label` column and without --label, every column is a feature
    const plain = JSON.parse((await aegisCli(['baseline', '--data', await csv('no-label.csv', 'x,y\n1,2\n')])).stdout);
    expect(plain.featureOrder).toEqual(['x', 'y']);
  });

  const refused = async (name: string, text: string | null, args: string[], pattern: RegExp) => {
    const data = text === null ? join(dir, 'missing.csv') : await csv(name, text);
    const out = join(dir, `${name}.out.json`);
    const res = await aegisCli(['baseline', '--data', data, ...args, '--out', out]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(pattern);
    // nothing written, not even a partial file
    expect((await readdir(dir)).filter((f) => f.startsWith(`${name}.out.json`))).toEqual([]);
  };

  it('refuses an empty file and a header without rows', async () => {
    await refused('empty.csv', '', [], /empty\.csv is empty: a header row is required/);
    await refused('header.csv', 'a,b\n', [], /header\.csv has a header but no data rows/);
    await refused('none', null, [], /cannot read .*missing\.csv/);
  });

  it('refuses an unknown --label naming the column and the header', async () => {
    await refused('label.csv', 'a,b\n1,2\n', ['--label', 'target'], /label\.csv: label column "target" is not in the header \(a, b\)/);
  });

  it('refuses a ragged row naming the file, row and line', async () => {
    await refused('ragged.csv', 'a,b\n1,2\n3\n', [], /ragged\.csv: row 2 \(line 3\) has 1 fields, the header 2/);
  });

  it.each([
    ['nan.csv', 'a,b\n1,x\nNaN,y\n', /nan\.csv: row 2 \(line 3\), column "a": "NaN" is not a finite number/],
    ['inf.csv', 'a,b\n1,x\n2,y\n-inf,z\n', /inf\.csv: row 3 \(line 4\), column "a": "-inf" is not a finite number/],
    ['huge.csv', 'a\n1e999\n', /huge\.csv: row 1 \(line 2\), column "a": "1e999" is not a finite number/],
  ])('refuses NaN and infinite numbers in a numeric column (%s)', async (name, text, pattern) => {
    await refused(name, text, [], pattern);
  });
});
