/**
 * The write-only S3 drift sink on moto_server: one PutObject per object and nothing else (the
 * serving role holds s3:PutObject on serving-inputs/ alone), and the Lambda composition's
 * serving writing its sampled inputs to DRIFT_S3_BUCKET when an invocation ends.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { sql } from 'kysely';
import { canonicalJson, sha256Hex } from '../../lib/kernel/canonical.js';
import { S3ObjectWriter } from '../../lib/platform/adapters/object-store/s3-writer.js';
import { PgliteDatabase } from '../../lib/platform/adapters/sql/pglite.js';
import { lambdaAdapters } from '../../lib/platform/composition/lambda.js';
import { servingService } from '../../lib/platform/composition/serving.js';
import { loadCheckedConfig } from '../../lib/platform/config.js';
import { migrateToLatest } from '../../lib/platform/sql/migrations.js';
import type { ModelRuntime } from '../../lib/platform/ports/model-runtime.js';
import type { ObjectStore } from '../../lib/platform/ports/object-store.js';
import type { AuditLog } from '../../lib/platform/audit/log.js';
import type { RolloutService } from '../../lib/modules/rollout/service.js';
import type { ArtifactRecord } from '../../lib/modules/registry/service.js';
import { startMoto } from '../support/moto.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';
import { tarGz } from '../support/tar.js';

const moto = await startMoto();

describeUnless(moto ? undefined : NO_MOTO, 'S3ObjectWriter (moto_server)', () => {
  let client: S3Client;
  let bucket: string;
  const sent: string[] = [];
  beforeAll(async () => {
    client = new S3Client({
      endpoint: moto!.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    bucket = `aegis-drift-${randomBytes(4).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  });
  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
  });

  const read = async (key: string) => {
    const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { body: await out.Body!.transformToString(), contentType: out.ContentType };
  };

  it('writes each object with one PutObject and nothing else: no head before it, no tagging after it', async () => {
    const writer = new S3ObjectWriter({ bucket, client });
    sent.length = 0;
    const r = await writer.put('serving-inputs/m/prod/2026-11-30/07/x.jsonl', '{"a":1}\n', { contentType: 'application/x-ndjson' });
    expect(sent).toEqual(['PutObjectCommand']);
    expect(r).toMatchObject({ key: 'serving-inputs/m/prod/2026-11-30/07/x.jsonl', versionId: expect.any(String) });
    expect(await read('serving-inputs/m/prod/2026-11-30/07/x.jsonl')).toEqual({ body: '{"a":1}\n', contentType: 'application/x-ndjson' });
  });

  it('refuses an unsafe key, naming the key, before any request', async () => {
    const writer = new S3ObjectWriter({ bucket, client });
    sent.length = 0;
    await expect(writer.put('serving-inputs/../escape', 'x')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', field: 'key' });
    expect(sent).toEqual([]);
  });

  it('reports a failed put as an internal error naming the operation', async () => {
    const writer = new S3ObjectWriter({ bucket: 'aegis-no-such-bucket', client });
    await expect(writer.put('serving-inputs/x.jsonl', 'x')).rejects.toMatchObject({
      code: 'INTERNAL',
      message: 'S3 put failed: NoSuchBucket',
    });
  });

  describe("the Lambda composition's serving", () => {
    let db: PgliteDatabase;
    let dataDir: string;
    const savedEndpoint = process.env.AWS_ENDPOINT_URL_S3;
    beforeAll(async () => {
      process.env.AWS_ENDPOINT_URL_S3 = moto!.endpoint;
      dataDir = await mkdtemp(join(tmpdir(), 'aegis-drift-'));
      db = await PgliteDatabase.open();
      await migrateToLatest(db.db);
      // the fake registry has no artifacts rows for serving_deployments to reference
      await sql`alter table serving_deployments drop constraint serving_deployments_artifact_id_fkey`.execute(db.db);
    }, 60_000);
    afterAll(async () => {
      if (savedEndpoint === undefined) delete process.env.AWS_ENDPOINT_URL_S3;
      else process.env.AWS_ENDPOINT_URL_S3 = savedEndpoint;
      await db?.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    const configWith = (env: Record<string, string>) =>
      loadCheckedConfig({
        DEV_ALLOW_EPHEMERAL: 'true',
        AEGIS_DATA_DIR: dataDir,
        NODE_ENV: 'test',
        AEGIS_S3_FORCE_PATH_STYLE: 'true',
        AEGIS_SERVING_CACHE_MB: '0',
        ...env,
      });

    it('has no drift store without DRIFT_S3_BUCKET', async () => {
      expect(await lambdaAdapters().driftStore!(configWith({}))).toBeUndefined();
    });

    it('writes the sampled inputs to DRIFT_S3_BUCKET under serving-inputs/ once their interval has passed, when an invocation ends', async () => {
      const config = configWith({ DRIFT_S3_BUCKET: bucket });
      const drift = await lambdaAdapters().driftStore!(config);
      // put only: the retention job does not purge the bucket from Lambda (its lifecycle rule expires segments)
      expect(drift?.purge).toBeUndefined();

      const artifact = await tarGz({ 'model.json': '{}' });
      const manifest = { artifactId: 'a1' };
      const record = {
        artifactId: 'a1',
        modelName: 'churn',
        sha256: sha256Hex(artifact),
        size: artifact.length,
        storage: { key: 'artifacts/a1', versionId: 'v1', manifestKey: 'manifests/a1', signatureKey: 'signatures/a1' },
        manifestSha256: sha256Hex(canonicalJson(manifest)),
        signature: { manifestSignatureId: 'sig-a1' },
      } as unknown as ArtifactRecord;
      const store = {
        get: async (key: string) => Readable.from([key.startsWith('manifests/') ? Buffer.from(canonicalJson(manifest)) : artifact]),
      } as unknown as ObjectStore;
      let now = new Date('2026-11-30T07:15:00Z');
      const clock = { now: () => now };
      const logs: string[] = [];
      const { serving } = servingService(
        config,
        {
          database: db,
          store,
          audit: { append: async () => undefined } as unknown as AuditLog,
          clock,
          logger: { info: () => undefined, warn: () => undefined, error: (m: string) => void logs.push(m) } as never,
          registry: { get: async () => record } as never,
          verification: { validateArtifact: async () => ({ ok: true, checks: [] }) } as never,
          quarantine: { stateOf: async () => null },
          metrics: { inference: () => undefined, inferenceRates: () => undefined, modelLoad: () => undefined } as never,
          drift,
        },
        {
          ...lambdaAdapters(),
          servingEvents: () => ({
            add: () => undefined,
            flush: async () => undefined,
            settledUntil: async (_key: string, now: Date) => now,
          }),
          modelRuntimes: () => [runtime],
        },
        () =>
          ({
            route: async () => ({ modelName: 'churn', env: 'prod', stable: 'a1', canary: null, percent: 0, promotionId: 'p1' }),
          }) as unknown as RolloutService,
      );
      const list = async () =>
        (await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'serving-inputs/churn/' }))).Contents?.map((o) => o.Key!) ??
        [];

      await serving.predict({ modelName: 'churn', env: 'prod', requestId: 'req-1', inputs: [[1.5]] });
      await serving.flushDue();
      // a frozen container runs no timer: nothing was due yet, nothing written
      expect(await list()).toEqual([]);
      now = new Date('2026-11-30T07:15:11Z');
      await serving.predict({ modelName: 'churn', env: 'prod', requestId: 'req-2', inputs: [{ x: 2.5 }] });
      await serving.flushDue();
      const keys = await list();
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatch(/^serving-inputs\/churn\/prod\/2026-11-30\/07\/20261130T071511Z-[0-9a-f]{12}\.jsonl$/);
      const { body, contentType } = await read(keys[0]!);
      expect(contentType).toBe('application/x-ndjson');
      expect(
        body
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l)),
      ).toEqual([
        expect.objectContaining({
          requestId: 'req-1',
          variant: 'stable',
          artifactId: 'a1',
          inputs: [[1.5]],
          predictions: [{ label: 'yes' }],
        }),
        expect.objectContaining({ requestId: 'req-2', inputs: [{ x: 2.5 }] }),
      ]);
      expect(logs).toEqual([]);
      await serving.close();
    });
  });
});

const runtime: ModelRuntime = {
  format: 'fake',
  accepts: (files) => files.has('model.json'),
  load: async () => ({
    format: 'fake',
    features: ['x'],
    predict: async (rows) => rows.map(() => ({ label: 'yes' })),
    close: async () => undefined,
  }),
};
