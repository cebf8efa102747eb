import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AegisError } from '../../lib/kernel/errors.js';
import { resolveCodeRef, resolveContainerDigest } from '../../lib/clients/training/provenance.js';
import { recordTraining } from '../../lib/clients/training/record.js';
import { reproduce } from '../../lib/clients/training/reproduce.js';
import { run } from '../support/spawn.js';

const exec = promisify(execFile);
const ROOT = process.cwd();
const DIGEST = `sha256:${'d'.repeat(64)}`;
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'aegis-training-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const runNode = (args: string[]) => run(process.execPath, args);

describe('reproducible training', () => {
  it('npm run train:smoke prints the same artifact sha256 in two fresh folders', async () => {
    const smoke = () => runNode([join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/train-smoke.ts']);
    const [a, b] = [await smoke(), await smoke()];
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(b.stdout.trim()).toBe(a.stdout.trim());
  });

  it('records everything that influences the artifact and passes the seed to the command', async () => {
    const out = join(tmp, 'cmd-run');
    const data = join(tmp, 'cmd-data.csv');
    await writeFile(data, 'x,label\n1,0\n');
    const result = await recordTraining({
      modelName: 'custom',
      datasets: [{ id: 'cmd-data', version: '1', path: data }],
      cmd: 'echo "seed=$AEGIS_SEED py=$PYTHONHASHSEED hp=$AEGIS_HYPERPARAMS data=$AEGIS_DATASET_CMD_DATA" > "$AEGIS_OUT_DIR/weights.txt"; echo \'{"f1":0.5}\' > "$AEGIS_OUT_DIR/metrics.json"',
      hyperparams: { depth: 3 },
      seed: 1234,
      code: { codeRef: 'a'.repeat(40), dirty: false, source: 'given' },
      containerDigest: DIGEST,
      outDir: out,
      artifactPath: join(tmp, 'cmd-run.tar.gz'),
      cwd: tmp,
    });
    expect(await readFile(join(out, 'weights.txt'), 'utf8')).toBe(`seed=1234 py=1234 hp={"depth":3} data=${data}\n`);
    const m = result.manifest;
    expect(m).toMatchObject({
      codeRef: 'a'.repeat(40),
      containerDigest: DIGEST,
      seed: 1234,
      hyperparams: { depth: 3 },
      metrics: { f1: 0.5 },
    });
    expect(m.trainingCmd).toContain('$AEGIS_OUT_DIR/weights.txt');
    expect(m.datasetRefs).toEqual([
      { id: 'cmd-data', version: '1', checksum: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), uri: `file://${data}` },
    ]);
    expect(m.environment).toMatchObject({ runtime: { node: process.version }, platform: process.platform });
    expect(m.artifactSize).toBeGreaterThan(0);
  });

  it('reproduce names the dataset checksum when one byte of the dataset changed', async () => {
    const data = join(tmp, 'repro-data');
    await cp(join(ROOT, 'test/data/sample'), data, { recursive: true });
    const code = { codeRef: 'image@sha256:abc', dirty: false, source: 'given' as const };
    const base = {
      modelName: 'repro',
      datasets: [{ id: 'sample', version: 'v1', path: data }],
      cmd: undefined,
      hyperparams: { epochs: 30 },
      seed: 9,
      code,
      containerDigest: DIGEST,
      cwd: tmp,
    };
    const first = await recordTraining({ ...base, outDir: join(tmp, 'repro-1'), artifactPath: join(tmp, 'repro-1.tar.gz') });

    const same = await reproduce({
      manifest: first.manifest,
      datasetPaths: {},
      containerDigest: DIGEST,
      cwd: tmp,
      outDir: join(tmp, 'repro-2'),
    });
    expect(same.differences).toEqual([]);
    expect(same.ok).toBe(true);
    expect(same.artifactSha256).toBe(first.manifest.artifactSha256);

    const csv = join(data, 'train.csv');
    const bytes = await readFile(csv);
    const i = bytes.lastIndexOf(0x31); // a '1' somewhere in the last rows
    bytes[i] = 0x30;
    await writeFile(csv, bytes);
    const changed = await reproduce({
      manifest: first.manifest,
      datasetPaths: {},
      containerDigest: `sha256:${'e'.repeat(64)}`,
      cwd: tmp,
      outDir: join(tmp, 'repro-3'),
    });
    expect(changed.ok).toBe(false);
    expect(changed.differences.map((d) => [d.what, d.subject])).toEqual(
      expect.arrayContaining([
        ['dataset', 'sample@v1'],
        ['containerDigest', undefined],
      ]),
    );
    expect(changed.differences.find((d) => d.what === 'dataset')).toMatchObject({
      expected: first.manifest.datasetRefs[0]!.checksum,
      reason: 'dataset sample checksum differs',
    });
  });

  it('refuses a dirty work tree unless --allow-dirty, and records it', async () => {
    const repo = join(tmp, 'repo');
    await mkdir(repo);
    const git = (...a: string[]) => exec('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...a], { cwd: repo });
    await git('init', '-q');
    await writeFile(join(repo, 'train.py'), 'print(1)\n');
    await git('add', '.');
    await git('commit', '-qm', 'init');
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    expect(await resolveCodeRef(repo, { allowDirty: false })).toEqual({ codeRef: head, dirty: false, source: 'git' });
    await writeFile(join(repo, 'train.py'), 'print(2)\n');
    await expect(resolveCodeRef(repo, { allowDirty: false })).rejects.toThrow(/uncommitted changes \(train.py\).*--allow-dirty/);
    expect(await resolveCodeRef(repo, { allowDirty: true })).toEqual({ codeRef: head, dirty: true, source: 'git' });
    await expect(resolveCodeRef(tmp, { allowDirty: false })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'codeRef' });
  });

  it.each([['latest'], ['sha256:abc'], [`sha256:${'A'.repeat(64)}`], [`md5:${'a'.repeat(64)}`]])('refuses the container digest %p', (d) => {
    expect(() => resolveContainerDigest(d)).toThrow(AegisError);
    expect(() => resolveContainerDigest(d)).toThrow(/must be sha256:<64 hex>/);
  });

  it('refuses a missing container digest with the way to give one', () => {
    expect(() => resolveContainerDigest(undefined)).toThrow(/--container-digest .*CONTAINER_DIGEST/);
  });
});
