import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { KmsKeyProvider } from '../../lib/platform/adapters/signing/kms.js';
import { S3ObjectStore } from '../../lib/platform/adapters/object-store/s3.js';
import { PgDatabase } from '../../lib/platform/adapters/sql/pg.js';
import { loadCheckedConfig, type Config } from '../../lib/platform/config.js';
import type { Container } from '../../lib/platform/composition/container.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import { lazyContainer } from '../../lib/platform/http/container-provider.js';
import { runStartupChecks, StartupCheckError, StartupCheckFault } from '../../lib/platform/startup-checks.js';
import { startMoto } from '../support/moto.js';
import { createTestDatabase } from '../support/postgres.js';
import { describeUnless, NO_MOTO, NO_POSTGRES } from '../support/unavailable.js';

/** The production startup checks against the real adapters: S3 and KMS on moto_server, the PostgreSQL server. */
const moto = await startMoto();
const pgdb = await createTestDatabase();
const creds = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };

if (!moto || !pgdb) {
  describeUnless(moto ? NO_POSTGRES : NO_MOTO, 'production startup checks', () => {
    it('run against moto_server and the PostgreSQL server', () => undefined);
  });
} else {
  const s3 = new S3Client({ endpoint: moto.endpoint, forcePathStyle: true, ...creds });
  const kms = new KMSClient({ endpoint: moto.endpoint, ...creds });
  const database = new PgDatabase(pgdb.url);
  afterAll(async () => {
    await database.close();
    s3.destroy();
    kms.destroy();
    await pgdb.drop();
    await moto.stop();
  });

  async function bucket(lock: 'none' | 'enabled' | 'compliance' | 'governance'): Promise<string> {
    const name = `aegis-check-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: lock !== 'none' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    if (lock === 'compliance' || lock === 'governance') {
      const Mode = lock === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: name,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode, Days: 1 } } },
        }),
      );
    }
    return name;
  }
  const p256 = async () => (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;

  async function setup(
    opts: {
      artifacts?: 'none' | 'enabled' | 'compliance' | 'governance';
      archive?: 'none' | 'enabled' | 'compliance' | 'governance';
      allowP256?: boolean;
      manifestKey?: string;
    } = {},
  ) {
    const artifacts = await bucket(opts.artifacts ?? 'enabled');
    const archive = await bucket(opts.archive ?? 'compliance');
    const config: Config = loadCheckedConfig({
      NODE_ENV: 'production',
      REQUIRE_KMS: 'true',
      MANIFEST_SIGNING_KMS_KEY_ID: opts.manifestKey ?? (await p256()),
      AUDIT_SIGNING_KMS_KEY_ID: await p256(),
      MODEL_REGISTRY_S3_BUCKET: artifacts,
      AEGIS_AUDIT_ARCHIVE_BUCKET: archive,
      AWS_ENDPOINT_URL_KMS: moto!.endpoint,
      ...(opts.allowP256 !== false && { AEGIS_TEST_ALLOW_P256_KMS_KEYS: 'true' }),
    });
    return {
      config,
      targets: {
        database,
        store: new S3ObjectStore({ bucket: artifacts, client: s3 }),
        archive: new S3ObjectStore({ bucket: archive, client: s3 }),
        keyProvider: new KmsKeyProvider({ client: kms }),
      },
    };
  }

  const refusal = async (p: Promise<unknown>) => {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StartupCheckError);
    return { check: (e as StartupCheckError).check, message: (e as Error).message };
  };

  describe('production startup checks', () => {
    it('read Object Lock from S3: an artifact bucket without it is refused, and an archive without COMPLIANCE default retention', async () => {
      let s = await setup({ artifacts: 'none' });
      expect(await s.targets.store.describeObjectLock()).toEqual({ enabled: false });
      expect(await refusal(runStartupChecks(s.config, s.targets, { migrating: true }))).toEqual({
        check: 'artifact-bucket-object-lock',
        message: expect.stringMatching(
          /^startup check artifact-bucket-object-lock failed: bucket aegis-check-\w+: Object Lock is not enabled on the bucket$/,
        ),
      });
      s = await setup({ archive: 'enabled' });
      expect(await refusal(runStartupChecks(s.config, s.targets, { migrating: true }))).toMatchObject({
        check: 'audit-archive-object-lock',
        message: expect.stringMatching(/no default retention/),
      });
      s = await setup({ archive: 'governance' });
      expect(await s.targets.archive.describeObjectLock()).toEqual({ enabled: true, defaultRetention: { mode: 'GOVERNANCE', days: 1 } });
      expect(await refusal(runStartupChecks(s.config, s.targets, { migrating: true }))).toMatchObject({
        check: 'audit-archive-object-lock',
        message: expect.stringMatching(/GOVERNANCE, not COMPLIANCE/),
      });
    });

    it('refuse a P-256 key without the allowance, a missing key and a non-signing key; pass with the allowance on loopback', async () => {
      let s = await setup({ allowP256: false });
      expect(await refusal(runStartupChecks(s.config, s.targets, { migrating: true }))).toMatchObject({
        check: expect.stringMatching(/^(manifest|audit)-kms-key$/),
        message: expect.stringMatching(/key spec is ECC_NIST_P256, not ECC_NIST_EDWARDS25519/),
      });
      s = await setup({ manifestKey: 'arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000' });
      expect(await refusal(runStartupChecks(s.config, s.targets, { migrating: true }))).toMatchObject({
        check: 'manifest-kms-key',
        message: expect.stringMatching(/NotFoundException/),
      });
      const symmetric = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
      s = await setup({ manifestKey: symmetric });
      expect(await refusal(runStartupChecks(s.config, s.targets, { migrating: true }))).toMatchObject({
        check: 'manifest-kms-key',
        message: expect.stringMatching(/key usage is [A-Z_a-z ]+, not SIGN_VERIFY/),
      });
      s = await setup();
      await expect(runStartupChecks(s.config, s.targets, { migrating: true })).resolves.toBeUndefined();
    });

    it('production adopts only Ed25519 keys without the allowance (key rotation cannot bring P-256 in later)', async () => {
      const provider = new KmsKeyProvider({ client: kms, ed25519Only: true });
      await expect(provider.create('manifest', 'm-v9', { kmsKeyId: await p256() })).rejects.toThrow(
        /production signs with ECC_NIST_EDWARDS25519 only/,
      );
      await expect(new KmsKeyProvider({ client: kms }).create('manifest', 'm-v9', { kmsKeyId: await p256() })).resolves.toMatchObject({
        record: { alg: 'ecdsa-p256-sha256' },
      });
    });

    it('need the database migrated unless the process migrates it, and report an unreachable database as a fault', async () => {
      const s = await setup();
      expect(await refusal(runStartupChecks(s.config, s.targets))).toMatchObject({
        check: 'database-migrated',
        message: expect.stringMatching(/not migrated: \d+ pending \(0001_registry, /),
      });
      await migrateToLatest(database.db);
      await expect(runStartupChecks(s.config, s.targets)).resolves.toBeUndefined();
      const unreachable = new PgDatabase('postgres://postgres@127.0.0.1:1/none');
      try {
        const e = await runStartupChecks(s.config, { ...s.targets, database: unreachable }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(StartupCheckFault);
        expect((e as Error).message).toMatch(/^startup check database-reachable could not run: pg: /);
      } finally {
        await unreachable.close();
      }
    });

    it('a Lambda container keeps a refusal (checked once per cold start) but retries after a fault', async () => {
      let builds = 0;
      const refused = lazyContainer(async () => {
        builds++;
        throw new StartupCheckError('artifact-bucket-object-lock', 'bucket x: Object Lock is not enabled on the bucket');
      });
      await expect(refused()).rejects.toThrow(StartupCheckError);
      await expect(refused()).rejects.toThrow(/artifact-bucket-object-lock/);
      expect(builds).toBe(1);
      const faulty = lazyContainer(async () => {
        builds++;
        throw new StartupCheckFault('database-reachable', 'data-api: DatabaseResumingException');
      });
      await expect(faulty()).rejects.toThrow(StartupCheckFault);
      await expect(faulty()).rejects.toThrow(StartupCheckFault);
      expect(builds).toBe(3);
      const ok = lazyContainer(async () => {
        builds++;
        return {} as Container;
      });
      await ok();
      await ok();
      expect(builds).toBe(4);
    });
  });
}
