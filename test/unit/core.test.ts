import { generateKeyPairSync, sign } from 'node:crypto';
import { canonicalJson, canonicalSha256 } from '../../lib/kernel/canonical.js';
import { TrainingManifest } from '../../lib/kernel/manifest.js';
import { ModelName } from '../../lib/kernel/names.js';
import { checkSignerValidity, manifestStatement, statementBytes, type KeyRecord } from '../../lib/kernel/signatures.js';
import { verifyManifest } from '../../lib/kernel/verification.js';
import { nextKid } from '../../lib/modules/keys/domain.js';

const manifest = TrainingManifest.parse({
  artifactId: '6f1c1d7e-8a43-4a4e-9d0e-2c4b7f0a9b11',
  modelName: 'churn',
  codeRef: 'git:abc',
  containerDigest: `sha256:${'a'.repeat(64)}`,
  datasetRefs: [{ id: 'd', version: '1', checksum: `sha256:${'b'.repeat(64)}` }],
  hyperparams: { lr: 0.1 },
  seed: 1,
  trainingCmd: 'train',
  environment: {},
  artifactSha256: 'c'.repeat(64),
  artifactSize: 10,
  metrics: {},
  createdAt: '2026-11-22T10:00:00Z',
});

function keyPair(kid: string, window: Partial<KeyRecord> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const record: KeyRecord = {
    kid,
    purpose: 'manifest',
    alg: 'ed25519',
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    backend: 'file',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: null,
    revokedAt: null,
    ...window,
  };
  const signWith = (ts: string) => {
    const sig = { manifestSignatureId: 'sig-1', signerId: kid, ts };
    return {
      ...sig,
      alg: 'ed25519' as const,
      signature: sign(null, statementBytes(manifestStatement(manifest, sig)), privateKey).toString('base64'),
    };
  };
  return { record, signWith };
}

describe('canonical JSON (RFC 8785)', () => {
  it('orders keys by UTF-16 code units and formats numbers as ECMAScript does', () => {
    expect(canonicalJson({ b: 1, a: [1e21, 0.1, -0], é: 'x', '\u20ac': 1, '\r': 2 })).toBe(
      '{"\\r":2,"a":[1e+21,0.1,0],"b":1,"é":"x","€":1}',
    );
  });

  it('gives the same hash whatever the key order of the input', () => {
    expect(canonicalSha256({ x: 1, y: { b: 2, a: 1 } })).toBe(canonicalSha256({ y: { a: 1, b: 2 }, x: 1 }));
  });
});

describe('manifest verification (pure)', () => {
  it('passes a manifest signed inside the key window', () => {
    const k = keyPair('k1');
    const report = verifyManifest({
      manifest,
      signature: k.signWith('2026-06-01T00:00:00.000Z'),
      key: k.record,
      bytes: { sha256: 'c'.repeat(64), size: 10 },
    });
    expect(report.ok).toBe(true);
  });

  it('names every failed check at once', () => {
    const k = keyPair('k1', { notAfter: '2026-03-01T00:00:00.000Z' });
    const sig = k.signWith('2026-06-01T00:00:00.000Z');
    const report = verifyManifest({
      manifest: { ...manifest, seed: 2 },
      signature: sig,
      key: k.record,
      bytes: { sha256: 'd'.repeat(64), size: 11 },
    });
    expect(report.checks.filter((c) => !c.ok).map((c) => c.check)).toEqual(['artifact-sha256', 'artifact-size', 'signature', 'signer']);
  });

  it('refuses a signature whose timestamp was moved after signing', () => {
    const k = keyPair('k1');
    const sig = { ...k.signWith('2026-06-01T00:00:00.000Z'), ts: '2026-06-02T00:00:00.000Z' };
    expect(verifyManifest({ manifest, signature: sig, key: k.record }).checks.find((c) => c.check === 'signature')!.ok).toBe(false);
  });

  it('reports a malformed manifest instead of throwing', () => {
    const report = verifyManifest({ manifest: { modelName: 'x' }, signature: undefined, key: undefined });
    expect(report.ok).toBe(false);
    expect(report.checks[0]!.check).toBe('manifest-schema');
  });
});

describe('signer validity windows', () => {
  const base = keyPair('k1').record;
  it.each([
    ['inside the window', {}, '2026-06-01T00:00:00Z', true],
    ['before notBefore', {}, '2025-12-31T23:59:59Z', false],
    ['after rotation', { notAfter: '2026-03-01T00:00:00Z' }, '2026-03-01T00:00:01Z', false],
    ['before rotation', { notAfter: '2026-03-01T00:00:00Z' }, '2026-02-28T00:00:00Z', true],
    ['revoked', { revokedAt: '2026-12-01T00:00:00Z' }, '2026-02-28T00:00:00Z', false],
  ])('%s', (_n, window, ts, ok) => {
    expect(checkSignerValidity({ ...base, ...window }, ts, 'manifest').ok).toBe(ok);
  });

  it('refuses an audit key signing a manifest', () => {
    expect(checkSignerValidity({ ...base, purpose: 'audit' }, '2026-06-01T00:00:00Z', 'manifest')).toEqual({
      ok: false,
      reason: 'signer is for audit signatures, not manifest',
    });
  });
});

describe('names', () => {
  it.each(['fraud-detector', 'churn_v2.tabular', 'a'])('accepts %p', (n) => expect(ModelName.safeParse(n).success).toBe(true));
  it.each(['../x', 'a/b', 'a\\b', '-a', 'A', 'a..b', 'x'.repeat(129)])('refuses %p', (n) =>
    expect(ModelName.safeParse(n).success).toBe(false),
  );
  it('numbers rotated kids', () => {
    expect(nextKid('manifest-signer-v1')).toBe('manifest-signer-v2');
    expect(nextKid('manifest-signer-v9')).toBe('manifest-signer-v10');
    expect(nextKid('custom')).toBe('custom-v2');
  });
});
