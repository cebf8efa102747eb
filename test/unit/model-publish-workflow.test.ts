/**
 * The GitOps workflow (`.github/workflows/model-publish.yml`) parses and does what the README
 * promises: publishes on pushes to model_registry/** (not on its own metadata.json commits)
 * through an OIDC role, commits the metadata.json files with a bot identity (or opens a pull
 * request), and reviews pull requests with verify-folder and a dry run.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

type Step = { uses?: string; run?: string; with?: Record<string, string | number>; env?: Record<string, string> };
type Job = { if?: string; permissions?: Record<string, string>; env?: Record<string, string>; steps: Step[] };
type Trigger = { branches?: string[]; paths?: string[] };
const workflow = parse(readFileSync('.github/workflows/model-publish.yml', 'utf8'), { uniqueKeys: true }) as {
  on: { push: Trigger; pull_request: Trigger };
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
};
const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

describe('.github/workflows/model-publish.yml', () => {
  it('runs on pushes to main and pull requests touching model_registry/**, never on metadata.json alone, read-only by default', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.on.push.branches).toEqual(['main']);
    for (const t of [workflow.on.push, workflow.on.pull_request])
      expect(t.paths).toEqual(['model_registry/**', '!model_registry/**/metadata.json']);
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it('publishes on push through an OIDC role (SigV4), one run at a time, with full history for createdAt', () => {
    const job = workflow.jobs.publish!;
    expect(job.if).toBe("github.event_name == 'push'");
    expect(job.permissions).toMatchObject({ 'id-token': 'write', contents: 'write' });
    const oidc = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    expect(oidc?.with).toMatchObject({ 'role-to-assume': expect.stringContaining('vars.') });
    expect(JSON.stringify(workflow)).not.toMatch(/aws-access-key-id|aws-secret-access-key/);
    expect(job.env?.AEGIS_URL).toContain('vars.');
    expect(job.steps.find((s) => s.uses?.startsWith('actions/checkout@'))?.with).toMatchObject({ 'fetch-depth': 0 });
    const text = runs(job);
    expect(text).toMatch(/^npx aegis publish model_registry$/m);
    expect(text.indexOf('aegis publish')).toBeLessThan(text.indexOf('git commit'));
  });

  it('commits only the metadata.json files, with a bot identity, or opens a pull request with them', () => {
    const text = runs(workflow.jobs.publish!);
    expect(text).toMatch(/git config user\.name '[^']*\[bot\]'/);
    expect(text).toMatch(/git add 'model_registry\/\*\*\/metadata\.json'/);
    expect(text).not.toMatch(/git add (-A|\.)/);
    expect(text).toMatch(/git push origin HEAD:main/);
    expect(text).toMatch(/gh pr create/);
    expect(workflow.jobs.publish!.env?.PUBLISH_MODE).toContain("'commit'");
  });

  it('reviews pull requests offline: verify-folder against the pinned key ring and a dry run, without AWS credentials', () => {
    const job = workflow.jobs.review!;
    expect(job.if).toBe("github.event_name == 'pull_request'");
    const text = runs(job);
    expect(text).toMatch(/npx aegis verify-folder model_registry --trusted-keys/);
    expect(text).toMatch(/npx aegis publish model_registry --dry-run/);
    expect(job.steps.some((s) => s.uses?.startsWith('aws-actions/'))).toBe(false);
    expect(job.permissions).toBeUndefined();
  });

  it('pins every action to a major version', () => {
    for (const [name, job] of Object.entries(workflow.jobs))
      for (const s of job.steps.filter((x) => x.uses))
        expect({ name, uses: s.uses }).toEqual({ name, uses: expect.stringMatching(/@v\d+$/) });
  });
});
