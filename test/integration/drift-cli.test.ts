/** `aegis drift compare` run as a user runs it (the built CLI, a child process): output, exit codes, bad input. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrng } from '../../lib/clients/training/prng.js';
import { aegisCli } from '../support/spawn.js';

let dir: string;
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A CSV of `n` rows: age ~ N(40 + shift, 10), city (paris/lyon/nice, or a new one every `newCityEvery` rows), label. */
function csv(
  n: number,
  seed: number,
  opts: { shift?: number; newCityEvery?: number; header?: string; cell?: (i: number) => string | undefined } = {},
): string {
  const rng = createPrng(seed);
  const lines = [opts.header ?? 'age,city,label'];
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    const city = opts.newCityEvery && i % opts.newCityEvery === 0 ? 'brest' : u < 0.5 ? 'paris' : u < 0.8 ? 'lyon' : 'nice';
    const age = (40 + (opts.shift ?? 0) + 10 * rng.normal()).toFixed(2);
    lines.push(`${opts.cell?.(i) ?? age},${city},${rng.next() < 0.3 ? 'yes' : 'no'}`);
  }
  return `${lines.join('\n')}\n`;
}

let ref: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aegis-drift-cli-'));
  ref = file('ref.csv', csv(20_000, 1));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Report {
  verdict: string;
  drift: boolean;
  labelColumn: string | null;
  features: {
    feature: string;
    kind: string;
    drift: boolean;
    js: number;
    ks?: { method: string; pValue: number };
    unseen?: { category: string; share: number }[];
  }[];
  findings: { finding: string; column: string; count: number; first?: { line: number } }[];
}
const json = (stdout: string): Report => JSON.parse(stdout) as Report;

describe('aegis drift compare', () => {
  it('no drift: exit 0, a table naming every column and the verdict', async () => {
    const res = await aegisCli(['drift', 'compare', '--reference', ref, '--current', file('same.csv', csv(5000, 2))]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/age\s+numeric/);
    expect(res.stdout).toMatch(/city\s+categorical/);
    expect(res.stdout).toMatch(/verdict: NO-DRIFT/);
  });

  it('drift: exit 1; --json gives every statistic, raw-sample KS, unseen categories by name and the label column', async () => {
    const cur = file('shift.csv', csv(5000, 3, { shift: 5, newCityEvery: 10 }));
    const res = await aegisCli(['drift', 'compare', '--reference', ref, '--current', cur, '--json']);
    expect(res.code).toBe(1);
    const r = json(res.stdout);
    expect(r.verdict).toBe('drift');
    expect(r.labelColumn).toBe('label');
    const age = r.features.find((f) => f.feature === 'age')!;
    expect(age).toMatchObject({ kind: 'numeric', drift: true, ks: { method: 'asymptotic' } });
    const city = r.features.find((f) => f.feature === 'city')!;
    expect(city.kind).toBe('categorical');
    expect(city.unseen![0]!.category).toBe('brest');
    expect(city.unseen![0]!.share).toBeCloseTo(0.1, 3);
  });

  it('too few rows: insufficient-data, nothing decided, exit 0', async () => {
    const res = await aegisCli([
      'drift',
      'compare',
      '--reference',
      ref,
      '--current',
      file('few.csv', csv(300, 4, { shift: 20 })),
      '--json',
    ]);
    expect(res.code).toBe(0);
    expect(json(res.stdout)).toMatchObject({ verdict: 'insufficient-data', drift: false });
  });

  it('a numeric column arriving as text is a type-mismatch finding naming column and line', async () => {
    const cur = file('text.csv', csv(5000, 5, { cell: (i) => (i % 2 ? 'forty' : undefined) }));
    const res = await aegisCli(['drift', 'compare', '--reference', ref, '--current', cur, '--json']);
    expect(res.code).toBe(1);
    const r = json(res.stdout);
    expect(r.findings).toEqual([
      expect.objectContaining({ finding: 'type-mismatch', column: 'age', count: 2500, first: { line: 3, value: 'forty' } }),
    ]);
    expect(r.features.find((f) => f.feature === 'age')!.drift).toBe(true);
  });

  it.each([
    ['a missing column', () => file('missing.csv', 'age,label\n1,yes\n'), /missing column\(s\) "city"/],
    ['an unknown column', () => file('unknown.csv', 'age,city,label,zip\n1,paris,yes,75\n'), /unknown column\(s\) "zip"/],
    ['an empty file', () => file('empty.csv', ''), /empty file/],
    ['a header without rows', () => file('header.csv', 'age,city,label\n'), /no data rows/],
    ['a NaN cell', () => file('nan.csv', 'age,city,label\n1,paris,yes\nNaN,lyon,no\n'), /line 3, column "age": NaN is not a finite number/],
    ['an inf cell', () => file('inf.csv', 'age,city,label\n-inf,paris,yes\n'), /line 2, column "age": -inf is not a finite number/],
    ['a file that does not exist', () => join(dir, 'nope.csv'), /--current .*nope\.csv/],
  ])('%s in the current file: exit 2 naming it', async (_name, make, message) => {
    const res = await aegisCli(['drift', 'compare', '--reference', ref, '--current', make()]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(message);
  });

  it('--label must name a column of the reference; neither --reference nor --baseline is a usage error', async () => {
    const cur = file('same2.csv', csv(1000, 6));
    const bad = await aegisCli(['drift', 'compare', '--reference', ref, '--current', cur, '--label', 'outcome']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringMatching(/no label column "outcome"/)]);
    const none = await aegisCli(['drift', 'compare', '--current', cur]);
    expect([none.code, none.stderr]).toEqual([2, expect.stringMatching(/needs --reference, --baseline or both/)]);
  });

  it('--baseline: the bins come from the profile (v1 read as v2); a bad field is named', async () => {
    const v1 = {
      format: 'aegis.baseline/v1',
      rows: 4,
      featureOrder: ['age'],
      features: {
        age: {
          count: 4,
          mean: 40,
          std: 10,
          min: 0,
          max: 80,
          quantiles: {},
          histogram: { edges: [0, 20, 40, 60, 80], counts: [1, 1, 1, 1] },
        },
      },
      labels: { yes: { count: 2, fraction: 0.5 }, no: { count: 2, fraction: 0.5 } },
    };
    const cur = file(
      'ages.csv',
      csv(2000, 7, { header: 'age,city,label' })
        .replace(/,(paris|lyon|nice)/g, '')
        .replace('age,city,label', 'age,label'),
    );
    const ok = await aegisCli(['drift', 'compare', '--baseline', file('v1.json', JSON.stringify(v1)), '--current', cur, '--json']);
    expect(ok.code).toBe(1); // the baseline is uniform over [0, 80], the window N(40, 10): drift
    expect(json(ok.stdout).features.map((f) => f.feature)).toEqual(['age']);
    const broken = { ...v1, features: { age: { ...v1.features.age, histogram: { edges: [0, 'x'], counts: [1] } } } };
    const bad = await aegisCli(['drift', 'compare', '--baseline', file('bad.json', JSON.stringify(broken)), '--current', cur]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/features\.age\.histogram\.edges\.1/);
  });

  it('--manifest: the baseline must be the one the manifest pins (baselineSha256); a swapped one is refused, naming both', async () => {
    const baseline = file('pinned.json', (await aegisCli(['baseline', '--data', ref])).stdout);
    const pinned = createHash('sha256').update(readFileSync(baseline)).digest('hex');
    const manifest = file('manifest.json', JSON.stringify({ baselineSha256: pinned }));
    const same = await aegisCli(['drift', 'compare', '--baseline', baseline, '--manifest', manifest, '--current', ref]);
    expect(same.code).toBe(0);
    const swapped = file('swapped.json', (await aegisCli(['baseline', '--data', file('other.csv', csv(3000, 9, { shift: 5 }))])).stdout);
    const refused = await aegisCli(['drift', 'compare', '--baseline', swapped, '--manifest', manifest, '--current', ref]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`is not the manifest's baselineSha256 ${pinned}`);
    const unpinned = await aegisCli(['drift', 'compare', '--baseline', baseline, '--manifest', file('plain.json', '{}'), '--current', ref]);
    expect(unpinned.code).toBe(2);
    expect(unpinned.stderr).toMatch(/the manifest pins no baseline/);
  });
});
