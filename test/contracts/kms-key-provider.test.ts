import { generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify, createPublicKey } from 'node:crypto';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DisableKeyCommand,
  DisabledException,
  KMSClient,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
  type KeySpec,
  type KeyUsageType,
} from '@aws-sdk/client-kms';
import { KmsKeyProvider } from '../../lib/platform/adapters/signing/kms.js';
import { verifyRaw } from '../../lib/kernel/signatures.js';
import { startMoto } from '../support/moto.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';
import { signerContract } from './signer.contract.js';

const moto = await startMoto();
afterAll(() => moto?.stop());

const newClient = (endpoint: string) =>
  new KMSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

async function makeKey(client: KMSClient, KeySpec: KeySpec = 'ECC_NIST_P256', KeyUsage: KeyUsageType = 'SIGN_VERIFY') {
  const { KeyMetadata } = await client.send(new CreateKeyCommand({ KeySpec, KeyUsage }));
  return { keyId: KeyMetadata!.KeyId!, arn: KeyMetadata!.Arn! };
}

/** Records the name of every command the client sends. */
function recordCommands(client: KMSClient): string[] {
  const seen: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      seen.push(String(context.commandName));
      return next(args);
    },
    { step: 'initialize' },
  );
  return seen;
}

if (!moto) {
  describeUnless(NO_MOTO, 'KmsKeyProvider contract', () => {
    it('runs against moto_server', () => undefined);
  });
} else {
  const { endpoint } = moto;

  signerContract('KmsKeyProvider (moto, ECDSA P-256)', async () => {
    const client = newClient(endpoint);
    return {
      provider: new KmsKeyProvider({ client }),
      createArgs: async () => ({ kmsKeyId: (await makeKey(client)).keyId }),
      cleanup: async () => client.destroy(),
    };
  });

  describe('KmsKeyProvider against moto', () => {
    const client = newClient(endpoint);
    const keys = new KmsKeyProvider({ client });
    afterAll(() => client.destroy());

    it('adopts a P-256 signing key as ecdsa-p256-sha256 with the DER SPKI public key and the key ARN as keyRef', async () => {
      const { keyId, arn } = await makeKey(client);
      const { record, keyRef } = await keys.create('audit', 'audit-v1', { kmsKeyId: keyId });
      expect(record).toMatchObject({ kid: 'audit-v1', purpose: 'audit', alg: 'ecdsa-p256-sha256', backend: 'kms' });
      expect(createPublicKey({ key: Buffer.from(record.publicKey, 'base64'), format: 'der', type: 'spki' }).asymmetricKeyDetails).toEqual({
        namedCurve: 'prime256v1',
      });
      expect(keyRef).toBe(arn);
    });

    it('records the key ARN, not the alias, when adopting by alias', async () => {
      const { keyId, arn } = await makeKey(client);
      await client.send(new CreateAliasCommand({ AliasName: `alias/aegis-${keyId.slice(0, 8)}`, TargetKeyId: keyId }));
      const { keyRef } = await keys.create('manifest', 'm-alias', { kmsKeyId: `alias/aegis-${keyId.slice(0, 8)}` });
      expect(keyRef).toBe(arn);
    });

    it('returns a DER ECDSA signature that node verifies with sha256 as-is', async () => {
      const { keyId } = await makeKey(client);
      const { record, keyRef } = await keys.create('manifest', 'm-der', { kmsKeyId: keyId });
      const message = Buffer.from('statement');
      const sig = await keys.signer(record.kid, record.alg, keyRef).sign(message);
      expect(sig[0]).toBe(0x30); // DER SEQUENCE
      const pub = createPublicKey({ key: Buffer.from(record.publicKey, 'base64'), format: 'der', type: 'spki' });
      expect(cryptoVerify('sha256', message, pub, sig)).toBe(true);
    });

    it('refuses to adopt a SYMMETRIC_DEFAULT (ENCRYPT_DECRYPT) key, naming kmsKeyId', async () => {
      const { keyId } = await makeKey(client, 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT');
      await expect(keys.create('manifest', 'm-sym', { kmsKeyId: keyId })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'kmsKeyId',
      });
    });

    it('refuses to adopt a signing key spec it cannot map (P-384), naming kmsKeyId', async () => {
      const { keyId } = await makeKey(client, 'ECC_NIST_P384');
      await expect(keys.create('manifest', 'm-384', { kmsKeyId: keyId })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'kmsKeyId',
        message: expect.stringContaining('ECC_NIST_P384'),
      });
    });

    it('refuses to adopt a disabled key, naming kmsKeyId', async () => {
      const { keyId } = await makeKey(client);
      await client.send(new DisableKeyCommand({ KeyId: keyId }));
      await expect(keys.create('manifest', 'm-off', { kmsKeyId: keyId })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        field: 'kmsKeyId',
      });
    });

    it('refuses to adopt without a kmsKeyId', async () => {
      await expect(keys.create('manifest', 'm-none')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'kmsKeyId' });
    });

    it('answers KEY_UNKNOWN for a key KMS does not have, without the ARN or account id', async () => {
      const err = await keys.create('manifest', 'm-gone', { kmsKeyId: '11111111-2222-3333-4444-555555555555' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'KEY_UNKNOWN', field: 'kmsKeyId' });
      expect((err as Error).message).not.toMatch(/arn:|123456789012|1111/);
    });

    it('never calls KMS for a message over 4096 bytes', async () => {
      const recorded = newClient(endpoint);
      const seen = recordCommands(recorded);
      const { keyId } = await makeKey(client);
      const provider = new KmsKeyProvider({ client: recorded });
      const { record, keyRef } = await provider.create('manifest', 'm-big', { kmsKeyId: keyId });
      seen.length = 0;
      await expect(provider.signer(record.kid, record.alg, keyRef).sign(Buffer.alloc(4097))).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
      expect(seen).toEqual([]);
      recorded.destroy();
    });
  });
}

/** A KMS stand-in for what moto cannot do: Ed25519 keys and KMS's error responses. */
function stubKms(handlers: Record<string, (input: Record<string, unknown>) => unknown>) {
  const sent: { name: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
      const name = cmd.constructor.name;
      sent.push({ name, input: cmd.input });
      const handler = handlers[name];
      if (!handler) throw new Error(`stub has no ${name}`);
      return handler(cmd.input);
    },
  } as unknown as KMSClient;
  return { client, sent };
}

describe('KmsKeyProvider with a stubbed KMS', () => {
  const arn = 'arn:aws:kms:us-east-1:123456789012:key/abcd';

  it('adopts an ECC_NIST_EDWARDS25519 key as ed25519 and signs RAW with ED25519_SHA_512', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const { client, sent } = stubKms({
      DescribeKeyCommand: () => ({
        KeyMetadata: {
          Arn: arn,
          KeySpec: 'ECC_NIST_EDWARDS25519',
          KeyUsage: 'SIGN_VERIFY',
          KeyState: 'Enabled',
          SigningAlgorithms: ['ED25519_SHA_512', 'ED25519_PH_SHA_512'],
        },
      }),
      GetPublicKeyCommand: () => ({ PublicKey: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })) }),
      SignCommand: (input) => ({ Signature: new Uint8Array(cryptoSign(null, input.Message as Uint8Array, privateKey)) }),
    });
    const keys = new KmsKeyProvider({ client });
    const { record, keyRef } = await keys.create('manifest', 'm-ed', { kmsKeyId: 'alias/aegis-manifest' });
    expect(record.alg).toBe('ed25519');
    expect(keyRef).toBe(arn);
    const message = Buffer.from('statement');
    const sig = await keys.signer(record.kid, record.alg, keyRef).sign(message);
    expect(sig).toHaveLength(64);
    expect(verifyRaw('ed25519', record.publicKey, message, sig.toString('base64'))).toBe(true);
    expect(sent.at(-1)).toMatchObject({
      name: 'SignCommand',
      input: { KeyId: arn, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' },
    });
  });

  const meta = { $metadata: {}, message: `Key '${arn}' is not usable by role arn:aws:iam::123456789012:role/x` };
  it.each([
    ['NotFoundException', 'KEY_UNKNOWN', new NotFoundException(meta)],
    ['DisabledException', 'KEY_UNKNOWN', new DisabledException(meta)],
    ['KMSInvalidStateException', 'KEY_UNKNOWN', new KMSInvalidStateException(meta)],
    // Not a modelled KMS exception: the SDK surfaces it as a generic service error by name.
    ['AccessDeniedException', 'INTERNAL', new KMSServiceException({ ...meta, name: 'AccessDeniedException', $fault: 'client' })],
    ['an unexpected error', 'INTERNAL', new Error(`socket hang up at ${arn}`)],
  ])('translates %s from Sign into %s with a message that names only the kid', async (_name, code, thrown) => {
    const { client } = stubKms({
      SignCommand: () => {
        throw thrown;
      },
    });
    const err = await new KmsKeyProvider({ client })
      .signer('m-err', 'ed25519', arn)
      .sign(Buffer.from('x'))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code });
    expect((err as Error).message).toContain('m-err');
    expect((err as Error).message).not.toMatch(/arn:|123456789012/);
  });
});
