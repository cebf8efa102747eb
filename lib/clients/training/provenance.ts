import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { AegisError } from '../../kernel/errors.js';
import { ContainerDigest } from '../../kernel/names.js';
import { hashStream } from '../../kernel/hashing.js';

const run = promisify(execFile);

/** Lockfiles whose sha256 pins the training code's dependencies, looked for in the work dir. */
export const LOCKFILES = [
  'package-lock.json',
  'pnpm-lock.yaml',
  'yarn.lock',
  'poetry.lock',
  'uv.lock',
  'Pipfile.lock',
  'requirements.txt',
  'Cargo.lock',
  'go.sum',
] as const;

export interface CodeRef {
  codeRef: string;
  /** true when --allow-dirty let a modified work tree through (recorded in the manifest) */
  dirty: boolean;
  source: 'git' | 'given';
}

/**
 * The code a run is built from: the git HEAD of `cwd`, refusing a dirty work tree (tracked
 * changes or untracked, unignored files) unless `allowDirty`. An explicit `given` ref (an
 * image digest, a tag) is taken as is.
 */
export async function resolveCodeRef(cwd: string, opts: { given?: string | undefined; allowDirty: boolean }): Promise<CodeRef> {
  if (opts.given) return { codeRef: opts.given, dirty: false, source: 'given' };
  let head: string;
  try {
    head = (await run('git', ['rev-parse', '--verify', 'HEAD'], { cwd })).stdout.trim();
  } catch {
    throw new AegisError('VALIDATION_FAILED', `${cwd} is not a git work tree with a commit: pass --code-ref`, { field: 'codeRef' });
  }
  // porcelain lines are `XY path`: the status columns may be spaces, so never trim a line
  const changed = (await run('git', ['status', '--porcelain'], { cwd, maxBuffer: 16 * 1024 * 1024 })).stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
  if (changed.length && !opts.allowDirty) {
    throw new AegisError(
      'VALIDATION_FAILED',
      `the work tree has uncommitted changes (${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ', …' : ''}): commit them, or pass --allow-dirty (recorded in the manifest)`,
      {
        field: 'codeRef',
      },
    );
  }
  return { codeRef: head, dirty: changed.length > 0, source: 'git' };
}

export function resolveContainerDigest(value: string | undefined): string {
  if (!value) {
    throw new AegisError(
      'VALIDATION_FAILED',
      'no container digest: pass --container-digest sha256:<64 hex> or set CONTAINER_DIGEST (the image the training ran in)',
      { field: 'containerDigest' },
    );
  }
  const r = ContainerDigest.safeParse(value);
  if (!r.success)
    throw new AegisError('VALIDATION_FAILED', `container digest ${JSON.stringify(value)} ${r.error.issues[0]!.message}`, {
      field: 'containerDigest',
    });
  return r.data;
}

/** The environment that matters for reproducing a run; nothing machine-identifying. */
export async function captureEnvironment(cwd: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const lockfiles: Record<string, string> = {};
  for (const name of LOCKFILES) {
    const p = join(cwd, name);
    if (existsSync(p)) lockfiles[name] = (await hashStream(createReadStream(p))).sha256;
  }
  return {
    runtime: { node: process.version, v8: process.versions.v8 },
    platform: process.platform,
    arch: process.arch,
    lockfiles,
    ...extra,
  };
}
