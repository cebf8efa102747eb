import { createPrivateKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { AegisError } from '../../../kernel/errors.js';
import type { KeyPurpose, SignatureAlg } from '../../../kernel/signatures.js';
import { assertSignable, type KeyProvider, type Signer } from '../../ports/signer.js';

/** Kids name files here and rows in the key ring, so they keep to a path-safe alphabet. */
const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** A keyRef is a bare file name in `dir`: no separators, and never `.` or `..`. */
const KEY_REF_PATTERN = /^[A-Za-z0-9._-]{1,80}$/;

/**
 * Ed25519 keys as PKCS#8 PEM files in the data folder's `keys/` directory (`<kid>.pem`,
 * mode 0600). For local development only: the config refuses it unless
 * `DEV_ALLOW_EPHEMERAL=true`.
 *
 * @example
 * const keys = new FileKeyProvider({ dir: join(dataDir, 'keys') });
 * const { record, keyRef } = await keys.create('manifest', 'manifest-signer-v1');
 * const signature = await keys.signer(record.kid, record.alg, keyRef).sign(statement);
 */
export class FileKeyProvider implements KeyProvider {
  readonly backend = 'file' as const;
  readonly #dir: string;

  constructor(opts: { dir: string }) {
    this.#dir = opts.dir;
  }

  async create(purpose: KeyPurpose, kid: string) {
    if (!KID_PATTERN.test(kid)) {
      throw new AegisError('VALIDATION_FAILED', 'kid must be 1-64 letters, digits, ".", "_" or "-"', { field: 'kid' });
    }
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    // mkdir's mode is ignored for a directory that already exists; the key folder must not be readable by others.
    await chmod(this.#dir, 0o700);

    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const keyRef = `${kid}.pem`;
    const path = join(this.#dir, keyRef);
    let file;
    try {
      // 'wx' is an exclusive create: a kid already on disk is never silently replaced.
      file = await open(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new AegisError('CONFLICT', `a key file for kid ${kid} already exists`, { field: 'kid' });
      }
      throw new AegisError('INTERNAL', `could not create the key file for kid ${kid}`, { cause: e });
    }
    try {
      await file.writeFile(privateKey.export({ format: 'pem', type: 'pkcs8' }));
      await file.sync();
    } catch (e) {
      await file.close().catch(() => undefined);
      // A truncated file would block the kid forever, so a failed write leaves nothing behind.
      await unlink(path).catch(() => undefined);
      throw new AegisError('INTERNAL', `could not write the key file for kid ${kid}`, { cause: e });
    }
    await file.close();

    const spki = publicKey.export({ format: 'der', type: 'spki' });
    return { record: { kid, purpose, alg: 'ed25519' as const, publicKey: spki.toString('base64'), backend: 'file' as const }, keyRef };
  }

  signer(kid: string, alg: SignatureAlg, keyRef: string): Signer {
    if (alg !== 'ed25519') throw new AegisError('VALIDATION_FAILED', `file keys are ed25519, not ${alg}`, { field: 'alg' });
    if (!KEY_REF_PATTERN.test(keyRef) || keyRef === '.' || keyRef === '..') {
      throw new AegisError('VALIDATION_FAILED', `keyRef of kid ${kid} is not a bare file name`, { field: 'keyRef' });
    }
    return new FileKeySigner(kid, join(this.#dir, keyRef));
  }
}

/**
 * Signs with one Ed25519 key file. The key is read once, on first use, and kept as a
 * `KeyObject` (10× faster than parsing PEM per call). It lives in a private field and the
 * signer prints as `{ kid, alg, backend }` only, so no log line or error can carry it.
 */
export class FileKeySigner implements Signer {
  readonly alg = 'ed25519' as const;
  readonly #path: string;
  #key: Promise<KeyObject> | undefined;

  constructor(
    readonly kid: string,
    path: string,
  ) {
    this.#path = path;
  }

  async sign(message: Uint8Array): Promise<Buffer> {
    assertSignable(message);
    this.#key ??= this.#load();
    // A failed load is not cached: the file may appear (or become readable) later.
    const key = await this.#key.catch((e: unknown) => {
      this.#key = undefined;
      throw e;
    });
    return cryptoSign(null, message, key);
  }

  async #load(): Promise<KeyObject> {
    let pem: Buffer;
    try {
      pem = await readFile(this.#path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new AegisError('KEY_UNKNOWN', `no key file for kid ${this.kid}`);
      throw new AegisError('INTERNAL', `could not read the key file for kid ${this.kid}`, { cause: e });
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch {
      // No cause: a parser error about key bytes is not something to put in a log.
      throw new AegisError('INTERNAL', `the key file for kid ${this.kid} is not a PKCS#8 private key`);
    } finally {
      pem.fill(0);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new AegisError('INTERNAL', `the key file for kid ${this.kid} is not an ed25519 key`);
    return key;
  }

  toJSON() {
    return { kid: this.kid, alg: this.alg, backend: 'file' };
  }

  toString(): string {
    return `FileKeySigner(${this.kid})`;
  }

  [inspect.custom](): string {
    return `FileKeySigner ${inspect(this.toJSON())}`;
  }
}
