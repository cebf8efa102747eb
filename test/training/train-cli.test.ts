import { cp, readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startStack, type Stack } from '../support/local-stack.js';
import { aegisCli } from '../support/spawn.js';

const ROOT = process.cwd();
const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
let stack: Stack;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '', CONTAINER_DIGEST: DIGEST };
});
afterAll(async () => {
  await stack?.stop();
});

const aegis = (args: string[], extraEnv: Record<string, string> = {}) => aegisCli(args, { ...env, ...extraEnv });

describe('aegis train --record / reproduce (CLI, local stack)', () => {
  it('trains with the built-in trainer, registers datasets and artifact, and reproduces bit for bit', async () => {
    const data = join(stack.dataDir, 'sample');
    await cp(join(ROOT, 'test/data/sample'), data, { recursive: true });
    const out = join(stack.dataDir, 'run1');
    const res = await aegis([
      '--json',
      'train',
      '--record',
      '--model',
      'churn',
      '--dataset',
      `sample@v1=${data}`,
      '--hyperparams',
      '{"epochs":40}',
      '--seed',
      '11',
      '--out',
      out,
      '--register',
      '--code-ref',
      'ci-build-42',
    ]);
    expect(res.stderr).toMatch(/hashing dataset sample@v1/);
    expect(res.stderr).toMatch(/packing/);
    expect(res.code).toBe(0);
    const summary = JSON.parse(res.stdout);
    expect(summary.registration).toMatchObject({ modelName: 'churn', version: 1, replayed: false });
    const manifest = JSON.parse(await readFile(summary.manifestPath, 'utf8'));
    expect(manifest).toMatchObject({
      artifactId: summary.registration.artifactId,
      codeRef: 'ci-build-42',
      containerDigest: DIGEST,
      seed: 11,
      trainingCmd: 'aegis builtin-train',
      hyperparams: { epochs: 40 },
    });
    expect(manifest.metrics.accuracy).toBeGreaterThan(0.6);
    const ds = await stack.api('GET', '/v1/datasets/sample/versions/v1');
    expect(ds.body.checksum).toBe(manifest.datasetRefs[0].checksum);
    expect((await stack.api('GET', `/v1/registry/${summary.registration.artifactId}/validate`)).body.ok).toBe(true);

    const again = await aegis(['reproduce', '--manifest', summary.manifestPath]);
    expect(again.stdout).toMatch(/^REPRODUCED {2}artifact sha256 [0-9a-f]{64}/);
    expect(again.code).toBe(0);

    const csv = join(data, 'train.csv');
    const bytes = await readFile(csv);
    bytes[bytes.length - 6] = bytes[bytes.length - 6] === 0x31 ? 0x32 : 0x31; // a digit of the last row
    await writeFile(csv, bytes);
    const differs = await aegis(['reproduce', '--manifest', summary.manifestPath]);
    expect(differs.code).toBe(1);
    expect(differs.stdout).toMatch(/^DIFFERS/);
    expect(differs.stdout).toMatch(/dataset sample@v1: dataset sample checksum differs/);
    expect(differs.stdout).toMatch(/artifact: the rebuilt artifact bytes differ/);

    // a change that breaks the training run itself still reports the dataset difference
    await writeFile(csv, `${(await readFile(csv, 'utf8')).trimEnd()},extra\n`);
    const broken = await aegis(['reproduce', '--manifest', summary.manifestPath]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/dataset sample@v1: dataset sample checksum differs/);
    expect(broken.stdout).toMatch(/note: training failed: /);
  });

  it('registers nothing when the training command fails, and says why', async () => {
    const data = join(stack.dataDir, 'fail.csv');
    await writeFile(data, 'x,label\n1,0\n');
    const before = (await stack.api('GET', '/v1/registry/models')).body.items.length;
    const res = await aegis([
      'train',
      '--model',
      'broken',
      '--dataset',
      `fail@1=${data}`,
      '--cmd',
      'echo training; exit 3',
      '--out',
      join(stack.dataDir, 'fail-out'),
      '--register',
      '--code-ref',
      'x',
    ]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/training command failed with exit code 3: echo training; exit 3 — nothing was registered/);
    expect((await stack.api('GET', '/v1/registry/models')).body.items.length).toBe(before);
    expect((await stack.api('GET', '/v1/datasets/fail/versions/1')).status).toBe(404);
    expect(await readdir(stack.dataDir)).not.toContain('fail-out.tar.gz');
  });

  it('refuses a malformed container digest before running anything', async () => {
    const res = await aegis(
      ['train', '--model', 'm', '--dataset', join(ROOT, 'test/data/sample'), '--out', join(stack.dataDir, 'never'), '--code-ref', 'x'],
      { CONTAINER_DIGEST: 'sha256:latest' },
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/container digest "sha256:latest" must be sha256:<64 hex>/);
    expect(await readdir(stack.dataDir)).not.toContain('never');
  });
});
