import { randomUUID } from 'node:crypto';
import { AegisError } from '../../lib/kernel/errors.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import type { KeyProvider } from '../../lib/platform/ports/signer.js';

/** One backend under test: a provider, the per-key `create` options it needs, and teardown. */
export interface SignerHarness {
  provider: KeyProvider;
  /** Options for `provider.create` for one new key (KMS: a freshly made key to adopt). */
  createArgs(): Promise<{ kmsKeyId?: string }>;
  cleanup(): Promise<void>;
}

const newKid = () => `contract-${randomUUID().slice(0, 8)}`;
const msg = (s: string) => Buffer.from(s, 'utf8');

/**
 * The behaviour every `KeyProvider` and its `Signer`s share. `make` returns undefined when
 * the backend cannot run here; each test then logs why and passes (CI always has every
 * backend, so nothing is skipped there).
 */
export function signerContract(name: string, make: () => Promise<SignerHarness | undefined>): void {
  describe(`${name} (KeyProvider + Signer contract)`, () => {
    let harness: SignerHarness | undefined;
    beforeAll(async () => {
      harness = await make();
    });
    afterAll(async () => {
      await harness?.cleanup();
    });

    /** Registers a test that needs the backend; without one it logs the skip instead. */
    const test = (title: string, fn: (h: SignerHarness) => Promise<void>) =>
      it(title, async () => {
        if (!harness) return console.warn(`${name}: backend unavailable, not run: ${title}`);
        await fn(harness);
      });

    const newKey = async (h: SignerHarness) => {
      const kid = newKid();
      const { record, keyRef } = await h.provider.create('manifest', kid, await h.createArgs());
      return { record, signer: h.provider.signer(kid, record.alg, keyRef) };
    };

    test('signs a message that verifies under the public key in the created record', async (h) => {
      const { record, signer } = await newKey(h);
      expect(record).toMatchObject({ purpose: 'manifest', backend: h.provider.backend });
      expect(signer).toMatchObject({ kid: record.kid, alg: record.alg });
      const m = msg('{"type":"aegis.manifest-signature/v1"}');
      const sig = await signer.sign(m);
      expect(verifyRaw(record.alg, record.publicKey, m, sig.toString('base64'))).toBe(true);
    });

    test('produces signatures that reject a tampered message', async (h) => {
      const { record, signer } = await newKey(h);
      const sig = (await signer.sign(msg('artifactSha256=aa'))).toString('base64');
      expect(verifyRaw(record.alg, record.publicKey, msg('artifactSha256=ab'), sig)).toBe(false);
    });

    test("rejects another key's signature under this key's public key", async (h) => {
      const a = await newKey(h);
      const b = await newKey(h);
      const m = msg('same statement');
      const sigByB = (await b.signer.sign(m)).toString('base64');
      expect(verifyRaw(a.record.alg, a.record.publicKey, m, sigByB)).toBe(false);
    });

    test('gives two created keys different public keys', async (h) => {
      const a = await newKey(h);
      const b = await newKey(h);
      expect(a.record.publicKey).not.toBe(b.record.publicKey);
    });

    test('signs concurrently from one signer', async (h) => {
      const { record, signer } = await newKey(h);
      const messages = Array.from({ length: 8 }, (_, i) => msg(`statement ${i}`));
      const sigs = await Promise.all(messages.map((m) => signer.sign(m)));
      messages.forEach((m, i) => expect(verifyRaw(record.alg, record.publicKey, m, sigs[i]!.toString('base64'))).toBe(true));
    });

    test('fails with KEY_UNKNOWN when the keyRef names no key', async (h) => {
      const { record } = await newKey(h);
      // A bare UUID is a well-formed ref for both backends (a file name; a KMS key id).
      const signing = (async () => h.provider.signer(record.kid, record.alg, randomUUID()).sign(msg('x')))();
      await expect(signing).rejects.toBeInstanceOf(AegisError);
      await expect(signing).rejects.toMatchObject({ code: 'KEY_UNKNOWN' });
    });

    test('refuses a message over 4096 bytes and signs one of exactly 4096', async (h) => {
      const { record, signer } = await newKey(h);
      await expect(signer.sign(Buffer.alloc(4097, 1))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'message' });
      const max = Buffer.alloc(4096, 1);
      expect(verifyRaw(record.alg, record.publicKey, max, (await signer.sign(max)).toString('base64'))).toBe(true);
    });

    test('refuses a kid outside the safe alphabet, naming the kid field', async (h) => {
      const args = await h.createArgs();
      for (const kid of ['', '../escape', 'a/b', 'x'.repeat(65), 'white space']) {
        await expect(h.provider.create('audit', kid, args)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'kid' });
      }
    });
  });
}
