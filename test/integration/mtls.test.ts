import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AegisClient, ApiError } from '../../lib/clients/http/client.js';
import { registerArtifact, registerDatasets } from '../../lib/clients/http/registration.js';
import { ConfigError, loadCheckedConfig } from '../../lib/platform/config.js';
import { startLocal } from '../../lib/platform/composition/local-start.js';
import { startStack, type Stack } from '../support/local-stack.js';
import { sampleManifest } from '../support/manifests.js';

/** A throwaway PKI made with openssl: a CA, a server certificate for 127.0.0.1, a client certificate, and a rogue client. */
async function pki(dir: string) {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string) =>
    ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '1',
    );
  const leaf = async (name: string, issuer: string, ext: string) => {
    ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    await writeFile(join(dir, `${name}.ext`), ext);
    ossl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.crt`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('test-ca');
  ca('rogue-ca');
  await leaf('server', 'test-ca', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await leaf('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  await leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  return {
    ca: await read('test-ca.crt'),
    client: { cert: await read('client.crt'), key: await read('client.key') },
    rogue: { cert: await read('rogue.crt'), key: await read('rogue.key') },
  };
}

let dir: string;
let stack: Stack;
let certs: Awaited<ReturnType<typeof pki>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aegis-mtls-'));
  certs = await pki(dir);
  stack = await startStack({
    REQUIRE_MTLS: 'true',
    AEGIS_TLS_CERT: join(dir, 'server.crt'),
    AEGIS_TLS_KEY: join(dir, 'server.key'),
    AEGIS_TLS_CLIENT_CA: join(dir, 'test-ca.crt'),
  });
});
afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('REQUIRE_MTLS on the local server', () => {
  it('serves HTTPS to clients with a certificate from the configured CA, uploads included', async () => {
    expect(stack.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const api = new AegisClient({ baseUrl: stack.url, token: stack.adminToken, tls: { ...certs.client, ca: certs.ca } });
    expect(await api.request('GET', '/healthz')).toMatchObject({ ok: true });
    const bytes = randomBytes(2048);
    const file = join(dir, 'model.bin');
    await writeFile(file, bytes);
    const manifest = sampleManifest('mtls-model', createHash('sha256').update(bytes).digest('hex'), bytes.length);
    await registerDatasets(
      api,
      manifest.datasetRefs.map((r) => ({ ...r, uri: 'file:///data' })),
    );
    const reg = await registerArtifact(api, { modelName: 'mtls-model', artifactPath: file, manifest });
    expect(reg).toMatchObject({ modelName: 'mtls-model', version: 1, replayed: false });
  });

  it('refuses clients without a certificate, or with one from another CA, in the TLS handshake', async () => {
    // both trust the server's CA: only the client certificate differs
    for (const tls of [{ ca: certs.ca }, { ...certs.rogue, ca: certs.ca }]) {
      const api = new AegisClient({ baseUrl: stack.url, token: stack.adminToken, tls });
      const err = await api.request('GET', '/healthz').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('UNREACHABLE');
    }
  });

  it('refuses to start with REQUIRE_MTLS=true and no TLS files, naming them', async () => {
    const data = await mkdtemp(join(tmpdir(), 'aegis-mtls-refuse-'));
    const config = loadCheckedConfig({ DEV_ALLOW_EPHEMERAL: 'true', AEGIS_DATA_DIR: data, PORT: '0', REQUIRE_MTLS: 'true' });
    await expect(startLocal(config)).rejects.toThrow(ConfigError);
    await expect(startLocal(config)).rejects.toThrow(/REQUIRE_MTLS=true but AEGIS_TLS_CERT, AEGIS_TLS_KEY and AEGIS_TLS_CLIENT_CA/);
    await rm(data, { recursive: true, force: true });
  });
});
