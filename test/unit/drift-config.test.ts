import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriftConfig, loadDriftConfig } from '../../lib/modules/drift/config.js';
import { latestWindow } from '../../lib/modules/drift/runs.js';
import { loadConfig } from '../../lib/platform/config.js';
import { MAX_WINDOW_HOURS } from '../../lib/modules/drift/domain.js';

const base = { schedule: { enabled: true, everyMinutes: 60, windowMinutes: 60, shards: 4 }, detectors: { minRows: 500 } };
const parse = (v: unknown) => DriftConfig.parse('policies/drift.json', JSON.stringify(v));

/** The CONFIG_INVALID error a bad file is refused with. */
function refusal(v: unknown): { code: string; message: string } {
  try {
    parse(v);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('the file was accepted');
}

describe('drift configuration', () => {
  it('merges the matching deployments over the defaults in file order, detectors per feature', () => {
    const c = parse({
      ...base,
      deployments: [
        { model: '*', env: 'prod', windowMinutes: 120, detectors: { numericThreshold: 0.2, features: { age: { threshold: 0.3 } } } },
        { model: 'churn', shards: 8, detectors: { features: { age: { ignore: true } } } },
        { model: 'churn', env: 'prod', enabled: false, everyMinutes: 30 },
        { model: 'fraud', windowMinutes: 5 },
      ],
    });
    expect(c.configFor('churn', 'prod')).toEqual({
      model: 'churn',
      env: 'prod',
      schedule: { enabled: false, everyMinutes: 30, windowMinutes: 120, shards: 8 },
      detectors: { minRows: 500, numericThreshold: 0.2, features: { age: { threshold: 0.3, ignore: true } } },
    });
    expect(c.configFor('churn', 'staging')).toEqual({
      model: 'churn',
      env: 'staging',
      schedule: { enabled: true, everyMinutes: 60, windowMinutes: 60, shards: 8 },
      detectors: { minRows: 500, features: { age: { ignore: true } } },
    });
    expect(c.configFor('other', 'staging').schedule).toEqual(base.schedule);
    expect(c.configFor('other', 'staging').detectors).toEqual({ minRows: 500 });
  });

  it('the shipped policies/drift.json loads', () => {
    const c = loadDriftConfig(join(process.cwd(), 'policies/drift.json'));
    expect(c.configFor('churn', 'prod').schedule.everyMinutes).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['schedule.everyMinutes', { ...base, schedule: { ...base.schedule, everyMinutes: 0 } }],
    ['schedule.everyMinutes', { ...base, schedule: { ...base.schedule, everyMinutes: 1441 } }],
    ['schedule.windowMinutes', { ...base, schedule: { ...base.schedule, windowMinutes: MAX_WINDOW_HOURS * 60 + 1 } }],
    ['schedule.shards', { ...base, schedule: { ...base.schedule, shards: 51 } }],
    ['schedule.enabled', { ...base, schedule: { ...base.schedule, enabled: 'yes' } }],
    ['schedule', { ...base, schedule: { ...base.schedule, extra: 1 } }],
    ['detectors', { ...base, detectors: { numericTreshold: 0.1 } }],
    ['detectors.driftShare', { ...base, detectors: { driftShare: 1.5 } }],
    ['detectors.minRows', { ...base, detectors: { minRows: -1 } }],
    ['deployments.0.model', { ...base, deployments: [{ model: 'Churn!' }] }],
    ['deployments.0.shards', { ...base, deployments: [{ model: 'churn', shards: 0 }] }],
    [
      'deployments.1.detectors.features.age.threshold',
      { ...base, deployments: [{ model: 'churn' }, { model: 'x', detectors: { features: { age: { threshold: -1 } } } }] },
    ],
    ['schedule', { detectors: {} }],
  ])('refuses a bad file naming the file and the field %s', (field, file) => {
    const e = refusal(file);
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.message.startsWith(`policies/drift.json: ${field}`)).toBe(true);
  });

  it('refuses text that is not JSON, and a file that cannot be read, naming it', async () => {
    expect(() => DriftConfig.parse('p/drift.json', '{"schedule":')).toThrow(/^p\/drift.json: not valid JSON/);
    const dir = await mkdtemp(join(tmpdir(), 'aegis-drift-config-'));
    try {
      expect(() => loadDriftConfig(join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read/);
      await writeFile(join(dir, 'drift.json'), JSON.stringify({ ...base, detectors: { alpha: 'x' } }));
      expect(() => loadDriftConfig(join(dir, 'drift.json'))).toThrow(/drift\.json: detectors\.alpha/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('AEGIS_DRIFT_POLICY names the file; by default drift.json in the policies folder', () => {
    const env = { DEV_ALLOW_EPHEMERAL: 'true', AEGIS_POLICIES_DIR: '/srv/policies' };
    expect(loadConfig(env).drift).toEqual({ policyFile: '/srv/policies/drift.json', settleSeconds: 120, stateMachineArn: undefined });
    expect(loadConfig({ ...env, AEGIS_DRIFT_POLICY: '/etc/aegis/drift.json', AEGIS_DRIFT_SETTLE_SECONDS: '30' }).drift).toMatchObject({
      policyFile: '/etc/aegis/drift.json',
      settleSeconds: 30,
    });
    expect(() => loadConfig({ ...env, AEGIS_DRIFT_SETTLE_SECONDS: '5' })).toThrow(/AEGIS_DRIFT_SETTLE_SECONDS/);
  });
});

describe('the latest scheduled window', () => {
  const schedule = { enabled: true, everyMinutes: 60, windowMinutes: 90, shards: 1 };
  it('ends on the schedule grid at least the settle time before now', () => {
    const w = latestWindow(schedule, new Date('2026-11-30T10:01:59Z'), 120);
    expect(w).toEqual({ from: new Date('2026-11-30T07:30:00Z'), to: new Date('2026-11-30T09:00:00Z') });
    expect(latestWindow(schedule, new Date('2026-11-30T10:02:00Z'), 120).to).toEqual(new Date('2026-11-30T10:00:00Z'));
    expect(latestWindow({ ...schedule, everyMinutes: 15, windowMinutes: 15 }, new Date('2026-11-30T10:20:00Z'), 120)).toEqual({
      from: new Date('2026-11-30T10:00:00Z'),
      to: new Date('2026-11-30T10:15:00Z'),
    });
  });
});
