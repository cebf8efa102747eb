/**
 * The test-only fault point (`AEGIS_TEST_KILL_AT`, refused in production): the process
 * kills itself with SIGKILL the `nth` time it reaches `point`, as `kill -9` would, at a
 * deterministic place (inside a step's transaction, before its commit).
 */
export function killAt(at: { point: string; nth: number }): (point: string) => void {
  let seen = 0;
  return (point) => {
    if (point !== at.point || ++seen !== at.nth) return;
    process.stderr.write(`AEGIS_TEST_KILL_AT: killed at ${point}#${seen}\n`);
    process.kill(process.pid, 'SIGKILL');
  };
}
