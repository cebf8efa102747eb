import type { Command } from 'commander';
import { deployProblems } from '../../infra/deploy-guard.js';
import type { CliContext } from './context.js';

const SHOWN = 5;

/**
 * `aegis deploy-guard --env prod`: run after `cdk synth -c env=prod` and before `cdk deploy --app cdk.out`
 * on a protected branch. Exit 0: the deploy may go ahead; exit 1: every problem named (field, what is wrong,
 * where); exit 2: usage.
 */
export function deployGuardCommand(program: Command, ctx: CliContext): void {
  program
    .command('deploy-guard')
    .description(
      'refuse a deploy whose synthesized stack lacks REQUIRE_KMS=true or the KMS signing key ids, allows ephemeral keys, or has no Object Lock (exit 1 naming each problem)',
    )
    .requiredOption('--env <name>', 'the environment (its entry in the environments file, and the stack aegis-<name> in the assembly)')
    .option('--assembly <dir>', 'the cloud assembly cdk synth wrote', 'cdk.out')
    .option('--environments <file>', 'the per-environment configuration file', 'environments.json')
    .action((o: { env: string; assembly: string; environments: string }) => {
      const problems = deployProblems({ envName: o.env, environmentsFile: o.environments, assemblyDir: o.assembly });
      const lines = problems.map((p) => {
        const where = p.where.length
          ? ` [${p.where.slice(0, SHOWN).join(', ')}${p.where.length > SHOWN ? ` and ${p.where.length - SHOWN} more` : ''}]`
          : '';
        return `  ${p.field}: ${p.message}${where}`;
      });
      const head = problems.length
        ? `deploy-guard: ${o.env}: refused, ${problems.length} problem${problems.length === 1 ? '' : 's'}`
        : `deploy-guard: ${o.env}: ok (REQUIRE_KMS=true, KMS signing keys, no ephemeral keys, Object Lock)`;
      ctx.out([head, ...lines].join('\n'), { env: o.env, ok: problems.length === 0, problems });
      if (problems.length) process.exitCode = 1;
    });
}
