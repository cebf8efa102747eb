import { loadConfig, loadCheckedConfig, startupRefusal, ConfigError } from '../../lib/config.js';

describe('config', () => {
  it('defaults to local mode: PGlite and a filesystem store in the data folder, file keys', () => {
    const c = loadConfig({ AEGIS_DATA_DIR: '/tmp/x' });
    expect(c.database).toEqual({ kind: 'pglite', dataDir: '/tmp/x/pg' });
    expect(c.objectStore).toEqual({ kind: 'fs', root: '/tmp/x/objects' });
    expect(c.signing.backend).toBe('file');
    expect(c.signing.manifestSignerKid).toBe('manifest-signer-v1');
    expect(c.port).toBe(8080);
  });

  it('refuses NODE_ENV=production with DEV_ALLOW_EPHEMERAL=true', () => {
    expect(() => loadCheckedConfig({ NODE_ENV: 'production', DEV_ALLOW_EPHEMERAL: 'true' })).toThrow(/NODE_ENV=production with DEV_ALLOW_EPHEMERAL=true/);
  });

  it('refuses REQUIRE_KMS=true without KMS key ids', () => {
    expect(() => loadCheckedConfig({ REQUIRE_KMS: 'true', DEV_ALLOW_EPHEMERAL: 'true' })).toThrow(/REQUIRE_KMS=true/);
  });

  it('refuses local key files without DEV_ALLOW_EPHEMERAL=true', () => {
    expect(() => loadCheckedConfig({})).toThrow(/DEV_ALLOW_EPHEMERAL=true/);
  });

  it('accepts KMS key ids in production', () => {
    const c = loadCheckedConfig({ NODE_ENV: 'production', REQUIRE_KMS: 'true', MANIFEST_SIGNING_KMS_KEY_ID: 'k1', AUDIT_SIGNING_KMS_KEY_ID: 'k2' });
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

  it('names the variable at fault', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/^PORT /);
    expect(() => loadConfig({ AEGIS_IAM_ROLE_MAP: '{"arn:x":"king"}' })).toThrow(/AEGIS_IAM_ROLE_MAP/);
  });
});
