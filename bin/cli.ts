/** The `aegis` CLI: talks to a local server (bearer token) or to API Gateway (SigV4). */
import { Command, Option } from 'commander';
import { ApiError } from '../lib/client/client.js';
import { auditCommands } from '../lib/cli/audit-commands.js';
import { CliContext, CliError } from '../lib/cli/context.js';
import { lineageCommands } from '../lib/cli/lineage-commands.js';
import { promotionCancelCommand } from '../lib/cli/promotion-cancel-command.js';
import { promotionCommands } from '../lib/cli/promotion-commands.js';
import { recoveryCommands } from '../lib/cli/recovery-commands.js';
import { registryCommands } from '../lib/cli/registry-commands.js';
import { trainingCommands } from '../lib/cli/training-commands.js';
import { AegisError } from '../lib/core/errors.js';

const program = new Command('aegis')
  .description('Aegis model registry: train reproducibly, register, verify and trace signed model artifacts')
  .addOption(new Option('--url <url>', 'API base URL (local server or API Gateway stage URL); default AEGIS_URL or http://127.0.0.1:$PORT'))
  .addOption(new Option('--token <token>', 'bearer token (local mode); default AEGIS_TOKEN, then <data dir>/admin.token'))
  .option('--json', 'machine-readable output', false)
  .showHelpAfterError();
const ctx = new CliContext(program);

program
  .command('serve')
  .description('run the local server (same handlers as the Lambdas); honours PORT, AEGIS_DATA_DIR, …')
  .action(async () => {
    const { runServe } = await import('./serve.js');
    await runServe(process.env);
    await new Promise(() => undefined);
  });
registryCommands(program, ctx);
trainingCommands(program, ctx);
lineageCommands(program, ctx);
auditCommands(program, ctx);
promotionCommands(program, ctx);
promotionCancelCommand(program, ctx);
recoveryCommands(program, ctx);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof ApiError) {
    process.stderr.write(`aegis: ${e.message}${e.field ? ` (field: ${e.field})` : ''} [${e.code}${e.status ? ` ${e.status}` : ''}]\n`);
    process.exit(e.status === 401 || e.status === 403 ? 3 : 1);
  }
  if (e instanceof CliError || e instanceof AegisError) {
    process.stderr.write(`aegis: ${e.message}\n`);
    process.exit(e instanceof CliError ? e.exitCode : 1);
  }
  throw e;
}
