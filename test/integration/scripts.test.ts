/**
 * Issue 21's scripts/drift_drill.sh (aegis drift sample → audit-verify → rebuild-index restores
 * the suggestion) run as CI runs it: a real server on dist/ (built by the global setup) in a temp
 * folder; it exits 0 only when every step did what it should, and the key lines of its timeline
 * are asserted too. (scripts/canary_check.sh and scripts/e2e_promotion_flow.sh run in CI as the
 * canary-rollback and promotion-e2e checks of `aegis acceptance`: test/acceptance.)
 */
import { join } from 'node:path';
import { run } from '../support/spawn.js';

const SCRIPT_TIMEOUT_MS = 300_000;
const bash = (script: string) => run('bash', [join(process.cwd(), 'scripts', script)], { timeoutMs: SCRIPT_TIMEOUT_MS - 10_000 });

describe('scripts/drift_drill.sh', () => {
  it(
    'raises exactly one signed suggestion for the drifted window only, verifies the chain, and rebuilds it from the archive',
    async () => {
      const r = await bash('drift_drill.sh');
      // on failure the diff shows the timeline and the deviation with the server log's tail (an
      // asymmetric matcher in their place would hide them: a field it matches is not printed)
      expect({ code: r.code, ...(r.code !== 0 && { stdout: r.stdout.slice(-3000), stderr: r.stderr.slice(-3000) }) }).toEqual({
        code: 0,
      });
      expect(r.stdout).toMatch(/baseline-like window: report \S+ no-drift, 3000 rows, suggestion null/);
      const drifted = /drifted window: report (\S+) drift, 3000 rows, suggestion (\S+)/.exec(r.stdout);
      expect(drifted).not.toBeNull();
      const suggestion = drifted![2]!;
      expect(suggestion).not.toBe('null');
      expect(r.stdout).toMatch(
        new RegExp(`drift sample PASSED: suggestion ${suggestion} open, signed by \\S+; reasons .*"feature age js"`),
      );
      expect(r.stdout).toMatch(/audit-verify: VERIFIED/);
      expect(r.stdout).toMatch(/parity: SAME/);
      expect(r.stdout).toContain(`the rebuilt registry holds suggestion ${suggestion}: same status and signature`);
      expect(r.stdout).toMatch(/audit-verify on the rebuilt registry: VERIFIED/);
      expect(r.stdout.trim().split('\n').at(-1)).toBe('DRIFT DRILL PASSED');
      expect(r.stderr).not.toMatch(/DEVIATION/);
    },
    SCRIPT_TIMEOUT_MS,
  );
});
