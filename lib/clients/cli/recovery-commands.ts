import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadCheckedConfig, loadConfig, type Config, type DatabaseConfig } from '../../platform/config.js';
import { parseJsonStrict } from '../../kernel/json.js';
import { LIMITS } from '../../kernel/manifest.js';
import { parseTrustedKeys } from '../../recovery/trust.js';
import type { KeyRecord } from '../../kernel/signatures.js';
import { openDatabase, openRecoveryTarget, openRegistry } from '../../platform/composition/recovery.js';
import { diffSnapshots, registrySnapshot, storageParity } from '../../recovery/parity.js';
import { rebuildIndex, RecoveryError } from '../../recovery/rebuild.js';
import { CliError, type CliContext } from './context.js';
import { formatDifferences, formatRebuildReport, formatStorageParity, progressPrinter } from './recovery-format.js';

/**
 * Admin tools that run next to the storage, not through the HTTP API: locally against the
 * data folder (stop the server first: PGlite serves one process), on AWS with credentials
 * and the environment pointing at the buckets and the Data API.
 */
function checkedConfig(env: NodeJS.ProcessEnv = process.env): Config {
  try {
    return loadCheckedConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(`refusing to start: ${e.message}`, 2);
    throw e;
  }
}

function readTrustedKeys(path: string): KeyRecord[] {
  try {
    return parseTrustedKeys(parseJsonStrict(readFileSync(path, 'utf8'), { maxDepth: LIMITS.jsonDepth }));
  } catch (e) {
    throw new CliError(`--trusted-keys ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 2);
  }
}

const collect = (v: string, prev: string[]) => [...prev, v];

function kmsKeyRefs(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z0-9._-]{1,64})=(arn:aws[a-z-]*:kms:\S+)$/.exec(p);
    if (!m) throw new CliError(`--kms-key-ref ${p}: expected KID=arn:aws:kms:…:key/…`, 2);
    out[m[1]!] = m[2]!;
  }
  return out;
}

function otherDatabase(o: { againstDataDir?: string; againstDatabaseUrl?: string }): DatabaseConfig {
  if (Boolean(o.againstDataDir) === Boolean(o.againstDatabaseUrl))
    throw new CliError('give exactly one of --against-data-dir and --against-database-url', 2);
  if (o.againstDataDir) {
    const dir = resolve(o.againstDataDir, 'pg');
    // PGlite would create an empty database there, and every row would look missing.
    if (!existsSync(dir)) throw new CliError(`${o.againstDataDir} has no pg/ folder (not an Aegis data folder)`, 2);
    return { kind: 'pglite', dataDir: dir };
  }
  try {
    return loadConfig({ MODEL_REGISTRY_DATABASE_URL: o.againstDatabaseUrl }).database;
  } catch (e) {
    throw new CliError(`--against-database-url: ${(e as Error).message}`, 2);
  }
}

/** rebuild-index, parity. */
export function recoveryCommands(program: Command, ctx: CliContext): void {
  program
    .command('rebuild-index')
    .description(
      'admin, next to the storage: rebuild the configured (empty) registry database from the audit archive and the artifact store',
    )
    .option(
      '--trusted-keys <file>',
      'pin trust to this key ring (GET /v1/keys output kept out of band); otherwise the archive self-certifies it, reported as not pinned',
    )
    .option('--verify-bytes', 'stream every artifact and check its sha256 (otherwise the store-recorded sha256 and size)', false)
    .option('--kms-key-ref <kid=arn>', 'ARN of a KMS-backed key (the audit log does not hold ARNs); repeatable', collect, [])
    .action(async (o: { trustedKeys?: string; verifyBytes: boolean; kmsKeyRef: string[] }) => {
      const config = checkedConfig();
      const trustedKeys = o.trustedKeys ? readTrustedKeys(o.trustedKeys) : undefined;
      const refs = kmsKeyRefs(o.kmsKeyRef);
      const target = await openRecoveryTarget(config);
      let report;
      try {
        report = await rebuildIndex(target.deps, {
          verifyBytes: o.verifyBytes,
          kmsKeyRefs: refs,
          ...(trustedKeys ? { trustedKeys } : {}),
          onProgress: progressPrinter((line) => process.stderr.write(`aegis: ${line}\n`)),
        });
      } catch (e) {
        if (e instanceof RecoveryError) throw new CliError(`rebuild refused (${e.code}): ${e.message}`, 1);
        throw e;
      } finally {
        await target.close();
      }
      ctx.out(formatRebuildReport(report), report);
      if (report.problems.length) process.exitCode = 1;
    });

  program
    .command('parity')
    .description('admin: compare the configured registry with another database, field by field, and its artifact store with its rows')
    .option('--against-data-dir <dir>', 'another local data folder (its pg/ database)')
    .option('--against-database-url <url>', 'another database: postgres://… or rdsdata://DB?resourceArn=…&secretArn=…')
    .action(async (o: { againstDataDir?: string; againstDatabaseUrl?: string }) => {
      const other = otherDatabase(o);
      const registry = await openRegistry(checkedConfig());
      try {
        const right = await openDatabase(other);
        let diffs;
        try {
          diffs = diffSnapshots(await registrySnapshot(registry.database), await registrySnapshot(right));
        } finally {
          await right.close();
        }
        const storage = await storageParity(registry.database, registry.store);
        const lines = [
          `${diffs.length + storage.issues.length ? 'DIFFERENT' : 'SAME'}  ${diffs.length} difference(s) from the other registry (left = configured, right = other); ${storage.issues.length} storage issue(s) over ${storage.objects} object(s) and ${storage.artifacts} artifact row(s)`,
          ...formatDifferences(diffs),
          ...formatStorageParity(storage),
        ];
        ctx.out(lines.join('\n'), { differences: diffs, storage });
        if (diffs.length || storage.issues.length) process.exitCode = 1;
      } finally {
        await registry.close();
      }
    });
}
