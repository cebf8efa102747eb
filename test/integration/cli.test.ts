import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startStack, uploadAndRegister, type Stack } from '../support/local-stack.js';
import { aegisCli, run } from '../support/spawn.js';

let stack: Stack;
let env: Record<string, string>;
beforeAll(async () => {
  stack = await startStack();
  env = { AEGIS_URL: stack.url, AEGIS_DATA_DIR: stack.dataDir, AEGIS_TOKEN: '' };
});
afterAll(async () => {
  await stack?.stop();
});

const aegis = (...args: string[]) => aegisCli(args, env);

describe('aegis CLI against the local server', () => {
  it('creates a scoped token and sets a team label: the token lists only the models of its scope', async () => {
    expect((await uploadAndRegister(stack, 'scoped-cli-a', randomBytes(300))).status).toBe(201);
    expect((await uploadAndRegister(stack, 'other-cli-b', randomBytes(300))).status).toBe(201);
    const created = await aegis(
      '--json',
      'tokens',
      'create',
      '--principal',
      'ci',
      '--role',
      'auditor',
      '--scope-prefix',
      'scoped-',
      '--scope-team',
      'b-team',
      '--scope-team',
      'c-team',
    );
    expect(created.code).toBe(0);
    const { token, scope } = JSON.parse(created.stdout);
    expect(scope).toEqual({ prefixes: ['scoped-'], teams: ['b-team', 'c-team'] });
    const asScoped = (...args: string[]) => aegisCli(args, { ...env, AEGIS_TOKEN: token });
    expect((await asScoped('list')).stdout).toBe('1 model(s)\n  scoped-cli-a  latest v1\n');

    const set = await aegis('set-team', 'other-cli-b', 'b-team');
    expect(set.stdout.trim()).toBe('other-cli-b: team b-team (was (none))');
    expect((await asScoped('list')).stdout).toBe('2 model(s)\n  other-cli-b  latest v1  team b-team\n  scoped-cli-a  latest v1\n');
    // a scoped admin may not change labels: they decide who else sees a model
    const admin = JSON.parse(
      (await aegis('--json', 'tokens', 'create', '--principal', 'lead', '--role', 'admin', '--scope-team', 'b-team')).stdout,
    );
    const refused = await aegisCli(['set-team', 'other-cli-b', 'c-team'], { ...env, AEGIS_TOKEN: admin.token });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('needs a global one');
  });

  it('registers, lists, gets and verifies with the dev admin token from the data folder', async () => {
    const artifact = join(stack.dataDir, 'model.bin');
    await writeFile(artifact, randomBytes(200_000));
    const data = join(stack.dataDir, 'tx.csv');
    await writeFile(data, 'a,b,label\n1,2,0\n');
    const ds = await aegis('--json', 'datasets', 'register', '--id', 'tx', '--version', '1', '--path', data);
    expect(ds.code).toBe(0);
    const { checksum } = JSON.parse(ds.stdout);
    expect(checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    const manifest = join(stack.dataDir, 'manifest.json');
    await writeFile(
      manifest,
      JSON.stringify({
        codeRef: 'git:4f2c1e0',
        containerDigest: `sha256:${'a'.repeat(64)}`,
        datasetRefs: [{ id: 'tx', version: '1', checksum }],
        hyperparams: { lr: 0.1 },
        seed: 7,
        trainingCmd: 'train.sh',
        environment: {},
      }),
    );
    const reg = await aegis('--json', 'register', '--model', 'cli-model', '--artifact', artifact, '--manifest', manifest);
    expect(reg.stderr).toBe('');
    expect(reg.code).toBe(0);
    const { artifactId, version } = JSON.parse(reg.stdout);
    expect(version).toBe(1);

    const list = await aegis('list', '--model', 'cli-model');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(artifactId);

    const ok = await aegis('verify-manifest', '--artifact-id', artifactId);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^VERIFIED/);

    const got = JSON.parse((await aegis('--json', 'get', artifactId)).stdout);
    const edited = join(stack.dataDir, 'edited.json');
    await writeFile(edited, JSON.stringify({ ...got.manifest, seed: 8 }));
    const bad = await aegis('verify-manifest', '--manifest', edited, '--artifact', artifact);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAILED/);
    expect(bad.stdout).toMatch(/FAIL signature/);
    expect(bad.stdout).toMatch(/ok {3}artifact-sha256/);
  });

  it('exits non-zero with the reason and the field when the server refuses', async () => {
    const res = await aegisCli(['list'], { ...env, AEGIS_DATA_DIR: join(stack.dataDir, 'nowhere') });
    expect(res.code).toBe(3);
    expect(res.stderr).toMatch(/missing or invalid credentials \(field: Authorization\) \[UNAUTHENTICATED 401\]/);
    const usage = await aegis('verify-manifest');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/exactly one of --artifact-id or --manifest/);
  });

  it('says so and exits 1 when the same bytes are registered again with another manifest, and replays the same manifest', async () => {
    const artifact = join(stack.dataDir, 'again.bin');
    await writeFile(artifact, randomBytes(5000));
    const data = join(stack.dataDir, 'again.csv');
    await writeFile(data, 'a,label\n1,0\n');
    const { checksum } = JSON.parse(
      (await aegis('--json', 'datasets', 'register', '--id', 'again', '--version', '1', '--path', data)).stdout,
    );
    const base = {
      codeRef: 'git:4f2c1e0',
      containerDigest: `sha256:${'a'.repeat(64)}`,
      datasetRefs: [{ id: 'again', version: '1', checksum }],
      hyperparams: {},
      seed: 1,
      trainingCmd: 'train.sh',
      environment: {},
    };
    const manifest = join(stack.dataDir, 'again.json');
    await writeFile(manifest, JSON.stringify(base)); // no createdAt: the CLI fills it in the same way on a retry
    const first = await aegis('--json', 'register', '--model', 'cli-again', '--artifact', artifact, '--manifest', manifest);
    expect(first.code).toBe(0);
    const { artifactId } = JSON.parse(first.stdout);
    const retry = await aegis('register', '--model', 'cli-again', '--artifact', artifact, '--manifest', manifest);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toMatch(/^already registered cli-again v1/);

    await writeFile(manifest, JSON.stringify({ ...base, seed: 2 }));
    const other = await aegis('register', '--model', 'cli-again', '--artifact', artifact, '--manifest', manifest);
    expect(other.code).toBe(1);
    expect(other.stdout).toBe('');
    expect(other.stderr).toContain('ALREADY_REGISTERED_DIFFERENTLY 409');
    expect(other.stderr).toContain(artifactId);
  });

  it('refuses a manifest file with a duplicate key before uploading anything, naming the key', async () => {
    const artifact = join(stack.dataDir, 'dup.bin');
    await writeFile(artifact, randomBytes(100));
    const manifest = join(stack.dataDir, 'dup.json');
    await writeFile(manifest, '{"codeRef":"git:1","metrics":{"auc":0.10},"metrics":{"auc":0.91}}');
    const uploads = async () =>
      Number(
        (
          await stack.container.database.db
            .selectFrom('uploads')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = await uploads();
    const res = await aegis('register', '--model', 'cli-dup', '--artifact', artifact, '--manifest', manifest);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/manifest .*dup.json: duplicate key metrics/);
    expect(await uploads()).toBe(before);
  });

  it('refuses a local artifact that does not match the manifest before uploading anything', async () => {
    const artifact = join(stack.dataDir, 'other.bin');
    await writeFile(artifact, randomBytes(1000));
    const manifest = join(stack.dataDir, 'm2.json');
    await writeFile(manifest, JSON.stringify({ artifactSha256: 'c'.repeat(64) }));
    const res = await aegis('register', '--model', 'cli-model', '--artifact', artifact, '--manifest', manifest);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/differs from manifest.artifactSha256/);
  });
});

describe('aegis tokens', () => {
  const HOURS_12 = 12 * 3_600_000;

  it('creates with --expires-in (the secret alone on stdout), lists, rotates and revokes', async () => {
    const created = await aegis('tokens', 'create', '--principal', 'cli-bot', '--role', 'publisher', '--expires-in', '12h');
    expect(created.code).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^aegis_[A-Za-z0-9_-]{43}$/);
    const id = /^aegis: created (tok_[0-9a-f]{16}) for cli-bot \(publisher\), expires \S+$/m.exec(created.stderr)![1]!;

    const listed = JSON.parse((await aegis('--json', 'tokens', 'list')).stdout);
    const mine = listed.items.find((t: { tokenId: string }) => t.tokenId === id);
    expect(Date.parse(mine.expiresAt) - Date.parse(mine.createdAt)).toBe(HOURS_12);
    expect(JSON.stringify(listed)).not.toContain(secret);
    const human = await aegis('tokens', 'list', '--limit', '500');
    expect(human.stdout).toMatch(new RegExp(`^  ${id}  active   publisher cli-bot  expires ${mine.expiresAt}  last used never$`, 'm'));
    expect(JSON.parse((await aegis('tokens', 'list', '--json')).stdout).items.length).toBe(listed.items.length);

    const rotated = await aegis('--json', 'tokens', 'rotate', id, '--expires-in', '12h');
    expect(rotated.code).toBe(0);
    const next = JSON.parse(rotated.stdout);
    expect(next).toMatchObject({ principal: 'cli-bot', role: 'publisher', rotatedFrom: id });
    const old = await aegisCli(['list'], { ...env, AEGIS_TOKEN: secret });
    expect(old.code).toBe(3);
    expect(old.stderr).toContain(`token ${id} was revoked`);
    expect((await aegisCli(['list'], { ...env, AEGIS_TOKEN: next.token })).code).toBe(0);

    const revoked = await aegis('tokens', 'revoke', next.tokenId);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^revoked ${next.tokenId} \\(cli-bot, publisher\\) at \\S+ by dev-admin$`, 'm'));
    expect((await aegisCli(['list'], { ...env, AEGIS_TOKEN: next.token })).code).toBe(3);
  });

  it('exits 2 on usage errors, 1 naming the field for an unknown token or too long a lifetime, 3 for a non-admin', async () => {
    expect((await aegis('tokens', 'revoke')).code).toBe(2);
    expect((await aegis('tokens', 'create', '--principal', 'x', '--role', 'wizard')).code).toBe(2);
    const unknown = await aegis('--json', 'tokens', 'revoke', `tok_${'0'.repeat(16)}`);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ code: 'NOT_FOUND', field: 'tokenId', status: 404 });
    const long = await aegis('--json', 'tokens', 'create', '--principal', 'x', '--role', 'publisher', '--expires-in', '999d');
    expect(long.code).toBe(1);
    expect(JSON.parse(long.stdout).error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'expiresIn', status: 400 });
    const publisher = (await aegis('tokens', 'create', '--principal', 'cli-pub', '--role', 'publisher')).stdout.trim();
    const refused = await aegisCli(['--json', 'tokens', 'list'], { ...env, AEGIS_TOKEN: publisher });
    expect(refused.code).toBe(3);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'FORBIDDEN', status: 403 });
  });
});

describe('startup guards', () => {
  it('refuses NODE_ENV=production npm start with a one-line reason', async () => {
    const res = await run('npm', ['start', '--silent'], {
      env: { NODE_ENV: 'production', AEGIS_DATA_DIR: join(stack.dataDir, 'prod'), PORT: '0' },
    });
    expect(res.code).toBe(2);
    const lines = res.stderr.split('\n').filter((l) => l.startsWith('aegis:'));
    expect(lines).toEqual([
      'aegis: refusing to start: NODE_ENV=production with DEV_ALLOW_EPHEMERAL=true: ephemeral dev keys are never allowed in production',
    ]);
  });

  it('refuses REQUIRE_KMS=true without KMS key ids', async () => {
    const res = await run('npm', ['start', '--silent'], {
      env: { REQUIRE_KMS: 'true', AEGIS_DATA_DIR: join(stack.dataDir, 'kms'), PORT: '0' },
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/refusing to start: REQUIRE_KMS=true/);
  });

  it('the admin token file is private to its owner', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(join(stack.dataDir, 'admin.token')).mode & 0o777).toBe(0o600);
    expect((await readFile(join(stack.dataDir, 'admin.token'), 'utf8')).trim()).toBe(stack.adminToken);
  });
});
