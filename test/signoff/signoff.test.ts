/**
 * `aegis signoff` and `aegis signoff verify` in a temporary git repository: both roles sign a
 * passing report for the release commit and verify; each tampering fails, naming what is wrong.
 */
import { generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, canonicalSha256 } from '../../lib/kernel/canonical.js';
import { startStack } from '../support/local-stack.js';
import { run } from '../support/spawn.js';

const CLI = join(process.cwd(), 'bin/aegis.js');
let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const aegis = (...args: string[]) => run(process.execPath, [CLI, ...args], { cwd: repo });

/** A key pair on disk and its key-ring entry. */
function keyFor(kid: string, purpose: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const file = join(repo, '..', `${kid}.pem`);
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }));
  const record = {
    kid,
    purpose,
    alg: 'ed25519',
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    backend: 'external',
    owner: kid,
    notBefore: '2020-01-01T00:00:00.000Z',
    notAfter: null,
    revokedAt: null,
  };
  writeFileSync(`${file}.pub`, record.publicKey);
  return { file, record };
}

let ml: ReturnType<typeof keyFor>;
let sec: ReturnType<typeof keyFor>;
let trusted: string;
let report: string;
let first: string;
let release: string;

const sign = (role: string, key: { file: string; record: { kid: string } }, rel = release) =>
  aegis('signoff', '--role', role, '--key', key.file, '--kid', key.record.kid, '--report', report, '--release', rel);
const verify = () => aegis('signoff', 'verify', '--trusted-keys', trusted);

beforeEach(() => {
  const base = mkdtempSync(join(tmpdir(), 'aegis-signoff-'));
  repo = join(base, 'repo');
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  git('config', 'user.email', 'ci@example.com');
  git('config', 'user.name', 'ci');
  writeFileSync(join(repo, 'app.ts'), 'export const v = 1;\n');
  git('add', '.');
  git('commit', '-q', '-m', 'first');
  first = git('rev-parse', 'HEAD');
  writeFileSync(join(repo, 'app.ts'), 'export const v = 2;\n');
  git('commit', '-q', '-am', 'release');
  release = git('rev-parse', 'HEAD');
  ml = keyFor('ml-lead-1', 'signoff:ml_lead');
  sec = keyFor('security-1', 'signoff:security_engineer');
  trusted = join(base, 'trusted-keys.json');
  writeFileSync(trusted, JSON.stringify({ keys: [ml.record, sec.record] }));
  report = join(base, 'report.json');
  writeFileSync(report, canonicalJson({ passed: true, checks: [{ id: 'runbooks', status: 'pass' }] }));
});
afterEach(() => rmSync(join(repo, '..'), { recursive: true, force: true }));

async function signBoth() {
  expect((await sign('ml_lead', ml)).code).toBe(0);
  expect((await sign('security_engineer', sec)).code).toBe(0);
}

describe('aegis signoff', () => {
  it('writes both sign-offs and the report into signoffs/, and verify passes with the sign-offs committed', async () => {
    await signBoth();
    const sig = JSON.parse(readFileSync(join(repo, 'signoffs/ml_lead.sig'), 'utf8'));
    expect(sig.statement).toMatchObject({ role: 'ml_lead', release, signerId: 'ml-lead-1' });
    expect(readFileSync(join(repo, 'signoffs/acceptance-report.json'), 'utf8')).toBe(readFileSync(report, 'utf8'));
    git('add', 'signoffs');
    git('commit', '-q', '-m', 'sign-offs');
    const r = await verify();
    expect(r.stdout).toContain('signoff verify: ok');
    expect(r.code).toBe(0);
  });

  it('fails verify when the signed report was tampered with', async () => {
    await signBoth();
    writeFileSync(join(repo, 'signoffs/acceptance-report.json'), canonicalJson({ passed: true, checks: [] }));
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ml_lead: report: signed report sha256 [0-9a-f]{64} is not the report's/);
    expect(r.stdout).toMatch(/security_engineer: report: signed report sha256/);
  });

  it('fails verify when a sign-off is for another commit', async () => {
    await signBoth();
    expect((await sign('ml_lead', ml, first)).code).toBe(0);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`ml_lead: release: 1 path(s) outside signoffs/ changed since ${first}: app.ts`);
    expect(r.stdout).toContain('release: the sign-offs name different commits');
  });

  it('fails verify when a sign-off statement is edited to name another commit', async () => {
    await signBoth();
    const path = join(repo, 'signoffs/security_engineer.sig');
    const sig = JSON.parse(readFileSync(path, 'utf8'));
    sig.statement.release = first;
    writeFileSync(path, JSON.stringify(sig));
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('security_engineer: signature: does not verify under security-1');
  });

  it('fails verify when a file outside signoffs/ changed after the release', async () => {
    await signBoth();
    writeFileSync(join(repo, 'app.ts'), 'export const v = 3;\n');
    git('commit', '-q', '-am', 'after the release');
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`ml_lead: release: 1 path(s) outside signoffs/ changed since ${release}: app.ts`);
  });

  it('fails verify when a key signs for a role it is not enrolled for, and when a sign-off is missing', async () => {
    expect((await sign('ml_lead', sec)).code).toBe(0);
    const r = await verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('ml_lead: signer: security-1: signer is for signoff:security_engineer signatures, not signoff:ml_lead');
    expect(r.stdout).toContain('security_engineer: signoffs/security_engineer.sig: missing');
  });

  it('refuses to sign a report that did not pass, one edited after the run, or a release that is not a commit', async () => {
    writeFileSync(report, canonicalJson({ passed: false, checks: [] }));
    const failed = await sign('ml_lead', ml);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('did not pass');
    const body = { passed: true, checks: [{ id: 'runbooks', status: 'fail' }] };
    writeFileSync(report, canonicalJson({ ...body, sha256: canonicalSha256({ ...body, passed: false }) }));
    const edited = await sign('ml_lead', ml);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain('its sha256 field is not the sha256 of its content');
    writeFileSync(report, canonicalJson({ ...body, sha256: canonicalSha256(body) }));
    const r = await sign('ml_lead', ml, 'f'.repeat(40));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--release ${'f'.repeat(40)}: not a commit`);
  });
});

describe('sign-off keys in the registry key ring', () => {
  it('enrols them with their role (keys add), and verify trusts the registry ring by default: a revoked signer fails', async () => {
    const stack = await startStack();
    try {
      const api = ['--url', stack.url, '--token', stack.adminToken];
      for (const [role, k] of [
        ['ml_lead', ml],
        ['security_engineer', sec],
      ] as const) {
        const r = await aegis(
          ...api,
          'keys',
          'add',
          '--role',
          role,
          '--kid',
          k.record.kid,
          '--owner',
          k.record.owner,
          '--public-key',
          `${k.file}.pub`,
        );
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
      }
      const keys = (await stack.api('GET', '/v1/keys')).body.keys as { kid: string; purpose: string }[];
      expect(keys.filter((k) => k.purpose.startsWith('signoff:'))).toEqual([
        expect.objectContaining({ kid: 'ml-lead-1', purpose: 'signoff:ml_lead' }),
        expect.objectContaining({ kid: 'security-1', purpose: 'signoff:security_engineer' }),
      ]);
      const bad = await stack.api('POST', '/v1/keys', { kid: 'x', purpose: 'signoff', publicKey: ml.record.publicKey, owner: 'x' });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'purpose' });

      await signBoth();
      const ok = await aegis(...api, 'signoff', 'verify');
      expect(ok.stdout).toContain('signoff verify: ok');
      expect(ok.code).toBe(0);
      expect((await stack.api('POST', '/v1/keys/ml-lead-1/revoke')).status).toBe(200);
      const revoked = await aegis(...api, 'signoff', 'verify');
      expect(revoked.code).toBe(1);
      expect(revoked.stdout).toContain('ml_lead: signer: ml-lead-1: signer was revoked at');
    } finally {
      await stack.stop();
    }
  });
});
