import { join } from 'node:path';
import { loadConfig, loadCheckedConfig, startupRefusal, ConfigError, kmsProviderOptions } from '../../lib/platform/config.js';
import { keyRefusal, objectLockRefusal } from '../../lib/platform/startup-checks.js';

describe('config', () => {
  it('defaults to local mode: PGlite and a filesystem store in the data folder, file keys', () => {
    const c = loadConfig({ AEGIS_DATA_DIR: '/tmp/x' });
    // a first start copies the build's migrated template (the package's dist/pglite-template)
    expect(c.database).toEqual({ kind: 'pglite', dataDir: '/tmp/x/pg', template: join(process.cwd(), 'dist/pglite-template') });
    expect(c.objectStore).toEqual({ kind: 'fs', root: '/tmp/x/objects' });
    expect(c.signing.backend).toBe('file');
    expect(c.signing.manifestSignerKid).toBe('manifest-signer-v1');
    expect(c.port).toBe(8080);
  });

  it('takes the PGlite template from AEGIS_PGLITE_TEMPLATE, and none with off', () => {
    expect(loadConfig({ AEGIS_DATA_DIR: '/tmp/x', AEGIS_PGLITE_TEMPLATE: '/opt/t' }).database).toMatchObject({ template: '/opt/t' });
    expect(loadConfig({ AEGIS_DATA_DIR: '/tmp/x', AEGIS_PGLITE_TEMPLATE: 'off' }).database).toEqual({
      kind: 'pglite',
      dataDir: '/tmp/x/pg',
    });
  });

  it('refuses NODE_ENV=production with DEV_ALLOW_EPHEMERAL=true', () => {
    expect(() => loadCheckedConfig({ NODE_ENV: 'production', DEV_ALLOW_EPHEMERAL: 'true' })).toThrow(
      /NODE_ENV=production with DEV_ALLOW_EPHEMERAL=true/,
    );
  });

  it('refuses REQUIRE_KMS=true without KMS key ids', () => {
    expect(() => loadCheckedConfig({ REQUIRE_KMS: 'true', DEV_ALLOW_EPHEMERAL: 'true' })).toThrow(/REQUIRE_KMS=true/);
  });

  it('refuses local key files without DEV_ALLOW_EPHEMERAL=true', () => {
    expect(() => loadCheckedConfig({})).toThrow(/DEV_ALLOW_EPHEMERAL=true/);
  });

  it('accepts KMS key ids in production', () => {
    const c = loadCheckedConfig({
      NODE_ENV: 'production',
      REQUIRE_KMS: 'true',
      MANIFEST_SIGNING_KMS_KEY_ID: 'k1',
      AUDIT_SIGNING_KMS_KEY_ID: 'k2',
      MODEL_REGISTRY_S3_BUCKET: 'a',
      AEGIS_AUDIT_ARCHIVE_BUCKET: 'b',
    });
    expect(c.signing.backend).toBe('kms');
    expect(startupRefusal(c)).toBeUndefined();
  });

  it('parses database URLs by scheme and rejects unknown schemes naming the variable', () => {
    expect(loadConfig({ MODEL_REGISTRY_DATABASE_URL: 'postgres://u@h/db' }).database.kind).toBe('pg');
    expect(loadConfig({ MODEL_REGISTRY_DATABASE_URL: 'rdsdata://aegis?resourceArn=arn:a&secretArn=arn:b' }).database).toEqual({
      kind: 'data-api',
      database: 'aegis',
      resourceArn: 'arn:a',
      secretArn: 'arn:b',
    });
    expect(() => loadConfig({ MODEL_REGISTRY_DATABASE_URL: 'mysql://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ MODEL_REGISTRY_DATABASE_URL: 'mysql://x' })).toThrow(/MODEL_REGISTRY_DATABASE_URL/);
  });

  it('reads the OTLP endpoint from OTEL_EXPORTER_OTLP_ENDPOINT, else OTEL_COLLECTOR_URL, refusing a non-URL by name', () => {
    expect(loadConfig({}).otlpEndpoint).toBeUndefined();
    expect(loadConfig({ OTEL_COLLECTOR_URL: 'http://seed:4318' }).otlpEndpoint).toBe('http://seed:4318');
    expect(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example:4318', OTEL_COLLECTOR_URL: 'http://seed:4318' }).otlpEndpoint,
    ).toBe('https://otel.example:4318');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      'OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL',
    );
    expect(() => loadConfig({ OTEL_COLLECTOR_URL: 'ftp://x' })).toThrow('OTEL_COLLECTOR_URL must be');
  });

  it('names the variable at fault', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/^PORT /);
    expect(() => loadConfig({ AEGIS_IAM_ROLE_MAP: '{"arn:x":"king"}' })).toThrow(/AEGIS_IAM_ROLE_MAP/);
  });

  it('reads the token limits, AEGIS_TOKEN_MAX_TTL (365d) and AEGIS_TOKEN_CACHE_SECONDS (5), naming the variable when wrong', () => {
    expect(loadConfig({}).tokens).toEqual({ maxTtlSeconds: 365 * 86_400, cacheSeconds: 5 });
    expect(loadConfig({ AEGIS_TOKEN_MAX_TTL: '30d', AEGIS_TOKEN_CACHE_SECONDS: '0' }).tokens).toEqual({
      maxTtlSeconds: 30 * 86_400,
      cacheSeconds: 0,
    });
    expect(loadConfig({ AEGIS_TOKEN_MAX_TTL: '720h' }).tokens.maxTtlSeconds).toBe(720 * 3600);
    for (const bad of ['forever', '30', '0d', '1y', '-5d'])
      expect(() => loadConfig({ AEGIS_TOKEN_MAX_TTL: bad })).toThrow(/^AEGIS_TOKEN_MAX_TTL must be a duration like 365d/);
    expect(() => loadConfig({ AEGIS_TOKEN_CACHE_SECONDS: '61' })).toThrow(/^AEGIS_TOKEN_CACHE_SECONDS /);
  });

  it('reads AEGIS_SERVING_CACHE_MB (512 by default, 0 = off, up to 10240), naming the variable when wrong', () => {
    expect(loadConfig({}).serving.cacheMb).toBe(512);
    expect(loadConfig({ AEGIS_SERVING_CACHE_MB: '0' }).serving.cacheMb).toBe(0);
    expect(loadConfig({ AEGIS_SERVING_CACHE_MB: '10240' }).serving.cacheMb).toBe(10240);
    for (const bad of ['-1', '10241', '1.5', 'lots'])
      expect(() => loadConfig({ AEGIS_SERVING_CACHE_MB: bad })).toThrow(/^AEGIS_SERVING_CACHE_MB /);
  });

  it('reads AEGIS_SERVING_SEGMENT_SECONDS (10 by default, 1–600), refusing a drift settle time shorter than it', () => {
    expect(loadConfig({}).serving.segmentSeconds).toBe(10);
    expect(loadConfig({ AEGIS_SERVING_SEGMENT_SECONDS: '1' }).serving.segmentSeconds).toBe(1);
    expect(loadConfig({ AEGIS_SERVING_SEGMENT_SECONDS: '600', AEGIS_DRIFT_SETTLE_SECONDS: '600' }).serving.segmentSeconds).toBe(600);
    for (const bad of ['0', '601', '1.5', 'often'])
      expect(() => loadConfig({ AEGIS_SERVING_SEGMENT_SECONDS: bad })).toThrow(/^AEGIS_SERVING_SEGMENT_SECONDS /);
    // the default settle time (120 s) is shorter than a 300 s interval: a window would be judged before its segments exist
    expect(() => loadConfig({ AEGIS_SERVING_SEGMENT_SECONDS: '300' })).toThrow(
      /^AEGIS_DRIFT_SETTLE_SECONDS \(120\) must be at least AEGIS_SERVING_SEGMENT_SECONDS \(300\)/,
    );
    expect(loadConfig({ AEGIS_SERVING_SEGMENT_SECONDS: '300', AEGIS_DRIFT_SETTLE_SECONDS: '300' }).drift.settleSeconds).toBe(300);
    // a short interval allows a short settle time (a drill's minute windows)
    expect(loadConfig({ AEGIS_SERVING_SEGMENT_SECONDS: '1', AEGIS_DRIFT_SETTLE_SECONDS: '2' }).drift.settleSeconds).toBe(2);
    expect(() => loadConfig({ AEGIS_DRIFT_SETTLE_SECONDS: '0' })).toThrow(/^AEGIS_DRIFT_SETTLE_SECONDS /);
  });

  it('reads AEGIS_DOWNLOAD_URL_TTL_SECONDS (300 by default, 30–3600), naming the variable when wrong', () => {
    expect(loadConfig({}).downloadUrlTtlSeconds).toBe(300);
    expect(loadConfig({ AEGIS_DOWNLOAD_URL_TTL_SECONDS: '30' }).downloadUrlTtlSeconds).toBe(30);
    expect(loadConfig({ AEGIS_DOWNLOAD_URL_TTL_SECONDS: '3600' }).downloadUrlTtlSeconds).toBe(3600);
    for (const bad of ['29', '3601', '1.5', 'five minutes', '-300'])
      expect(() => loadConfig({ AEGIS_DOWNLOAD_URL_TTL_SECONDS: bad })).toThrow(/^AEGIS_DOWNLOAD_URL_TTL_SECONDS /);
  });

  describe('the IAM role map: a role name (global) or { role, prefixes?, teams? }', () => {
    const roleMap = (map: unknown) => loadConfig({ AEGIS_IAM_ROLE_MAP: JSON.stringify(map) }).iamRoleMap;

    it('reads a role name as a global grant and an object as a scoped one', () => {
      expect(roleMap({ 'arn:a': 'publisher', 'arn:b': { role: 'promoter', prefixes: ['fraud-'], teams: ['fraud'] } })).toEqual({
        'arn:a': { role: 'publisher', scope: 'global' },
        'arn:b': { role: 'promoter', scope: { prefixes: ['fraud-'], teams: ['fraud'] } },
      });
      expect(roleMap({ 'arn:c': { role: 'auditor', teams: ['risk'] } })['arn:c']).toEqual({
        role: 'auditor',
        scope: { prefixes: [], teams: ['risk'] },
      });
    });

    it.each([
      [
        { 'arn:x': 'king' },
        'AEGIS_IAM_ROLE_MAP["arn:x"]: king is not a role; roles are reader, publisher, promoter, approver, operator, auditor, security, admin, invoker',
      ],
      [
        { 'arn:x': { role: 'king', teams: ['a'] } },
        'AEGIS_IAM_ROLE_MAP["arn:x"]: role: must be one of reader, publisher, promoter, approver, operator, auditor, security, admin, invoker',
      ],
      [
        { 'arn:x': { role: 'publisher' } },
        'AEGIS_IAM_ROLE_MAP["arn:x"]: a scoped entry names at least one prefix or team (a role name alone is global)',
      ],
      [
        { 'arn:x': { role: 'publisher', prefixes: ['Fraud/'] } },
        'AEGIS_IAM_ROLE_MAP["arn:x"]: prefixes.0: must be the start of a model name',
      ],
      [{ 'arn:x': { role: 'publisher', team: 'a' } }, 'AEGIS_IAM_ROLE_MAP["arn:x"]: unknown field team'],
      [{ 'arn:x': 3 }, 'AEGIS_IAM_ROLE_MAP["arn:x"]: must be a role name or an object { role, prefixes?, teams? }'],
      [['publisher'], 'AEGIS_IAM_ROLE_MAP must be a JSON object of principal ARN → role or { role, prefixes?, teams? }'],
    ])('refuses %j with an exact message', (map, message) => {
      expect(() => roleMap(map)).toThrow(message);
    });
  });

  describe('events out', () => {
    const prod = {
      NODE_ENV: 'production',
      MANIFEST_SIGNING_KMS_KEY_ID: 'k1',
      AUDIT_SIGNING_KMS_KEY_ID: 'k2',
      MODEL_REGISTRY_S3_BUCKET: 'a',
      AEGIS_AUDIT_ARCHIVE_BUCKET: 'b',
    };
    it('allows webhooks to loopback over http outside production only, unless configured', () => {
      expect(loadConfig({}).events).toMatchObject({ allowHttp: true, allowedCidrs: ['127.0.0.0/8', '::1/128'] });
      expect(loadCheckedConfig(prod).events).toMatchObject({ allowHttp: false, allowedCidrs: [] });
      // set empty: the same defaults (as the README's table says)
      expect(loadConfig({ AEGIS_WEBHOOK_ALLOWED_CIDRS: '' }).events.allowedCidrs).toEqual(['127.0.0.0/8', '::1/128']);
      expect(loadCheckedConfig({ ...prod, AEGIS_WEBHOOK_ALLOWED_CIDRS: ' ' }).events.allowedCidrs).toEqual([]);
      expect(loadCheckedConfig({ ...prod, AEGIS_WEBHOOK_ALLOWED_CIDRS: '10.20.0.0/16, fd00::/8' }).events.allowedCidrs).toEqual([
        '10.20.0.0/16',
        'fd00::/8',
      ]);
    });
    it('refuses http webhooks in production, and a malformed CIDR, naming the variable', () => {
      expect(() => loadCheckedConfig({ ...prod, AEGIS_WEBHOOK_ALLOW_HTTP: 'true' })).toThrow(
        /AEGIS_WEBHOOK_ALLOW_HTTP=true is refused with NODE_ENV=production/,
      );
      for (const bad of ['10.0.0.0', '10.0.0.0/33', 'example.com/8', '::1/129', '10.0.0.0/8/1'])
        expect(() => loadConfig({ AEGIS_WEBHOOK_ALLOWED_CIDRS: bad })).toThrow(/AEGIS_WEBHOOK_ALLOWED_CIDRS must be comma-separated CIDRs/);
    });
  });

  describe('the test-only P-256 allowance and production stores', () => {
    const prod = {
      NODE_ENV: 'production',
      REQUIRE_KMS: 'true',
      MANIFEST_SIGNING_KMS_KEY_ID: 'k1',
      AUDIT_SIGNING_KMS_KEY_ID: 'k2',
      MODEL_REGISTRY_S3_BUCKET: 'a',
      AEGIS_AUDIT_ARCHIVE_BUCKET: 'b',
    };

    it('is honoured only with a loopback KMS endpoint', () => {
      for (const endpoint of ['http://127.0.0.1:5000', 'http://localhost:4566', 'http://[::1]:5000', 'https://127.1.2.3']) {
        const c = loadCheckedConfig({ ...prod, AEGIS_TEST_ALLOW_P256_KMS_KEYS: 'true', AWS_ENDPOINT_URL_KMS: endpoint });
        expect(c.kms).toEqual({ endpoint, allowP256: true });
        expect(kmsProviderOptions(c)).toEqual({ ed25519Only: false, endpoint });
      }
      // AWS_ENDPOINT_URL counts when no KMS-specific endpoint is set
      expect(
        loadCheckedConfig({ ...prod, AEGIS_TEST_ALLOW_P256_KMS_KEYS: 'true', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' }).kms.allowP256,
      ).toBe(true);
    });

    it('is refused against AWS KMS or any other host, and when the SDK would ignore the configured endpoint', () => {
      for (const env of [
        {},
        { AWS_ENDPOINT_URL_KMS: 'https://kms.eu-west-1.amazonaws.com' },
        { AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1.example.com:5000' },
        { AWS_ENDPOINT_URL_KMS: 'http://10.0.0.5:5000' },
        { AWS_ENDPOINT_URL_KMS: 'https://kms.eu-west-1.amazonaws.com', AWS_ENDPOINT_URL: 'http://127.0.0.1:1' },
        { AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:5000', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
      ]) {
        expect(() => loadCheckedConfig({ ...prod, AEGIS_TEST_ALLOW_P256_KMS_KEYS: 'true', ...env })).toThrow(
          /^AEGIS_TEST_ALLOW_P256_KMS_KEYS=true is for tests against a KMS emulator/,
        );
      }
    });

    it('makes production adopt Ed25519 keys only without the allowance', () => {
      expect(kmsProviderOptions(loadCheckedConfig(prod))).toEqual({ ed25519Only: true });
      expect(kmsProviderOptions(loadCheckedConfig({ ...prod, NODE_ENV: 'test' }))).toEqual({ ed25519Only: false });
    });

    it('refuses the test-only kill fault point in production, and accepts it in tests with its count', () => {
      expect(() => loadCheckedConfig({ ...prod, AEGIS_TEST_KILL_AT: 'rollout.evaluate.before-commit' })).toThrow(
        /AEGIS_TEST_KILL_AT is a test-only fault point .* refused with NODE_ENV=production/,
      );
      expect(
        loadCheckedConfig({ NODE_ENV: 'test', DEV_ALLOW_EPHEMERAL: 'true', AEGIS_TEST_KILL_AT: 'rollout.evaluate.before-commit#2' })
          .testKillAt,
      ).toEqual({ point: 'rollout.evaluate.before-commit', nth: 2 });
      expect(() => loadCheckedConfig({ NODE_ENV: 'test', DEV_ALLOW_EPHEMERAL: 'true', AEGIS_TEST_KILL_AT: 'rollout; rm -rf' })).toThrow(
        /AEGIS_TEST_KILL_AT must be <fault point>\[#n\]/,
      );
      expect(loadCheckedConfig({ ...prod }).testKillAt).toBeUndefined();
    });

    it('reads the rollout lease seconds (default 60) and names the variable when out of range', () => {
      expect(loadCheckedConfig({ ...prod }).rolloutLeaseSeconds).toBe(60);
      expect(loadCheckedConfig({ ...prod, AEGIS_ROLLOUT_LEASE_SECONDS: '5' }).rolloutLeaseSeconds).toBe(5);
      expect(() => loadCheckedConfig({ ...prod, AEGIS_ROLLOUT_LEASE_SECONDS: '0' })).toThrow(/AEGIS_ROLLOUT_LEASE_SECONDS/);
    });

    it("refuses filesystem stores in production (their retention is only this process's word)", () => {
      expect(() => loadCheckedConfig({ ...prod, MODEL_REGISTRY_S3_BUCKET: '' })).toThrow(
        /NODE_ENV=production needs MODEL_REGISTRY_S3_BUCKET and AEGIS_AUDIT_ARCHIVE_BUCKET/,
      );
      expect(() => loadCheckedConfig({ ...prod, AEGIS_AUDIT_ARCHIVE_BUCKET: '' })).toThrow(/NODE_ENV=production needs/);
    });
  });

  describe('production startup check rules', () => {
    it('needs Object Lock on both buckets, COMPLIANCE default retention on the archive, and no GOVERNANCE default anywhere', () => {
      expect(objectLockRefusal('artifacts', { enabled: true })).toBeUndefined();
      expect(objectLockRefusal('artifacts', { enabled: true, defaultRetention: { mode: 'COMPLIANCE', days: 1 } })).toBeUndefined();
      expect(objectLockRefusal('artifacts', { enabled: false })).toBe('Object Lock is not enabled on the bucket');
      expect(objectLockRefusal('artifacts', { enabled: true, defaultRetention: { mode: 'GOVERNANCE', years: 1 } })).toMatch(
        /GOVERNANCE, not COMPLIANCE/,
      );
      expect(objectLockRefusal('audit-archive', { enabled: true, defaultRetention: { mode: 'COMPLIANCE', years: 7 } })).toBeUndefined();
      expect(objectLockRefusal('audit-archive', { enabled: true })).toMatch(/no default retention/);
      expect(objectLockRefusal('audit-archive', { enabled: false })).toMatch(/not enabled/);
    });

    it('needs enabled SIGN_VERIFY Ed25519 keys; P-256 only under the allowance', () => {
      const ed = { keySpec: 'ECC_NIST_EDWARDS25519', keyUsage: 'SIGN_VERIFY', keyState: 'Enabled' };
      expect(keyRefusal(ed, false)).toBeUndefined();
      expect(keyRefusal({ ...ed, keySpec: 'ECC_NIST_P256' }, false)).toMatch(
        /key spec is ECC_NIST_P256, not ECC_NIST_EDWARDS25519 \(P-256 is accepted only with AEGIS_TEST_ALLOW_P256_KMS_KEYS=true/,
      );
      expect(keyRefusal({ ...ed, keySpec: 'ECC_NIST_P256' }, true)).toBeUndefined();
      expect(keyRefusal({ ...ed, keySpec: 'RSA_2048' }, true)).toMatch(/RSA_2048/);
      expect(keyRefusal({ ...ed, keyUsage: 'ENCRYPT_DECRYPT' }, false)).toMatch(/not SIGN_VERIFY/);
      expect(keyRefusal({ ...ed, keyState: 'PendingDeletion' }, false)).toMatch(/PendingDeletion/);
    });
  });
});
