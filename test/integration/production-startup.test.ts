import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { freePort, startMoto, type Moto } from '../support/moto.js';
import { describeUnless, NO_MOTO } from '../support/unavailable.js';

/**
 * The local server in production: startup checks refuse with one line and exit 2, and a
 * failed start exits even while a client holds a keep-alive connection.
 */
const moto: Moto | undefined = await startMoto();
const creds = { region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };

interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

function serve(env: Record<string, string>): { exited: Promise<Exited>; kill(): void } {
  const { NODE_OPTIONS: _omit, ...base } = process.env;
  const child = spawn(process.execPath, [join(process.cwd(), 'bin/aegis.js'), 'serve'], {
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<Exited>((res) => child.on('close', (code) => res({ code, stdout, stderr })));
  return { exited, kill: () => void child.kill('SIGKILL') };
}

if (!moto) {
  describeUnless(NO_MOTO, 'production startup of the local server', () => {
    it('runs against moto_server', () => undefined);
  });
} else {
  const endpoint = moto.endpoint;
  const s3 = new S3Client({ endpoint, forcePathStyle: true, ...creds });
  const kms = new KMSClient({ endpoint, ...creds });
  let dir: string;
  let base: Record<string, string>;
  let lockedArchive: string;

  async function bucket(lock: 'none' | 'enabled' | 'compliance'): Promise<string> {
    const name = `aegis-prod-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: name, ObjectLockEnabledForBucket: lock !== 'none' }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
    if (lock === 'compliance') {
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: name,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } } },
        }),
      );
    }
    return name;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-prod-start-'));
    const key = async () => (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.Arn!;
    lockedArchive = await bucket('compliance');
    base = {
      NODE_ENV: 'production',
      REQUIRE_KMS: 'true',
      DEV_ALLOW_EPHEMERAL: 'false',
      MANIFEST_SIGNING_KMS_KEY_ID: await key(),
      AUDIT_SIGNING_KMS_KEY_ID: await key(),
      AEGIS_TEST_ALLOW_P256_KMS_KEYS: 'true',
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ENDPOINT_URL_KMS: endpoint,
      AEGIS_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AEGIS_AUDIT_ARCHIVE_BUCKET: lockedArchive,
      HOST: '127.0.0.1',
    };
  });
  afterAll(async () => {
    s3.destroy();
    kms.destroy();
    await moto.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('production startup of the local server', () => {
    it('refuses an artifact bucket without Object Lock with one line and exit 2, even while a client holds a keep-alive connection', async () => {
      const port = await freePort();
      const server = serve({
        ...base,
        MODEL_REGISTRY_S3_BUCKET: await bucket('none'),
        AEGIS_DATA_DIR: join(dir, 'keepalive'),
        PORT: String(port),
      });
      try {
        // connect as soon as it listens (it listens before building: PGlite takes seconds), keep the connection
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        const deadline = Date.now() + 90_000;
        const get = () =>
          new Promise<number | undefined>((res) => {
            const req = request({ host: '127.0.0.1', port, path: '/healthz', agent }, (r) => {
              r.resume();
              r.on('end', () => res(r.statusCode));
            });
            req.on('error', () => setTimeout(() => res(undefined), 50));
            req.end();
          });
        let status: number | undefined;
        let gone = false;
        void server.exited.then(() => (gone = true));
        // until a request is answered on the kept connection, or the failed start has already
        // closed it (an in-flight request is then reset rather than answered)
        while (status === undefined && !gone && Date.now() < deadline) status = await get();
        if (status !== undefined) expect(status).toBeGreaterThanOrEqual(500); // the request waited for the build and failed with it
        // keep using that connection, as a busy client would, until the process is gone
        let stop = false;
        const busy = (async () => {
          while (!stop) {
            await get();
            await new Promise((r) => setTimeout(r, 200));
          }
        })();
        // a kept connection that held the process open would hold it for ever: 60 s tells that
        // from a slow shutdown on a loaded machine (no time is asserted beyond that)
        const exited = await Promise.race([server.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
        stop = true;
        await busy;
        expect(exited).not.toBe('hung');
        const { code, stderr } = exited as Exited;
        expect(code).toBe(2);
        const lines = stderr
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('aegis:'));
        expect(lines).toEqual([
          expect.stringMatching(
            /^aegis: refusing to start: startup check artifact-bucket-object-lock failed: bucket aegis-prod-\w+: Object Lock is not enabled on the bucket$/,
          ),
        ]);
        agent.destroy();
      } finally {
        server.kill();
      }
    }, 240_000);

    it('refuses a P-256 key without the test allowance (exit 2, the check named)', async () => {
      const env = { ...base, MODEL_REGISTRY_S3_BUCKET: await bucket('enabled'), AEGIS_DATA_DIR: join(dir, 'p256'), PORT: '0' };
      delete (env as Record<string, string | undefined>).AEGIS_TEST_ALLOW_P256_KMS_KEYS;
      const { code, stderr } = await serve(env).exited;
      expect(code).toBe(2);
      expect(stderr).toMatch(
        /^aegis: refusing to start: startup check (manifest|audit)-kms-key failed: KMS key arn:aws:kms:[^ ]+: key spec is ECC_NIST_P256, not ECC_NIST_EDWARDS25519/m,
      );
    }, 240_000);

    it('refuses the test allowance when the KMS endpoint is not loopback, before connecting anywhere', async () => {
      const { code, stderr } = await serve({
        ...base,
        MODEL_REGISTRY_S3_BUCKET: 'whatever',
        AWS_ENDPOINT_URL_KMS: 'https://kms.eu-west-1.amazonaws.com',
        AEGIS_DATA_DIR: join(dir, 'remote'),
        PORT: '0',
      }).exited;
      expect(code).toBe(2);
      expect(stderr.trim()).toMatch(/^aegis: refusing to start: AEGIS_TEST_ALLOW_P256_KMS_KEYS=true is for tests against a KMS emulator/);
    }, 120_000);
  });
}
