/**
 * The drift window reader on S3 (moto_server): serving's S3ObjectWriter writes input segments
 * to the drift bucket, S3ObjectReader lists them by hour prefix with ListObjectsV2 only (no
 * HeadObject per key) and reads them with GetObject, and a window over them counts the same as
 * over the filesystem store.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { buildBaseline } from '../../lib/kernel/baseline-build.js';
import { FsObjectStore } from '../../lib/platform/adapters/object-store/fs.js';
import { S3ObjectReader } from '../../lib/platform/adapters/object-store/s3-reader.js';
import { S3ObjectWriter } from '../../lib/platform/adapters/object-store/s3-writer.js';
import { DriftWindows, type WindowQuery } from '../../lib/modules/drift/service.js';
import { startMoto } from '../support/moto.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';

const moto = await startMoto();

const baseline = buildBaseline({ columns: [{ name: 'x', kind: 'numeric', values: Array.from({ length: 100 }, (_, i) => i) }] });
const line = (id: string, at: string, x: unknown) =>
  JSON.stringify({
    requestId: id,
    at,
    variant: 'stable',
    artifactId: 'a1',
    latencyMs: 1,
    error: false,
    inputs: [[x]],
    predictions: [{ value: 1 }],
  });
const segments: Record<string, string> = {
  'serving-inputs/m/prod/2026-11-30/06/20261130T060000Z-a.jsonl': `${line('r0', '2026-11-30T06:59:59Z', 5)}\n`,
  'serving-inputs/m/prod/2026-11-30/07/20261130T070000Z-a.jsonl': `${line('r1', '2026-11-30T07:00:00Z', 5)}\n${line('r2', '2026-11-30T07:10:00Z', 50)}\n`,
  'serving-inputs/m/prod/2026-11-30/07/20261130T071000Z-b.jsonl': `${line('r3', '2026-11-30T07:20:00Z', 'x')}\nnot json\n`,
  'serving-inputs/m/prod/2026-11-30/08/20261130T080000Z-c.jsonl': `${line('r4', '2026-11-30T08:00:00Z', 99)}\n`,
};
const q: WindowQuery = {
  model: 'm',
  env: 'prod',
  artifactId: 'a1',
  from: new Date('2026-11-30T07:00:00Z'),
  to: new Date('2026-11-30T08:00:00Z'),
};
const noLabels = { labels: async () => new Map<string, string>() };
const noRegistry = { get: async () => undefined };

describeUnless(moto ? undefined : NO_MOTO, 'S3ObjectReader (moto_server)', () => {
  let client: S3Client;
  let bucket: string;
  let root: string;
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
    const writer = new S3ObjectWriter({ bucket, client });
    root = await mkdtemp(join(tmpdir(), 'aegis-drift-s3-'));
    const fs = new FsObjectStore({ root });
    for (const [key, body] of Object.entries(segments)) {
      await writer.put(key, body, { contentType: 'application/x-ndjson' });
      await fs.put(key, body);
    }
  });
  afterAll(async () => {
    client?.destroy();
    await moto?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('lists an hour prefix with ListObjectsV2 alone, keys in order with their sizes', async () => {
    const reader = new S3ObjectReader({ bucket, client });
    sent.length = 0;
    const listed = [];
    for await (const o of reader.list('serving-inputs/m/prod/2026-11-30/07/')) listed.push(o);
    expect(sent).toEqual(['ListObjectsV2Command']);
    expect(listed.map((o) => [o.key, o.size])).toEqual([
      [
        'serving-inputs/m/prod/2026-11-30/07/20261130T070000Z-a.jsonl',
        Buffer.byteLength(segments['serving-inputs/m/prod/2026-11-30/07/20261130T070000Z-a.jsonl']!),
      ],
      [
        'serving-inputs/m/prod/2026-11-30/07/20261130T071000Z-b.jsonl',
        Buffer.byteLength(segments['serving-inputs/m/prod/2026-11-30/07/20261130T071000Z-b.jsonl']!),
      ],
    ]);
  });

  it('reads a segment with GetObject; a missing key is OBJECT_NOT_FOUND; a bad key or prefix is refused', async () => {
    const reader = new S3ObjectReader({ bucket, client });
    const key = 'serving-inputs/m/prod/2026-11-30/08/20261130T080000Z-c.jsonl';
    const chunks: Buffer[] = [];
    for await (const c of await reader.get(key)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(segments[key]);
    await expect(reader.get('serving-inputs/m/prod/nope.jsonl')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND', field: 'key' });
    await expect(reader.get('../etc/passwd')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(() => new S3ObjectReader({ bucket: '' })).toThrow(/bucket/);
  });

  it('a window over S3 counts what the same window over the filesystem store counts', async () => {
    const s3 = new DriftWindows({
      segments: new S3ObjectReader({ bucket, client }),
      labels: noLabels,
      registry: noRegistry,
      store: new FsObjectStore({ root }),
    });
    const fs = new DriftWindows({
      segments: new FsObjectStore({ root }),
      labels: noLabels,
      registry: noRegistry,
      store: new FsObjectStore({ root }),
    });
    const keys = (await s3.segmentsOf(q)).map((s) => s.key);
    expect(keys).toHaveLength(2);
    const w = await s3.windowOfShard(q, baseline, keys);
    expect(w).toMatchObject({ segments: 2, lines: 4, requests: 3, skipped: { bad: 1 } });
    expect(w.profile.features.x).toMatchObject({ invalid: 1 });
    expect(w).toEqual(
      await fs.windowOfShard(
        q,
        baseline,
        (await fs.segmentsOf(q)).map((s) => s.key),
      ),
    );
  });
});
