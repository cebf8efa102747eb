import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTES } from '../../lib/http/routes.js';
import { REPO_ROOT } from '../../lib/infra/aegis-stack.js';
import { CDK_JSON_CONTEXT, REPLICA } from './support.js';

/**
 * Runs bin/cdk.ts the way the cdk CLI does (context in CDK_CONTEXT_JSON, assembly to
 * CDK_OUTDIR), minus bundling and the built-in template validation. Needs the real
 * handler files, which NodejsFunction checks exist.
 */
function runApp(context: Record<string, unknown>, outdir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, CDK_OUTDIR: outdir, CDK_VALIDATION: 'false', CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }) };
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not for the child
  return spawnSync(process.execPath, ['--import', 'tsx', 'bin/cdk.ts'], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 120_000 });
}

describe('bin/cdk.ts', () => {
  const outdirs: string[] = [];
  const newOutdir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'aegis-app-'));
    outdirs.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
  });

  it('synthesizes one stack named after -c env, with the role map from context and cdk-nag passing', () => {
    const outdir = newOutdir();
    const roleMap = { 'arn:aws:iam::123456789012:role/ci': 'publisher' };
    const run = runApp({ env: 'staging', roleMap: JSON.stringify(roleMap) }, outdir);
    expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({ status: 0, stderr: expect.not.stringMatching(/Error/) });
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    const stacks = Object.entries(manifest.artifacts as Record<string, { type: string; environment?: string }>).filter(([, a]) => a.type === 'aws:cloudformation:stack');
    expect(stacks.map(([name, a]) => [name, a.environment])).toEqual([['aegis-staging', 'aws://unknown-account/unknown-region']]);
    const template = JSON.parse(readFileSync(join(outdir, 'aegis-staging.template.json'), 'utf8'));
    const roleMaps = Object.values(template.Resources as Record<string, any>)
      .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.AEGIS_IAM_ROLE_MAP)
      .map((r) => r.Properties.Environment.Variables.AEGIS_IAM_ROLE_MAP);
    expect(roleMaps.length).toBeGreaterThan(0);
    expect(new Set(roleMaps)).toEqual(new Set([JSON.stringify(roleMap)]));
    // no sentinelnetUrl context: every function decides with the bundled policies
    const sentinelnet = Object.values(template.Resources as Record<string, any>).filter((r) => r.Properties?.Environment?.Variables?.SENTINELNET_URL !== undefined);
    expect(sentinelnet).toEqual([]);
    // no replica* context: no replication, and the template says so
    const buckets = Object.values(template.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::S3::Bucket');
    expect(buckets.filter((b) => b.Properties.ReplicationConfiguration)).toEqual([]);
    expect(template.Outputs.CrossRegionReplication.Value).toBe('off');
    expect(template.Description).toBe('Aegis model registry (staging; no cross-region bucket replication)');
  });

  it('turns on cross-region replication of both data buckets from the replica* context', () => {
    const outdir = newOutdir();
    const run = runApp(
      { replicaRegion: REPLICA.region, replicaArtifactBucketArn: REPLICA.artifactBucketArn, replicaAuditBucketArn: REPLICA.auditArchiveBucketArn, replicaKmsKeyArn: REPLICA.kmsKeyArn },
      outdir,
    );
    expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({ status: 0, stderr: expect.not.stringMatching(/Error/) });
    const template = JSON.parse(readFileSync(join(outdir, 'aegis-dev.template.json'), 'utf8'));
    const destinations = (id: string) => template.Resources[id].Properties.ReplicationConfiguration.Rules.map((r: any) => r.Destination);
    expect(destinations('ArtifactBucket')).toEqual([{ Bucket: REPLICA.artifactBucketArn, EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.kmsKeyArn } }]);
    expect(destinations('AuditArchiveBucket')).toEqual([{ Bucket: REPLICA.auditArchiveBucketArn, EncryptionConfiguration: { ReplicaKmsKeyID: REPLICA.kmsKeyArn } }]);
    expect(template.Description).toBe(`Aegis model registry (dev; buckets replicated to ${REPLICA.region})`);
  });

  it('sets SENTINELNET_URL on the policy-deciding functions from -c sentinelnetUrl, and on none without it', () => {
    const url = 'https://sentinelnet.internal.example';
    const withUrl = (context: Record<string, unknown>) => {
      const outdir = newOutdir();
      const run = runApp(context, outdir);
      expect({ status: run.status, stderr: run.stderr.replace(/^npm warn .*\n/gm, '') }).toEqual({ status: 0, stderr: expect.not.stringMatching(/Error/) });
      const template = JSON.parse(readFileSync(join(outdir, 'aegis-dev.template.json'), 'utf8'));
      return Object.values(template.Resources as Record<string, any>)
        .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.SENTINELNET_URL === url)
        .map((r) => String(r.Properties.Description).split(':')[0])
        .sort();
    };
    expect(withUrl({ sentinelnetUrl: url })).toEqual(
      [ROUTES.promote, ROUTES.promoteVersion, ROUTES.rollback].map((r) => `${r.method} ${r.path}`).sort(),
    );
  });

  it('refuses replica* context that names only some of the four keys', () => {
    const run = runApp({ replicaRegion: REPLICA.region, replicaArtifactBucketArn: REPLICA.artifactBucketArn }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('cross-region replication needs context replicaAuditBucketArn, replicaKmsKeyArn as well');
  });

  it('refuses a role map in context that is not JSON', () => {
    const run = runApp({ roleMap: '{not json' }, newOutdir());
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('context roleMap is not JSON');
  });
});
