import { createHash, randomBytes } from 'node:crypto';
import { HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { jest } from '@jest/globals';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ApiError } from '../../lib/clients/http/client.js';
import { eventHash, eventStatement, type AuditEvent } from '../../lib/kernel/audit-chain.js';
import { verifyRaw, type SignatureAlg } from '../../lib/kernel/signatures.js';
import { tapBus, type BusTap, type DeliveredEvent } from '../support/moto-events.js';
import { roleClient, runMigrations, scheduledEvent, scheduledJob } from './support/callers.js';
import { ok } from './support/cli.js';
import { worldSuite } from './support/suite.js';
import { editJson, REGION } from './support/world.js';

/**
 * AWS mode end to end, on what `cdk deploy` would ship: the synthesized bundles alone, their
 * environment and state machines from the synthesized template, on emulators (see
 * support/world.ts), with REQUIRE_KMS=true and NODE_ENV=production as the template sets them.
 * The CLI drives the API with SigV4 as a user would.
 */
const MODEL = 'e2e-churn';
const PART = 5 * 1024 * 1024;
// every step spawns the CLI or cold-starts a function: generous on a loaded machine
jest.setTimeout(300_000);
/** what reached the stack's event bus, through a rule to an SQS queue on moto (as a consumer's rule would route it) */
let bus: BusTap;
const onBus: DeliveredEvent[] = [];
const ids: { [k: string]: string } = {};
const artifactA = () => {
  if (!ids.a) throw new Error('the registration step did not run');
  return ids.a;
};

/** A recording of served traffic the canary judge reads: healthy and alike on both arms, split by the canary percent. */
function healthyRecording(file: string, keys: { key: string; canaryShare: number }[]) {
  const samples: unknown[] = [];
  const start = Date.now() - 30_000;
  const end = Date.now() + 15 * 60_000;
  let i = 0;
  // 50 requests/s: a stage judged after a few seconds has seen a few hundred
  for (let at = start; at < end; at += 20) {
    for (const { key, canaryShare } of keys) {
      i++;
      const variant = (i * 7919) % 1000 < canaryShare * 1000 ? 'canary' : 'stable';
      samples.push({ deploymentKey: key, variant, at: new Date(at).toISOString(), latencyMs: 20 + ((i * 31) % 17), error: i % 400 === 0 });
    }
  }
  writeFileSync(file, JSON.stringify({ samples }));
}

const suite = worldSuite('aegis-e2e-work-', (work) => {
  const recording = join(work, 'canary-recording.json');
  healthyRecording(recording, [{ key: `${MODEL}/canary`, canaryShare: 0.1 }]);
  return {
    // deploy-time configuration of SentinelNet: this model is high risk (prod needs 3 of 5
    // approvals), and a canary completes after 20 requests per arm (the suite's stages last seconds)
    configure(fn, dir) {
      if (fn.environment.AEGIS_POLICIES_DIR) {
        editJson(join(dir, 'policies/sentinelnet.json'), (c) => {
          c.riskTiers.models[MODEL] = 'high';
          c.canary = { ...c.canary, minRequestsPerArm: 20 };
          // the recording holds stable and canary arms only, no shadow: prod by canary (high-risk-prod-requires-shadow off)
          c.shadow = { requiredForHighRiskProd: false };
        });
      }
    },
    // every Wait of the state machines lasts this long (the judge reads the stage so far)
    waitMs: 8000,
    extraEnv: (fn): Record<string, string> => ({
      // multipart uploads in parts of S3's minimum (5 MiB), so a small artifact has several
      AEGIS_MULTIPART_PART_BYTES: String(PART),
      ...(/rolloutStep/i.test(fn.logicalId)
        ? { AEGIS_CANARY_METRICS_FILE: recording }
        : // the expiry job alone sees pending promotions expire after a second: the suite cannot wait 7 days
          /^PendingPromotionExpiry/.test(fn.logicalId)
          ? { AEGIS_PENDING_PROMOTION_TTL_SECONDS: '1' }
          : {}),
    }),
  };
});
const { cli } = suite;
beforeAll(async () => {
  const [busName] = Object.values(suite.world.assembly.template.Resources)
    .filter((r) => r.Type === 'AWS::Events::EventBus')
    .map((r) => r.Properties.Name as string);
  bus = await tapBus(suite.world.motoEndpoint, REGION, busName!, { create: false });
});

async function settled(promotionId: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cli('auditor', ['promotions', '--id', promotionId]);
    ok(r);
    if (!['rolling_out', 'pending_multisig'].includes(r.json.status)) return r.json;
    if (Date.now() > deadline)
      throw new Error(`promotion ${promotionId} still ${r.json.status}\n${suite.world.logs.slice(-30).join('\n')}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** Writes `<label>.manifest.json` (trained on the registered dataset) with these fields; its path. */
function writeManifest(label: string, fields: { hyperparams: object; seed: number; environment: object; metrics: object }) {
  const manifestFile = join(suite.work, `${label}.manifest.json`);
  writeFileSync(
    manifestFile,
    JSON.stringify({
      codeRef: 'git:4f2c1e0',
      containerDigest: `sha256:${'a'.repeat(64)}`,
      datasetRefs: [{ id: 'transactions', version: '2026-11', checksum: ids.datasetChecksum }],
      trainingCmd: 'python train.py',
      ...fields,
    }),
  );
  return manifestFile;
}

async function registerArtifact(label: string, metrics: Record<string, number>) {
  const artifact = join(suite.work, `${label}.bin`);
  writeFileSync(artifact, randomBytes(20_000));
  const manifestFile = writeManifest(label, { hyperparams: { lr: 0.1 }, seed: 42, environment: { python: '3.11' }, metrics });
  const r = await cli('publisher', ['register', '--model', MODEL, '--artifact', artifact, '--manifest', manifestFile]);
  ok(r);
  return r.json as { artifactId: string; version: number; storage?: { key: string } };
}

describe('AWS mode on the synthesized artifacts', () => {
  it('runs the migrations custom resource: schema applied once, KMS keys adopted into the key ring', async () => {
    const first = await runMigrations(suite.world, 'Create', 'e2e');
    expect(first.PhysicalResourceId).toBe('aegis-migrations');
    expect(first.Data.applied.split(',')).toContain('0001_registry');
    const again = await runMigrations(suite.world, 'Update', 'e2e');
    expect(again.Data.applied).toBe('');

    const keys = await cli('auditor', ['keys', 'list']);
    ok(keys);
    const byKid = Object.fromEntries(
      (keys.json.keys as { kid: string; kmsKeyId?: string; alg: string; status?: string }[]).map((k) => [k.kid, k]),
    );
    expect(byKid['manifest-signer-v1']).toMatchObject({ alg: 'ecdsa-p256-sha256' });
    expect(byKid['audit-signer-v1']).toMatchObject({ alg: 'ecdsa-p256-sha256' });
  });

  it('runs every function but migrate as the application database user, which cannot rewrite the audit chain; liveness and readiness answer', async () => {
    const api = roleClient(suite.world, 'auditor');
    // readiness: select 1 through the Data API as the application user, S3's Object Lock configuration, KMS DescribeKey
    expect(await api.request('GET', '/v1/readyz')).toEqual({
      ok: true,
      mode: 'lambda',
      version: '0.1.0',
      checks: { database: 'ok', objectStore: 'ok', signer: 'ok' },
    });
    const live = await fetch(new URL('healthz', suite.world.api.url));
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ ok: true, mode: 'lambda', version: '0.1.0' });

    const appUser = decodeURIComponent(new URL(suite.world.appDatabaseUrl).username);
    const owner = new pg.Client({ connectionString: suite.world.databaseUrl });
    await owner.connect();
    try {
      // the Data API server keeps the sessions it opened for each secret's user
      const { rows } = await owner.query<{ usename: string }>(
        'select distinct usename from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
      );
      expect(rows.map((r) => r.usename)).toContain(appUser);
      const { rows: owners } = await owner.query<{ tableowner: string }>(
        `select tableowner from pg_tables where tablename = 'audit_events'`,
      );
      expect(owners[0]!.tableowner).not.toBe(appUser);
    } finally {
      await owner.end();
    }
    const app = new pg.Client({ connectionString: suite.world.appDatabaseUrl });
    await app.connect();
    try {
      const denied = (q: string) =>
        app.query(q).then(
          () => 'allowed',
          (e: { code?: string }) => e.code,
        );
      expect(Number((await app.query('select count(*)::int as n from audit_events')).rows[0].n)).toBeGreaterThan(0);
      expect(await denied(`update audit_events set actor = 'mallory'`)).toBe('42501');
      expect(await denied('delete from audit_events')).toBe('42501');
      expect(await denied('truncate audit_events')).toBe('42501');
    } finally {
      await app.end();
    }
  });

  it('maps IAM callers to roles from the synthesized role map: a publisher may not read the audit log, an unsigned call is refused by the gateway', async () => {
    const unsigned = await fetch(new URL('v1/models', suite.world.api.url));
    expect(unsigned.status).toBe(403);
    const r = await cli('publisher', ['audit', 'list']);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/FORBIDDEN|may not/);
  });

  it('registers a dataset, and an artifact in one request (the register function writes its bytes to S3), signed with the KMS manifest key', async () => {
    const data = join(suite.work, 'dataset.csv');
    writeFileSync(data, 'a,b,label\n1,2,0\n3,4,1\n');
    const ds = await cli('publisher', ['datasets', 'register', '--id', 'transactions', '--version', '2026-11', '--path', data]);
    ok(ds);
    ids.datasetChecksum = ds.json.checksum;
    const reg = await registerArtifact('v1', { auc: 0.9 });
    expect(reg.version).toBe(1);
    ids.a = reg.artifactId;

    const got = await cli('auditor', ['get', ids.a]);
    ok(got);
    expect(got.json).toMatchObject({
      artifactId: ids.a,
      modelName: MODEL,
      version: 1,
      signature: { signerId: 'manifest-signer-v1', alg: 'ecdsa-p256-sha256' },
    });
    const verified = await cli('auditor', ['verify-manifest', '--artifact-id', ids.a]);
    ok(verified);
    expect(JSON.stringify(verified.json)).not.toMatch(/"ok":false/);
  });

  it('uploads a large artifact as an S3 multipart upload in presigned parts, resumes it from the CLI, and registration completes it once', async () => {
    const model = 'e2e-large';
    const artifact = join(suite.work, 'large.bin');
    const bytes = randomBytes(2 * PART + 1000);
    writeFileSync(artifact, bytes);
    const manifestFile = writeManifest('large', { hyperparams: {}, seed: 1, environment: {}, metrics: {} });
    // an upload interrupted after its first part: started and sent through the API as the CLI would
    const api = roleClient(suite.world, 'publisher');
    const up = await api.request<{ uploadId: string; partSize: number; partCount: number }>('POST', '/v1/registry/uploads', {
      modelName: model,
      size: bytes.length,
      multipart: true,
    });
    expect(up).toMatchObject({ partSize: PART, partCount: 3 });
    const first = bytes.subarray(0, PART);
    const { parts } = await api.request<{ parts: { url: string; headers: Record<string, string> }[] }>(
      'POST',
      `/v1/registry/uploads/${up.uploadId}/parts`,
      { parts: [{ partNumber: 1, size: PART, sha256: createHash('sha256').update(first).digest('hex') }] },
    );
    await api.uploadFile(parts[0]!.url, parts[0]!.headers, artifact, undefined, { start: 0, size: PART });

    const r = await cli('publisher', [
      'register',
      '--model',
      model,
      '--artifact',
      artifact,
      '--manifest',
      manifestFile,
      '--upload-id',
      up.uploadId,
    ]);
    ok(r);
    expect(r.stderr).toContain('1 of 3 parts already received');
    expect(r.json).toMatchObject({ version: 1, sha256: createHash('sha256').update(bytes).digest('hex'), replayed: false });
    // one object of three parts, no multipart upload left in progress
    const s3 = new S3Client({ endpoint: suite.world.s3Endpoint, forcePathStyle: true, region: REGION });
    const bucket = suite.world.buckets.ArtifactBucket!;
    const record = (await cli('auditor', ['get', r.json.artifactId])).json;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: record.storage.key, VersionId: record.storage.versionId }));
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ContentLength).toBe(bytes.length);
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `artifacts/${model}/` }));
    expect(open.Uploads ?? []).toEqual([]);
    const verified = await cli('auditor', ['verify-manifest', '--artifact-id', r.json.artifactId]);
    ok(verified);
    expect(JSON.stringify(verified.json)).not.toMatch(/"ok":false/);
  });

  it("publishes the audited change to the stack's event bus: the commit wakes the dispatcher function, which puts the signed event there", async () => {
    const dispatcher = suite.world.functionId((fn) => /^EventsDispatch/.test(fn.logicalId));
    const registered = (d: DeliveredEvent) =>
      d['detail-type'] === 'dataset.registered' && (d.detail.payload as { id?: string } | undefined)?.id === 'transactions';
    const deadline = Date.now() + 90_000;
    while (!onBus.some(registered)) {
      if (Date.now() > deadline) throw new Error(`no dataset.registered on the bus\n${suite.world.logs.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 500));
      onBus.push(...(await bus.drain()));
    }
    // woken by the API function's commit (an asynchronous invocation), not only by the schedule
    const kicks = suite.world.lambda.calls.filter((c) => c.logicalId === dispatcher);
    expect(kicks.length).toBeGreaterThan(0);
    for (const k of kicks) expect(k).toMatchObject({ type: 'Event', payload: { aegisEventKick: true } });
    expect(suite.world.lambda.asyncErrors).toEqual([]);

    const event = onBus.find(registered)!;
    expect(event.source).toBe('aegis');
    // the whole event of the chain: it verifies against the keys the API publishes
    const e = event.detail as unknown as AuditEvent;
    expect(e.payload).toMatchObject({ id: 'transactions', version: '2026-11', checksum: ids.datasetChecksum });
    expect(eventHash(e)).toBe(e.hash);
    const { keys } = await roleClient(suite.world, 'auditor').request<{ keys: { kid: string; alg: SignatureAlg; publicKey: string }[] }>(
      'GET',
      '/v1/keys',
    );
    const key = keys.find((k) => k.kid === e.signerId)!;
    expect(key.alg).toBe('ecdsa-p256-sha256');
    expect(verifyRaw(key.alg, key.publicKey, eventStatement(e.seq, e.hash), e.signature)).toBe(true);
    // in chain order, from the migrate step's own events on (the bus subscription exists from the deploy)
    const seqs = onBus.map((d) => (d.detail as { seq: number }).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(onBus.map((d) => d['detail-type'])).toContain('subscription.created');
  });

  it('refuses webhooks to loopback, private and link-local addresses in the production configuration (SSRF), naming url', async () => {
    const admin = roleClient(suite.world, 'admin');
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'https://127.0.0.1/hook',
      'https://10.0.0.1/x',
      'https://169.254.169.254/latest/meta-data/',
    ]) {
      const err = await admin.request('POST', '/v1/webhooks', { url, events: ['*'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect({ url, status: (err as ApiError).status, field: (err as ApiError).field }).toEqual({ url, status: 400, field: 'url' });
    }
    // nothing was stored: the only subscription is the stack's bus, which the migrate step subscribed
    const { items } = await admin.request<{ items: { kind: string; target: string }[] }>('GET', '/v1/webhooks');
    expect(items.map((s) => [s.kind, s.target])).toEqual([['bus', expect.stringMatching(/^aegis-[a-z0-9-]+-events$/)]]);
  });

  it('holds a scoped role-map entry to its models: lists filtered, another model missing, the audit log refused', async () => {
    const churn = await cli('churnci', ['list']);
    ok(churn);
    expect(churn.json.items.map((m: { name: string }) => m.name)).toContain(MODEL);
    const fraud = await cli('fraudci', ['list']);
    ok(fraud);
    expect(fraud.json.items).toEqual([]);
    const hidden = await cli('fraudci', ['get', ids.a!]);
    expect(hidden.code).not.toBe(0);
    expect(hidden.stdout + hidden.stderr).toContain(`no artifact ${ids.a}`);
    expect((await cli('churnci', ['get', ids.a!])).json).toMatchObject({ artifactId: ids.a, modelName: MODEL });
    const audit = await cli('churnci', ['audit', 'list']);
    expect(audit.code).not.toBe(0);
    expect(audit.stdout + audit.stderr).toMatch(/needs a global one/);
  });

  it('catches one tampered byte in S3: verification fails and the artifact cannot be promoted', async () => {
    const t = await registerArtifact('tampered', { auc: 0.95 });
    const record = (await cli('auditor', ['get', t.artifactId])).json;
    const key = record.storage?.key ?? record.storageKey;
    expect(typeof key).toBe('string');
    suite.world.tamper(suite.world.buckets.ArtifactBucket!, key);
    ids.tampered = t.artifactId;
    const verified = await cli('auditor', ['verify-manifest', '--artifact-id', t.artifactId]);
    expect(verified.code).toBe(1);
    expect(verified.stdout + verified.stderr).toMatch(/sha256/i);
    const promoted = await cli('promoter', ['promote', '--artifact-id', t.artifactId, '--env', 'staging', '--reason', 'must not pass']);
    expect(promoted.code).not.toBe(0);
    expect(promoted.stdout + promoted.stderr).toMatch(/sha256|VERIFICATION|verif/i);
  });

  it('pulls as a reader through an S3 presigned GET pinned to the version id, resumes with a range, refuses tampered bytes and registration', async () => {
    const api = roleClient(suite.world, 'reader');
    const ticket = await api.request<{ url: string; artifact: { storage: { versionId: string } } }>(
      'GET',
      `/v1/artifacts/${artifactA()}/download`,
    );
    const url = new URL(ticket.url);
    expect(url.searchParams.get('versionId')).toBe(ticket.artifact.storage.versionId);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

    const out = join(suite.work, 'pulled', 'v1.bin');
    mkdirSync(join(suite.work, 'pulled'));
    const pulled = await cli('reader', ['pull', '--artifact-id', artifactA(), '--out', out]);
    ok(pulled);
    expect(readFileSync(out).equals(readFileSync(join(suite.work, 'v1.bin')))).toBe(true);
    // an interrupted download: the rest comes as a range of the same S3 version, and the whole verifies
    const again = join(suite.work, 'pulled', 'again.bin');
    writeFileSync(
      join(suite.work, 'pulled', `.again.bin.${artifactA()}.part`),
      readFileSync(join(suite.work, 'v1.bin')).subarray(0, 7_000),
    );
    ok(await cli('reader', ['pull', '--model', MODEL, '--version', '1', '--out', again]));
    expect(readFileSync(again).equals(readFileSync(join(suite.work, 'v1.bin')))).toBe(true);

    const bad = await cli('reader', ['pull', '--artifact-id', ids.tampered!, '--out', join(suite.work, 'pulled', 'bad.bin')]);
    expect(bad.code).toBe(1);
    // --json: the error goes to stdout
    expect(bad.stdout + bad.stderr).toContain('FAIL artifact-sha256');
    expect(readdirSync(join(suite.work, 'pulled')).sort()).toEqual(['again.bin', 'v1.bin']);
    const audit = await cli('auditor', ['audit', 'list', '--type', 'artifact.download_issued']);
    ok(audit);
    expect(audit.json.items.length).toBeGreaterThanOrEqual(4);
    const refused = await cli('reader', [
      'register',
      '--model',
      MODEL,
      '--artifact',
      out,
      '--manifest',
      join(suite.work, 'v1.manifest.json'),
    ]);
    expect(refused.code).toBe(3);
  });

  it('promotes to staging, then through a judged canary, each a Step Functions execution of the synthesized machine running the bundled step', async () => {
    const staging = await cli('promoter', ['promote', '--artifact-id', artifactA(), '--env', 'staging', '--reason', 'e2e']);
    ok(staging);
    const s = await settled(staging.json.promotionId);
    expect(s.status).toBe('succeeded');
    const canary = await cli('promoter', [
      'promote',
      '--artifact-id',
      artifactA(),
      '--env',
      'canary',
      '--reason',
      'e2e',
      '--canary-percent',
      '10',
      '--canary-steps',
      '1',
      '--canary-window',
      '10',
      '--min-requests',
      '20',
      '--max-inconclusive',
      '4',
    ]);
    ok(canary);
    // A duplicate execution of the same promotion (another name, so Step Functions runs it):
    // its first step is refused by the lease the real execution holds, and it ends Superseded
    // without touching the rollout (no rollback, no state written).
    const original = suite.world.sfn.executions().find((e) => e.name === canary.json.promotionId)!;
    const sfnClient = new SFNClient({
      endpoint: suite.world.sfn.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const dup = await sfnClient.send(
      new StartExecutionCommand({
        stateMachineArn: original.stateMachineArn,
        name: `${canary.json.promotionId}-duplicate`,
        input: original.input,
      }),
    );
    const duplicate = await suite.world.sfn.waitFor(dup.executionArn!);
    // the Catch for Aegis.LeaseLost led to Superseded (a Succeed state), the refusal kept in $.error
    expect({
      status: duplicate.status,
      tasks: duplicate.tasks.length,
      caught: (JSON.parse(duplicate.output ?? '{}') as { error?: { Error?: string } }).error?.Error,
    }).toEqual({ status: 'SUCCEEDED', tasks: 1, caught: 'Aegis.LeaseLost' });
    const c = await settled(canary.json.promotionId);
    // on failure this shows the judge's reasons
    expect({ status: c.status, why: c.status === 'succeeded' ? [] : [c.verdicts, c.trace] }).toEqual({ status: 'succeeded', why: [] });
    // the duplicate's refused step is in the trace, under its own execution ARN, and nothing else of it
    const refused = c.trace.filter((t: { runner: string }) => t.runner === dup.executionArn);
    expect(refused).toEqual([
      expect.objectContaining({
        state: 'StartCanary',
        leaseToken: null,
        error: expect.stringContaining(`${original.executionArn} holds it (token 1)`),
      }),
    ]);
    expect(
      c.trace
        .filter((t: { runner: string }) => t.runner !== dup.executionArn)
        .every((t: { runner: string; leaseToken: number }) => t.runner === original.executionArn && t.leaseToken === 1),
    ).toBe(true);
    // judged on the recorded traffic: held while a window had too few requests, then passed
    const states = c.trace.filter((t: { runner: string }) => t.runner === original.executionArn).map((t: { state: string }) => t.state);
    expect(states[0]).toBe('StartCanary');
    expect(states.slice(1, -1).every((s: string) => s === 'Evaluate')).toBe(true);
    expect(states[states.length - 1]).toBe('PromoteFully');
    const verdicts = c.verdicts.map((v: { verdict: string }) => v.verdict);
    expect(verdicts[verdicts.length - 1]).toBe('pass');
    expect(verdicts.slice(0, -1).every((v: string) => v === 'inconclusive')).toBe(true);
    // the bundled step wrote each verdict as an EMF line (namespace Aegis): the fail-verdict alarm's series
    const stepFn = suite.world.functionId((fn) => /rolloutStep/i.test(fn.logicalId));
    const emf = suite.world.logs
      .filter((l) => l.startsWith(`${stepFn}: `) && l.includes('"ai_infra_canary_verdicts_total"'))
      .map((l) => JSON.parse(l.slice(stepFn.length + 2)) as Record<string, any>)
      .filter((e) => e.env === 'canary');
    expect(emf.map((e) => e.verdict)).toEqual(verdicts);
    expect(emf[0]!._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Aegis' });
    const executions = suite.world.sfn.executions().filter((e) => e.name === canary.json.promotionId);
    expect(executions).toHaveLength(1);
    expect(executions[0]!.status).toBe('SUCCEEDED');
    expect(new Set(executions[0]!.tasks.map((t) => t.functionLogicalId)).size).toBe(1);
  }, 300_000);

  async function approvers() {
    if (ids.approversEnrolled) return;
    for (const name of ['alice', 'bob', 'carol']) {
      const out = join(suite.work, `${name}.pem`);
      ok(await cli('approver', ['keys', 'generate', '--out', out]));
      ok(
        await cli('admin', [
          'keys',
          'add',
          '--role',
          'approver',
          '--kid',
          `${name}-approver`,
          '--owner',
          name,
          '--public-key',
          `${out}.pub`,
        ]),
      );
    }
    ids.approversEnrolled = 'yes';
  }

  async function promoteToProdWithApprovals(artifactId: string) {
    const prod = await cli('promoter', ['promote', '--artifact-id', artifactId, '--env', 'prod', '--reason', 'e2e', '--canary-steps', '0']);
    ok(prod);
    expect(prod.json).toMatchObject({ status: 'pending_multisig', policyDecision: { decision: 'require_multisig' } });
    await approvers();
    for (const name of ['alice', 'bob', 'carol'])
      ok(
        await cli('approver', [
          'approve',
          '--promotion',
          prod.json.promotionId,
          '--key',
          join(suite.work, `${name}.pem`),
          '--kid',
          `${name}-approver`,
        ]),
      );
    return settled(prod.json.promotionId);
  }

  it('promotes a high-risk model to prod only after 3 of 5 approvals, then rolls prod back to the earlier artifact', async () => {
    const first = await promoteToProdWithApprovals(artifactA());
    expect(first.status).toBe('succeeded');

    const b = await registerArtifact('v2', { auc: 0.91 });
    ids.b = b.artifactId;
    const bId = b.artifactId;
    for (const env of ['staging', 'canary'] as const) {
      const p = await cli('promoter', [
        'promote',
        '--artifact-id',
        bId,
        '--env',
        env,
        '--reason',
        'e2e',
        ...(env === 'canary'
          ? ['--canary-percent', '10', '--canary-steps', '1', '--canary-window', '10', '--min-requests', '20', '--max-inconclusive', '4']
          : []),
      ]);
      ok(p);
      expect((await settled(p.json.promotionId)).status).toBe('succeeded');
    }
    expect((await promoteToProdWithApprovals(bId)).status).toBe('succeeded');

    const rollback = await cli('promoter', ['rollback', '--model', MODEL, '--env', 'prod', '--to', artifactA(), '--reason', 'e2e drill']);
    ok(rollback);
    const done = await settled(rollback.json.promotionId);
    expect(done.status).toBe('succeeded');
    const rollbackMachine = suite.world.sfn.executions().find((e) => e.name === rollback.json.promotionId)!;
    expect(rollbackMachine.stateMachineLogicalId).toMatch(/Rollback/);
    const lineage = await cli('auditor', ['lineage', artifactA()]);
    ok(lineage);
    expect(lineage.json.deployments).toEqual(expect.arrayContaining([{ env: 'prod', role: 'stable', percent: 100 }]));
  }, 600_000);

  it('quarantines an artifact that serves: staging rolled back to the earlier one by an execution of the synthesized rollback machine, promotion refused 409, release pending multisig', async () => {
    // a third artifact, staged over b (which the expiry step below still promotes)
    const bId = (await registerArtifact('v3', { auc: 0.92 })).artifactId;
    const staged = await cli('promoter', ['promote', '--artifact-id', bId, '--env', 'staging', '--reason', 'e2e']);
    ok(staged);
    expect((await settled(staged.json.promotionId)).status).toBe('succeeded');
    const q = await cli('security', ['quarantine', bId, '--reason', 'e2e: weights leaked']);
    ok(q);
    expect(q.json).toMatchObject({ quarantined: true, quarantine: { reason: 'e2e: weights leaked' } });
    const [request] = q.json.requests;
    expect(request).toMatchObject({ action: 'quarantine', status: 'applied', recordSignature: { signerId: expect.any(String) } });
    const staging = request.effects.find((e: { env: string }) => e.env === 'staging');
    expect(staging).toMatchObject({ kind: 'stable-rolled-back', toArtifactId: ids.b });
    const rollback = await settled(staging.promotionId);
    expect(rollback).toMatchObject({ kind: 'rollback', status: 'succeeded', artifactId: ids.b });
    const execution = suite.world.sfn.executions().find((e) => e.name === staging.promotionId)!;
    expect([execution.stateMachineLogicalId, execution.status]).toEqual([expect.stringMatching(/Rollback/), 'SUCCEEDED']);

    const refused = await cli('promoter', ['promote', '--artifact-id', bId, '--env', 'staging', '--reason', 'again']);
    expect(refused.code).toBe(1);
    expect(refused.json.error).toMatchObject({ code: 'ARTIFACT_QUARANTINED', status: 409, field: 'artifactId' });
    const lineage = await cli('auditor', ['lineage', bId]);
    ok(lineage);
    expect(lineage.json.deployments.filter((d: { env: string }) => d.env === 'staging')).toEqual([]);

    const release = await cli('admin', ['quarantine', 'release', bId, '--reason', 'e2e: cleared']);
    ok(release);
    expect(release.json.quarantined).toBe(true);
    expect(release.json.requests.find((r: { action: string }) => r.action === 'release')).toMatchObject({
      status: 'pending_multisig',
      threshold: 3,
    });
  }, 300_000);

  it("archives the audit log through the schedule's handler and on demand, and verifies the chain against the archive", async () => {
    const { job: archiver, schedule } = scheduledJob(suite.world, 'AuditArchiveSchedule');
    expect(schedule).toMatch(/^rate\(/);
    const result = await suite.world.fleet.invoke<{ archived?: number; segments?: number }>(archiver, scheduledEvent());
    expect(result).toBeTruthy();
    // an operator archives on demand too: a POST without a body passes the gateway's JSON-object validation
    ok(await cli('operator', ['audit', 'archive']));
    const verify = await cli('auditor', ['audit-verify']);
    ok(verify);
    expect(verify.json).toMatchObject({ ok: true });
    expect(JSON.stringify(verify.json)).toMatch(/archive/i);
  });

  it("expires a pending promotion through the pending-promotion-expiry schedule's handler, audited, with nobody touching it", async () => {
    if (!ids.b) throw new Error('the prod step did not run');
    const pending = await cli('promoter', [
      'promote',
      '--artifact-id',
      ids.b,
      '--env',
      'prod',
      '--reason',
      'e2e expiry',
      '--canary-steps',
      '0',
    ]);
    ok(pending);
    expect(pending.json).toMatchObject({ status: 'pending_multisig' });
    const id = pending.json.promotionId as string;
    const { job, schedule } = scheduledJob(suite.world, 'PendingPromotionExpiry');
    expect(schedule).toBe('rate(15 minutes)');
    // the job's TTL is one second here: run it as the rule would until that second has passed
    const deadline = Date.now() + 60_000;
    let result: { expired: string[]; more: boolean };
    for (;;) {
      result = await suite.world.fleet.invoke<{ expired: string[]; more: boolean }>(job, scheduledEvent());
      if (result.expired.length > 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 250));
    }
    expect(result).toEqual({ expired: [id], more: false });
    // the API's own TTL is 7 days: it shows expired because the row is, not because it computes so
    const shown = await cli('auditor', ['promotions', '--id', id]);
    ok(shown);
    expect(shown.json).toMatchObject({ status: 'expired', expiresAt: null });
    const events = await cli('auditor', ['audit', 'list', '--subject', `promotion:${id}`, '--type', 'promotion.expired']);
    ok(events);
    expect(JSON.stringify(events.json)).toContain('"actor":"system"');
    const verify = await cli('auditor', ['audit-verify']);
    ok(verify);
    expect(verify.json).toMatchObject({ ok: true });
  });

  it("signs the audit head through the checkpoint schedule's handler; deleting the newest events and the head row in the database then fails audit-verify", async () => {
    const { job, schedule } = scheduledJob(suite.world, 'AuditCheckpoint');
    expect(schedule).toBe('rate(1 minute)');
    // a new event past the archive, then the checkpoint: signed with the KMS audit key into the Object-Lock bucket
    const data = join(suite.work, 'after-archive.csv');
    writeFileSync(data, 'a,label\n1,0\n');
    ok(await cli('publisher', ['datasets', 'register', '--id', 'e2e-after-archive', '--version', '1', '--path', data]));
    const written = await suite.world.fleet.invoke<{ written: boolean; seq: number; key: string }>(job, scheduledEvent());
    expect(written).toMatchObject({ written: true, key: expect.stringMatching(/^audit\/heads\/\d{12}\.json$/) });
    expect(await suite.world.fleet.invoke(job, scheduledEvent())).toMatchObject({ written: false, seq: written.seq });
    const clean = await cli('auditor', ['audit-verify']);
    ok(clean);
    expect(clean.json).toMatchObject({ ok: true, checkpoint: { seq: written.seq } });

    const client = new pg.Client({ connectionString: suite.world.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ hash: string }>('select hash from audit_events where seq = $1', [written.seq - 1]);
      await client.query('delete from audit_events where seq = $1', [written.seq]);
      await client.query('update audit_head set seq = $1, hash = $2 where id = 1', [written.seq - 1, rows[0]!.hash]);
    } finally {
      await client.end();
    }
    const broken = await cli('auditor', ['audit-verify']);
    expect(broken.code).toBe(1);
    expect(broken.json).toMatchObject({ ok: false, firstBreak: { seq: written.seq, problem: 'behind-checkpoint' } });
    // the job refuses to sign the truncated chain: the run fails (the dead-letter queue and its alarm on AWS)
    await expect(suite.world.fleet.invoke(job, scheduledEvent())).rejects.toThrow(/refusing to checkpoint the audit head/);
  });
});
