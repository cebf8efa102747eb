/** The `aegis` CLI: talks to a local server (bearer token) or to API Gateway (SigV4). */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ApiError } from '../lib/clients/http/client.js';
import { leadingArgs, modulesFor } from '../lib/clients/cli/commands.js';
import { CliContext, CliError } from '../lib/clients/cli/context.js';
import { AegisError } from '../lib/kernel/errors.js';

function positiveNumber(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`${flag} must be a positive number of seconds`);
    return n;
  };
}
function count(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 0 && n <= 10)) throw new InvalidArgumentError(`${flag} must be an integer from 0 to 10`);
    return n;
  };
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('aegis')
  // usage errors exit 2 (the README's table), not commander's default 1; see the catch below
  .exitOverride()
  .description(
    'Aegis model registry: train reproducibly, register, verify and trace signed model artifacts (aegis --version prints the version)',
  )
  .addOption(new Option('--url <url>', 'API base URL (local server or API Gateway stage URL); default AEGIS_URL or http://127.0.0.1:$PORT'))
  .addOption(new Option('--token <token>', 'bearer token (local mode); default AEGIS_TOKEN, then <data dir>/admin.token'))
  .option('--json', 'machine-readable output (errors too: { error: { code, message, field? } } on stdout)', false)
  .addOption(new Option('--timeout <seconds>', 'time limit of one HTTP attempt').argParser(positiveNumber('--timeout')).default(30))
  .addOption(
    new Option(
      '--retries <n>',
      'retries of a repeatable call (GET, or a write with an idempotency key) on 429/5xx, network errors and timeouts',
    )
      .argParser(count('--retries'))
      .default(3),
  )
  .showHelpAfterError();
const ctx = new CliContext(program);

// `aegis --version` (or -V) before any command, after the program's options (`--url X --version`).
// Not commander's .version(): that option would also swallow the `--version V` of `datasets
// register` and `list`. Checked before any command module loads.
const args = process.argv.slice(2);
const leading = leadingArgs(program, args);
if (leading.flags.includes('--version') || leading.flags.includes('-V')) {
  process.stdout.write(`${version}\n`);
  process.exit(0);
}

program
  .command('serve')
  .description('run the local server (same handlers as the Lambdas); honours PORT, AEGIS_DATA_DIR, …')
  .action(async () => {
    const { runServe } = await import('./serve.js');
    await runServe(process.env);
    await new Promise(() => undefined);
  });
// only the module of the command this run names (all of them for help or a mistyped command)
const named = leading.command;
const modules = named === 'serve' ? [] : modulesFor(named);
for (const register of await Promise.all(modules.map((m) => m.load()))) register(program, ctx);

/** With --json, a failure is one JSON object on stdout (the exit code is the same). */
const json = process.argv.slice(2).includes('--json');
function fail(
  exitCode: number,
  error: { code: string; message: string; field?: string | undefined; status?: number; requestId?: string | undefined },
  line: string,
): never {
  if (json)
    process.stdout.write(
      `${JSON.stringify({ error: Object.fromEntries(Object.entries(error).filter(([, v]) => v !== undefined && v !== 0)) })}\n`,
    );
  else if (line) process.stderr.write(`${line}\n`);
  process.exit(exitCode);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end the run successfully; every other parse error is a usage error
    if (e.exitCode === 0) process.exit(0);
    // commander already printed its message (and the help hint) on stderr
    fail(2, { code: 'USAGE', message: e.message.replace(/^error: /, '') }, '');
  }
  if (e instanceof ApiError) {
    fail(
      e.status === 401 || e.status === 403 ? 3 : 1,
      { code: e.code, message: e.message, field: e.field, status: e.status, requestId: e.requestId },
      `aegis: ${e.message}${e.field ? ` (field: ${e.field})` : ''} [${e.code}${e.status ? ` ${e.status}` : ''}]`,
    );
  }
  if (e instanceof CliError) fail(e.exitCode, { code: e.exitCode === 2 ? 'USAGE' : 'FAILED', message: e.message }, `aegis: ${e.message}`);
  if (e instanceof AegisError) fail(1, { code: e.code, message: e.message, field: e.field }, `aegis: ${e.message}`);
  throw e;
}
