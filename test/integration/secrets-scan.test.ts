/**
 * `npm run secrets` (scripts/secrets-scan.ts) on a throwaway git repository: a fake key of each
 * kind Aegis cares about is caught and its file named; placeholders and public material are not;
 * the repository's own allow-list (.secretlintignore) excuses exactly the upgrade fixtures' files.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../support/spawn.js';

const REPO = process.cwd();
let dir: string;

const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
const rsaPem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
// A made-up key id in AWS's format (not the documentation example, which is allowed).
const awsKeyId = () => `AKIA${randomBytes(10).toString('hex').toUpperCase().slice(0, 16)}`;
// 40 characters; letters and digits only, so the preset's pattern (which ends at a word boundary) always applies
const awsSecret = () => randomBytes(30).toString('base64').replace(/[+/]/g, 'Q');

function put(path: string, content: string) {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), content);
}
const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' });

/** Runs the scan on the temp repo; the stylish report as file → the message ids found in it. */
async function scan() {
  const r = await run(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/secrets-scan.ts'), dir], { cwd: REPO });
  const found = new Map<string, Set<string>>();
  let file = '';
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith(`${dir}/`)) file = line.slice(dir.length + 1).trim();
    const id = /^\s+\d+:\d+\s+error\s+\[(\w+)\]/.exec(line)?.[1];
    if (id) found.set(file, new Set([...(found.get(file) ?? []), id]));
  }
  return {
    code: r.code,
    stdout: r.stdout,
    stderr: r.stderr,
    found: Object.fromEntries([...found].map(([f, ids]) => [f, [...ids].sort()])),
  };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'aegis-secrets-'));
  git('init', '-q');
  copyFileSync(join(REPO, '.secretlintignore'), join(dir, '.secretlintignore'));
  // Clean material that looks like a key: placeholders, public keys, AWS's documentation example.
  put('README.md', '# demo\n\n```\n-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n```\n');
  put('docs/example.env', 'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\nAEGIS_TOKEN=aegis_<your token>\n');
  put('keys/signer.pub.pem', generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }) as string);
  put('src/index.ts', "export const tokenPrefix = 'aegis_';\n");
  git('add', '-A');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run secrets (scripts/secrets-scan.ts)', () => {
  it('passes a repository holding only placeholders, public keys and the documentation example', async () => {
    const r = await scan();
    expect({ code: r.code, found: r.found, stderr: r.stderr }).toEqual({ code: 0, found: {}, stderr: '' });
    expect(r.stdout).toContain('secrets: 5 files clean');
  });

  it('reports each kind of planted key, naming its file and what it found, and exits 1', async () => {
    put('keys/dev-signer.pem', ed25519Pem());
    put('config/signer.json', `${JSON.stringify({ kid: 'manifest-signer-v1', privateKey: ed25519Pem() }, null, 2)}\n`);
    put('keys/legacy-rsa.pem', rsaPem());
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', join(dir, 'keys/deploy_ed25519')]);
    put('ops/.env', `AWS_ACCESS_KEY_ID=${awsKeyId()}\nAWS_SECRET_ACCESS_KEY=${awsSecret()}\n`);
    put('src/client.ts', `export const keyId = '${awsKeyId()}';\n`);
    put('notes/token.txt', `curl -H 'Authorization: Bearer aegis_${randomBytes(32).toString('base64url')}' …\n`);
    git('add', '-A');
    put('scratch/untracked.pem', ed25519Pem()); // not yet added: caught before it is committed
    const r = await scan();
    expect(r.code).toBe(1);
    expect(r.found).toEqual({
      'keys/dev-signer.pem': ['ShortPrivateKey'],
      'config/signer.json': ['ShortPrivateKey'],
      'keys/legacy-rsa.pem': ['PrivateKey'],
      'keys/deploy_ed25519': ['PrivateKey'],
      'ops/.env': ['AWSSecretAccessKey', 'AwsAccessKeyId'],
      'src/client.ts': ['AwsAccessKeyId'],
      'notes/token.txt': ['AegisToken'],
      'scratch/untracked.pem': ['ShortPrivateKey'],
    });
    // masked: the report never repeats a secret
    expect(r.stdout).not.toContain(readFileSync(join(dir, 'keys/dev-signer.pem'), 'utf8').split('\n')[1]);
  });

  it("excuses only the allow-list's files: the same key elsewhere, even beside them, is reported", async () => {
    for (const f of readdirTracked()) if (!f.startsWith('.') && f !== 'README.md') git('rm', '-q', '-f', f);
    rmSync(join(dir, 'scratch'), { recursive: true, force: true });
    const key = ed25519Pem();
    const token = `aegis_${randomBytes(32).toString('base64url')}`;
    put('test/fixtures/upgrade/0a1b2c3/pglite/fixture-dev-approver-keys/ap-1.pem', key);
    put('test/fixtures/upgrade/0a1b2c3/manifest.json', JSON.stringify({ tokens: { admin: token } }));
    put('test/fixtures/upgrade/0a1b2c3/pglite/fixture-dev-approver-keys/other.pem', key);
    put('test/fixtures/upgrade/0a1b2c3/pglite/ap-1.pem', key);
    put('test/fixtures/keys/ap-1.pem', key);
    put('test/fixtures/upgrade/0a1b2c3/notes.json', JSON.stringify({ admin: token }));
    put('lib/manifest.json', JSON.stringify({ admin: token }));
    git('add', '-A');
    const r = await scan();
    expect({ code: r.code, found: r.found }).toEqual({
      code: 1,
      found: {
        'test/fixtures/upgrade/0a1b2c3/pglite/fixture-dev-approver-keys/other.pem': ['ShortPrivateKey'],
        'test/fixtures/upgrade/0a1b2c3/pglite/ap-1.pem': ['ShortPrivateKey'],
        'test/fixtures/keys/ap-1.pem': ['ShortPrivateKey'],
        'test/fixtures/upgrade/0a1b2c3/notes.json': ['AegisToken'],
        'lib/manifest.json': ['AegisToken'],
      },
    });
  });

  it('does not scan files git ignores (they are never committed)', async () => {
    put('.gitignore', '*.local\n');
    put('signer.local', ed25519Pem());
    const r = await scan();
    expect(Object.keys(r.found)).toContain('lib/manifest.json');
    expect(Object.keys(r.found)).not.toContain('signer.local');
  });
});

function readdirTracked(): string[] {
  return git('ls-files', '-z').split('\0').filter(Boolean);
}
