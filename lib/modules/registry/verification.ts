import { AegisError } from '../../kernel/errors.js';
import { assertManifestSize } from '../../kernel/manifest.js';
import { inScope, type Scope } from '../../kernel/identity.js';
import type { KeyRecord, SignatureRecord } from '../../kernel/signatures.js';
import { verifyManifest, type VerificationReport } from '../../kernel/verification.js';
import { artifactEvidence, hashArtifact, type ArtifactBaseline } from '../../kernel/artifact-baseline.js';
import type { ObjectStore } from '../../platform/ports/object-store.js';
import type { KeyService } from '../keys/service.js';
import type { ArtifactRecord, RegistryService } from './service.js';

/**
 * Whether an artifact is quarantined (the quarantine module's reader, handed over by the
 * composition; declared here so the registry imports no quarantine code).
 */
export interface QuarantineLookup {
  stateOf(artifactId: string): Promise<{ requestId: string; reason: string; quarantinedBy: string; quarantinedAt: string } | null>;
}

/** Verification reports for registered artifacts and for manifests brought by a caller. */
export class VerificationService {
  constructor(
    private readonly registry: RegistryService,
    private readonly keys: KeyService,
    private readonly store: ObjectStore,
    private readonly quarantine?: QuarantineLookup,
  ) {}

  /**
   * Re-reads the stored bytes (pinned to the registered version) and checks everything,
   * including the `baseline.json` a manifest's `baselineSha256` pins.
   * `hashed`: the caller hashed the pinned version itself just now (serving's loader, or the
   * cache entry it wrote from bytes it hashed), so the bytes are not read a second time.
   * What the caller read already is not read again (a promotion request: one read each serves
   * the request, the verification and the gates): `record` (the artifact's record), `keys` (the
   * ring its decision uses and confirms at its commit), `quarantine` (the artifact's state, null: none).
   */
  async validateArtifact(
    artifactId: string,
    opts: {
      hashed?: { sha256: string; size: number };
      record?: ArtifactRecord;
      keys?: ReadonlyMap<string, KeyRecord>;
      quarantine?: Awaited<ReturnType<QuarantineLookup['stateOf']>>;
    } = {},
  ): Promise<VerificationReport> {
    const record = opts.record?.artifactId === artifactId ? opts.record : await this.registry.get(artifactId);
    if (!record) throw new AegisError('NOT_FOUND', `no artifact ${artifactId}`, { field: 'artifactId' });
    let bytes: { sha256: string; size: number; baseline?: ArtifactBaseline };
    try {
      // a pinned baseline is found in the same pass; bytes hashed by the caller are not read again
      bytes =
        opts.hashed ??
        (await hashArtifact(await this.store.get(record.storage.key, { versionId: record.storage.versionId }), {
          baseline: record.manifest.baselineSha256 !== undefined,
        }));
    } catch (e) {
      if (e instanceof AegisError && e.code === 'OBJECT_NOT_FOUND') bytes = { sha256: 'missing', size: 0 };
      else throw e;
    }
    const report = verifyManifest({
      manifest: record.manifest,
      signature: record.signature,
      key: opts.keys ? opts.keys.get(record.signature.signerId) : await this.keys.get(record.signature.signerId),
      bytes,
      registeredManifestSha256: record.manifestSha256,
      ...(bytes.baseline ? { baselines: [artifactEvidence(bytes.baseline)] } : {}),
    });
    if (bytes.sha256 !== record.sha256 && report.checks.every((c) => c.check !== 'artifact-sha256' || c.ok)) {
      report.checks.push({
        check: 'artifact-sha256',
        ok: false,
        reason: 'stored bytes differ from the registered sha256',
        expected: record.sha256,
        actual: bytes.sha256,
      });
      report.ok = false;
    }
    // a quarantined artifact never validates: it must not be promoted, served or pulled
    const q = opts.quarantine !== undefined ? opts.quarantine : await this.quarantine?.stateOf(artifactId);
    if (q) {
      const { requestId, reason, quarantinedBy, quarantinedAt } = q;
      report.quarantined = { requestId, reason, quarantinedBy, quarantinedAt };
      report.ok = false;
    }
    return report;
  }

  /**
   * Verifies a caller's manifest. Without a signature, the registered signature of the
   * artifact it names is used, and the manifest must equal the registered one. Only artifacts
   * within `scope` count as registered.
   */
  async verify(
    input: { manifest: Record<string, unknown>; signature?: SignatureRecord },
    scope: Scope = 'global',
  ): Promise<VerificationReport> {
    assertManifestSize(input.manifest);
    const artifactId = typeof input.manifest.artifactId === 'string' ? input.manifest.artifactId : undefined;
    const found = artifactId && /^[0-9a-f-]{36}$/i.test(artifactId) ? await this.registry.get(artifactId) : undefined;
    // an artifact outside the caller's scope is verified as if it were not registered
    const ref = found ? await this.registry.modelRef({ artifactId: found.artifactId }) : undefined;
    const record = found && ref && inScope(scope, ref) ? found : undefined;
    const signature = input.signature ?? record?.signature;
    const report = verifyManifest({
      manifest: input.manifest,
      signature,
      key: signature ? await this.keys.get(signature.signerId) : undefined,
      ...(record ? { registeredManifestSha256: record.manifestSha256 } : {}),
    });
    if (!signature && !record) {
      const c = report.checks.find((x) => x.check === 'signature');
      if (c) c.reason = 'no signature was given and no registered artifact matches manifest.artifactId';
    }
    return report;
  }
}
