import { spawn } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTree } from '../../scripts/dr-drill-steps.js';

// jest runs from the repository root (as the other CLI tests assume).
const root = process.cwd();

/** Runs an entry point in its own process, as an operator would: the compiled CLI, or a TypeScript script with tsx from node_modules. */
function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // jest's --experimental-vm-modules must not leak into the child (tsx brings its own loader),
  // nor a configured database or bucket.
  const {
    NODE_OPTIONS: _n,
    MODEL_REGISTRY_DATABASE_URL: _d,
    MODEL_REGISTRY_S3_BUCKET: _b,
    AEGIS_AUDIT_ARCHIVE_BUCKET: _a,
    ...parent
  } = process.env;
  const runner = script.endsWith('.ts') ? [join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs')] : [];
  const child = spawn(process.execPath, [...runner, join(root, script), ...args], {
    cwd: root,
    env: { ...parent, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}

let work: string | undefined;
afterAll(async () => {
  if (work) await removeTree(work);
});

describe('the disaster-recovery drill and the admin commands', () => {
  it('backs up, rebuilds from storage alone, verifies, finds no parity difference and exits 0', async () => {
    const r = await run('scripts/dr-drill.ts', ['--artifacts', '5', '--keep']);
    work = /work folder {3}(\S+) \(kept\)/.exec(r.stdout)?.[1];
    if (r.code !== 0) throw new Error(`drill exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    expect(r.stdout).toContain('5 artifacts (5 from the archive, 0 from storage)');
    expect(r.stdout).toMatch(/audit chain {3}ok \(\d+ events/);
    expect(r.stdout).toContain('manifests     5/5 verified');
    expect(r.stdout).toContain('parity        0 difference(s)');
    // the abandoned upload is told apart from a lost record: listed as pending, not an issue
    expect(r.stdout).toMatch(/storage {7}0 issue\(s\) over \d+ objects; 1 pending upload\(s\)/);
    expect(r.stdout).toMatch(/pending-upload +artifacts\/churn\/[0-9a-f-]+\/artifact .*\(store-mark\); not an issue/);
    expect(r.stdout).toContain('0 orphans, 1 pending uploads');
    expect(r.stdout).toMatch(/resume {8}ok/);
    expect(r.stdout.trimEnd().endsWith('DRILL PASSED')).toBe(true);
  }, 120_000);

  it('aegis rebuild-index rebuilds a folder holding only storage and exits 1 naming the keys that cannot sign; aegis parity finds it equal to the backup', async () => {
    expect(work).toBeDefined();
    const dir = join(work!, 'cli');
    // Storage only, not the key files: the rebuilt registry can verify but not sign.
    for (const part of ['objects', 'audit-archive']) await cp(join(work!, 'backup', part), join(dir, part), { recursive: true });
    const env = { AEGIS_DATA_DIR: dir, DEV_ALLOW_EPHEMERAL: 'true' };

    const rebuilt = await run('bin/aegis.js', ['rebuild-index', '--verify-bytes'], env);
    expect(rebuilt.stdout).toContain(
      'REBUILT WITH PROBLEMS  3 key(s), 3 dataset(s), 5 artifact(s) (5 from the audit archive, 0 from storage only)',
    );
    expect(rebuilt.stdout).toMatch(/signing-unavailable +key audit-signer-v1/);
    expect(rebuilt.stderr).toContain('aegis: read-archive: reading and verifying the audit archive');
    expect(rebuilt.code).toBe(1);

    const parity = await run('bin/aegis.js', ['parity', '--against-data-dir', join(work!, 'restored-dump')], env);
    expect(parity.stdout).toMatch(/^SAME {2}0 difference\(s\)/);
    expect(parity.code).toBe(0);
  }, 120_000);
});
