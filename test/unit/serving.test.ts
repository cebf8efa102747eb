import { pack } from 'tar-stream';
import { gzipSync } from 'fflate';
import { chooseVariant, toMatrix, type ServingRoute } from '../../lib/modules/serving/domain.js';
import { RouteCache } from '../../lib/modules/serving/route-cache.js';
import { unpackTarGz, UnpackError } from '../../lib/modules/serving/unpack.js';
import { assignmentBucket } from '../../lib/kernel/canary-assignment.js';

const FEATURES = ['age', 'income'];
const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code?: string }).code, field: (e as { field?: string }).field };
  }
  throw new Error('did not throw');
};

describe('serving inputs', () => {
  it('takes rows as arrays in training order or as objects keyed by feature name', () => {
    expect(toMatrix([[41, 52000], { income: 61000, age: 39 }], FEATURES)).toEqual([
      [41, 52000],
      [39, 61000],
    ]);
  });

  it.each([
    ['a missing feature', [[1, 2], { age: 3 }], 'inputs[1].income'],
    ['an unknown feature', [{ age: 1, income: 2, height: 3 }], 'inputs[0].height'],
    ['a non-numeric value', [[1, 2], [1, 2], [1, 2], { age: '41', income: 2 }], 'inputs[3].age'],
    ['a wrong value count', [[1, 2, 3]], 'inputs[0]'],
    ['a non-finite number in an array', [[1, Number.NaN]], 'inputs[0][1]'],
    ['a row that is neither', ['41,52000'], 'inputs[0]'],
    ['a key that is not an identifier', [{ age: 1, income: 2, 'a b': 3 }], 'inputs[0]["a b"]'],
    ['no rows', [], 'inputs'],
  ])('refuses %s as VALIDATION_FAILED naming the field', (_, inputs, field) => {
    expect(fieldOf(() => toMatrix(inputs as unknown[], FEATURES))).toEqual({ code: 'VALIDATION_FAILED', field });
  });

  it('refuses more than 1000 rows', () => {
    const rows = Array.from({ length: 1001 }, () => [1, 2]);
    expect(fieldOf(() => toMatrix(rows, FEATURES))).toEqual({ code: 'VALIDATION_FAILED', field: 'inputs' });
  });
});

describe('variant choice', () => {
  const route: ServingRoute = { modelName: 'm', env: 'prod', stable: 'a1', canary: 'a2', percent: 50, promotionId: 'p-1' };

  it('sends a key to the canary exactly when its bucket is below percent × 100', () => {
    for (let i = 0; i < 200; i++) {
      const key = `k-${i}`;
      expect(chooseVariant(route, key)).toBe(assignmentBucket('p-1', key) < 5000 ? 'canary' : 'stable');
    }
  });

  it('sends everything to the stable without a canary', () => {
    expect(chooseVariant({ ...route, canary: null }, 'k')).toBe('stable');
    expect(chooseVariant({ ...route, percent: 0 }, 'k')).toBe('stable');
  });
});

describe('route cache', () => {
  it('serves a route from memory for the TTL and reads it again after: a rollback reaches traffic within the bound', async () => {
    let now = 1_000_000;
    const clock = { now: () => new Date(now) };
    let current: ServingRoute = { modelName: 'm', env: 'prod', stable: 'a1', canary: 'a2', percent: 10, promotionId: 'p' };
    let reads = 0;
    const cache = new RouteCache(
      async () => {
        reads++;
        return current;
      },
      clock,
      5,
    );
    expect((await cache.get('m', 'prod')).canary).toBe('a2');
    current = { ...current, canary: null, percent: 0 }; // rolled back
    now += 4_999;
    expect((await cache.get('m', 'prod')).canary).toBe('a2'); // still within the bound
    now += 1;
    expect((await cache.get('m', 'prod')).canary).toBeNull(); // never longer than the TTL
    expect(reads).toBe(2);
  });

  it('does not cache a failed read', async () => {
    let fail = true;
    const cache = new RouteCache(
      async () => {
        if (fail) throw new Error('db down');
        return { modelName: 'm', env: 'e', stable: 'a', canary: null, percent: 0, promotionId: null };
      },
      { now: () => new Date(0) },
      5,
    );
    await expect(cache.get('m', 'e')).rejects.toThrow('db down');
    fail = false;
    await expect(cache.get('m', 'e')).resolves.toMatchObject({ stable: 'a' });
  });
});

async function tarGz(entries: { name: string; type?: 'file' | 'directory' | 'symlink'; body?: string; linkname?: string }[]) {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const type = e.type ?? 'file';
    if (type === 'file') p.entry({ name: e.name }, e.body ?? '');
    else p.entry({ name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}) });
  }
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

describe('artifact unpacking', () => {
  it('returns regular files by path without a leading ./', async () => {
    const files = await unpackTarGz(
      await tarGz([
        { name: './', type: 'directory' },
        { name: './model.json', body: '{}' },
        { name: 'w/a.bin', body: 'x' },
      ]),
    );
    expect([...files.keys()].sort()).toEqual(['model.json', 'w/a.bin']);
    expect(Buffer.from(files.get('model.json')!).toString()).toBe('{}');
  });

  it.each([
    ['a path escaping the folder', [{ name: '../evil', body: 'x' }], /unsafe path/],
    ['an absolute path', [{ name: '/etc/passwd', body: 'x' }], /unsafe path/],
    ['a symlink', [{ name: 'model.json', type: 'symlink' as const, linkname: '/etc/passwd' }], /symlink entry/],
    [
      'the same file twice',
      [
        { name: 'a', body: '1' },
        { name: './a', body: '2' },
      ],
      /twice/,
    ],
  ])('refuses an archive with %s', async (_, entries, message) => {
    const err = await unpackTarGz(await tarGz(entries)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnpackError);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses bytes that are not gzip', async () => {
    await expect(unpackTarGz(new TextEncoder().encode('a pickle, perhaps'))).rejects.toThrow(UnpackError);
  });
});
