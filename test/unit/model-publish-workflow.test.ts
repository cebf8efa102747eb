/**
 * The GitOps workflow (`.github/workflows/model-publish.yml`) parses and does what the README
 * promises: publishes on pushes to model_registry/** (not on its own metadata.json commits)
 * through an OIDC role, commits the metadata.json files with a bot identity (or opens a pull
 * request), and reviews pull requests with verify-folder and a dry run.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

type Step = {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | number>;
  env?: Record<string, string>;
};
type Job = { if?: string; permissions?: Record<string, string>; env?: Record<string, string>; steps: Step[] };
type Trigger = { branches?: string[]; paths?: string[] };
const workflow = parse(readFileSync('.github/workflows/model-publish.yml', 'utf8'), { uniqueKeys: true }) as {
  env: Record<string, string>;
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

  it('reviews pull requests offline: verify-folder against the pinned key ring and a dry run, credentials only to fetch an unpinned ring', () => {
    const job = workflow.jobs.review!;
    expect(job.if).toBe("github.event_name == 'pull_request'");
    expect(workflow.env.AEGIS_TRUSTED_KEYS).toContain("'.aegis/trusted-keys.json'");
    const text = runs(job);
    expect(text).toMatch(/npx aegis publish model_registry --dry-run/);
    const pinned = job.steps.filter((s) => s.if === "steps.ring.outputs.pinned == 'true'");
    const unpinned = job.steps.filter((s) => s.if === "steps.ring.outputs.pinned == 'false'");
    expect(pinned.map((s) => s.run)).toEqual(['npx aegis verify-folder model_registry --trusted-keys "$AEGIS_TRUSTED_KEYS"']);
    // the only AWS step: a reader role, and only when no ring is pinned
    const aws = job.steps.filter((s) => s.uses?.startsWith('aws-actions/'));
    expect(aws).toHaveLength(1);
    expect(unpinned).toContain(aws[0]);
    expect(aws[0]!.with).toMatchObject({ 'role-to-assume': '${{ vars.AEGIS_READER_ROLE_ARN }}' });
    expect(unpinned.map((s) => s.run).filter(Boolean)).toEqual(['npx aegis verify-folder model_registry']);
    const verifies = job.steps.filter((s) => s.run?.includes('aegis verify-folder'));
    expect(verifies.every((s) => s.if !== undefined)).toBe(true);
    expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
  });

  describe('the review\'s "Is the key ring pinned?" step, run as the runner runs it (bash -e)', () => {
    const step = workflow.jobs.review!.steps.find((s) => s.id === 'ring')!;
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'aegis-ring-step-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const runStep = (env: Record<string, string>) => {
      const output = join(dir, `output-${Math.random().toString(36).slice(2)}`);
      writeFileSync(output, '');
      const r = spawnSync('bash', ['-e', '-c', step.run!], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH!, AEGIS_TRUSTED_KEYS: '.aegis/trusted-keys.json', GITHUB_OUTPUT: output, ...env },
      });
      return { code: r.status, stdout: r.stdout, output: readFileSync(output, 'utf8') };
    };

    it('passes the reader role and API URL in from repository variables', () => {
      expect(step.env).toEqual({ READER_ROLE: '${{ vars.AEGIS_READER_ROLE_ARN }}' });
      expect(workflow.jobs.review!.env).toEqual({ AEGIS_URL: '${{ vars.AEGIS_URL }}' });
    });

    it('says pinned when .aegis/trusted-keys.json is committed', () => {
      spawnSync('mkdir', ['-p', join(dir, '.aegis')]);
      writeFileSync(join(dir, '.aegis/trusted-keys.json'), '{"keys":[]}');
      const r = runStep({});
      rmSync(join(dir, '.aegis'), { recursive: true });
      expect(r).toMatchObject({ code: 0, output: 'pinned=true\n' });
    });

    it('without the file, warns how to pin it and falls back to the API when a reader role is configured', () => {
      const r = runStep({ READER_ROLE: 'arn:aws:iam::123456789012:role/aegis-ci-reader', AEGIS_URL: 'https://api.example' });
      expect(r).toMatchObject({ code: 0, output: 'pinned=false\n' });
      expect(r.stdout).toMatch(/^::warning title=Key ring not pinned::.*npx aegis keys export --out \.aegis\/trusted-keys\.json/m);
    });

    it('without the file and without a reader role, fails saying how to fix it', () => {
      const r = runStep({ AEGIS_URL: 'https://api.example' });
      expect(r.code).toBe(1);
      expect(r.output).toBe('');
      expect(r.stdout).toMatch(/^::error title=No key ring::.*vars\.AEGIS_READER_ROLE_ARN.*npx aegis keys export --out/m);
    });
  });

  it('pins every action to a major version', () => {
    for (const [name, job] of Object.entries(workflow.jobs))
      for (const s of job.steps.filter((x) => x.uses))
        expect({ name, uses: s.uses }).toEqual({ name, uses: expect.stringMatching(/@v\d+$/) });
  });
});
