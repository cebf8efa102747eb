/** The few git questions `aegis signoff` asks, answered by the git on PATH in `cwd`. */
import { spawnSync } from 'node:child_process';
import { CliError } from './context.js';

function git(cwd: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new CliError(`cannot run git: ${r.error.message}`);
  return { ok: r.status === 0, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** The top of the working tree `cwd` is in. */
export function repoRoot(cwd: string): string {
  const r = git(cwd, ['rev-parse', '--show-toplevel']);
  if (!r.ok) throw new CliError(`${cwd} is not in a git working tree: ${r.err}`, 2);
  return r.out;
}

/** The full sha of commit `rev`, or undefined when it names no commit here. */
export function commitSha(root: string, rev: string): string | undefined {
  const r = git(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  return r.ok ? r.out : undefined;
}

export const isAncestorOfHead = (root: string, sha: string): boolean => git(root, ['merge-base', '--is-ancestor', sha, 'HEAD']).ok;

/**
 * Paths outside `keep/` that differ from commit `sha`: changed by commits since it, edited and
 * not committed, or new and not ignored.
 */
export function changedOutside(root: string, sha: string, keep: string): string[] {
  const outside = ['--', '.', `:(exclude)${keep}/`];
  const diff = git(root, ['diff', '--name-only', sha, ...outside]);
  if (!diff.ok) throw new CliError(`git diff ${sha}: ${diff.err}`);
  const added = git(root, ['ls-files', '--others', '--exclude-standard', ...outside]);
  return [diff.out, added.out].flatMap((o) => (o ? o.split('\n') : []));
}
