/**
 * Suites that need a server the machine may lack (moto_server, the PostgreSQL server). The
 * servers are probed before any test is defined (top-level await), and a suite whose server
 * is absent is registered with `describe.skip` under a title that says why: the report counts
 * its tests as skipped, never as passed. In CI the probes throw instead (see moto.ts and
 * postgres.ts), and a skip is refused here too, so a missing server fails the run.
 */

/**
 * `describe`, or `describe.skip` with the reason in the title when `reason` is set.
 *
 * @example
 * const moto = await startMoto();
 * describeUnless(moto ? undefined : 'moto_server is not installed', 'S3ObjectStore', () => { … });
 */
export function describeUnless(reason: string | undefined, title: string, fn: () => void): void {
  if (reason === undefined) return describe(title, fn);
  // CI has every server: a suite skipped there is a broken setup, never a pass
  if (process.env.CI) throw new Error(`${title}: cannot be skipped in CI (${reason})`);
  console.warn(`${title}: skipped: ${reason}`);
  describe.skip(`${title} [skipped: ${reason}]`, fn);
}

export const NO_MOTO = 'moto_server is not installed here (CI requires it)';
export const NO_POSTGRES = 'no PostgreSQL server is reachable here (CI requires it)';
