/**
 * The example CI workflow (`.github/workflows/aegis.yml`) parses and does what the README
 * promises: tests on every push, deploys only from the protected branch through an OIDC role
 * with REQUIRE_KMS=true after a synth, the deploy guard and a diff, then trains, registers and reproduces a
 * model against the deployed API.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

type Step = { uses?: string; run?: string; with?: Record<string, string>; env?: Record<string, string> };
type Job = { needs?: string | string[]; if?: string; permissions?: Record<string, string>; env?: Record<string, string>; steps: Step[] };
const workflow = parse(readFileSync('.github/workflows/aegis.yml', 'utf8'), { uniqueKeys: true }) as {
  on: Record<string, unknown>;
  permissions: Record<string, string>;
  jobs: Record<string, Job>;
};
const runs = (job: Job) => job.steps.map((s) => s.run ?? '').join('\n');

describe('.github/workflows/aegis.yml', () => {
  it('tests every push and pull request with the two commands of the README, read-only by default', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(runs(workflow.jobs.test!)).toMatch(/^npm ci$/m);
    expect(runs(workflow.jobs.test!)).toMatch(/^npm test$/m);
  });

  it('deploys only from main, after the tests, through an OIDC role, with REQUIRE_KMS=true, after a synth and a diff', () => {
    const deploy = workflow.jobs.deploy!;
    expect(deploy.needs).toBe('test');
    expect(deploy.if).toContain("github.ref == 'refs/heads/main'");
    expect(deploy.permissions).toMatchObject({ 'id-token': 'write' });
    expect(deploy.env).toMatchObject({ REQUIRE_KMS: 'true' });
    const oidc = deploy.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    expect(oidc?.with).toMatchObject({ 'role-to-assume': expect.stringContaining('vars.') });
    expect(JSON.stringify(workflow)).not.toMatch(/aws-access-key-id|aws-secret-access-key/);
    const commands = deploy.steps.map((s) => s.run ?? '').filter((r) => r.includes('cdk '));
    expect(commands.map((c) => c.split(' ')[2])).toEqual(['synth', 'diff', 'deploy']);
  });

  it('runs the deploy guard on the synthesized assembly, then diffs and deploys that same assembly', () => {
    const steps = workflow.jobs.deploy!.steps.map((s) => s.run ?? '');
    const at = (re: RegExp) => steps.findIndex((r) => re.test(r));
    const synth = at(/^npx cdk synth -c env=\$AEGIS_ENV\b/);
    const guard = at(/^npx aegis deploy-guard --env \$AEGIS_ENV$/);
    const diff = at(/^npx cdk diff --app cdk\.out aegis-\$AEGIS_ENV$/);
    const deploy = at(/^npx cdk deploy --app cdk\.out aegis-\$AEGIS_ENV /);
    expect([synth, guard, diff, deploy].every((i) => i >= 0)).toBe(true);
    expect(synth < guard && guard < diff && diff < deploy).toBe(true);
  });

  it('trains with a recorded provenance, registers through the deployed API and checks the artifact reproduces', () => {
    const model = workflow.jobs.model!;
    expect(model.needs).toBe('deploy');
    const text = runs(model);
    expect(text).toMatch(/aegis train --record [^\n]*\\\n[^\n]*--register/);
    expect(text).toMatch(/aegis reproduce --manifest runs\/churn\.manifest\.json/);
    expect(text).toContain('AEGIS_URL=');
  });

  it('pins every action to a major version', () => {
    for (const [name, job] of Object.entries(workflow.jobs))
      for (const s of job.steps.filter((x) => x.uses))
        expect({ name, uses: s.uses }).toEqual({ name, uses: expect.stringMatching(/@v\d+$/) });
  });
});
