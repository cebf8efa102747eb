import { Command, Option } from 'commander';
import { COMMAND_MODULES, commandName, leadingArgs, modulesFor } from '../../lib/clients/cli/commands.js';
import { CliContext } from '../../lib/clients/cli/context.js';

/** The CLI loads only the module of the command a run names: the table must say truly which module adds which command. */
describe('the CLI command table', () => {
  it.each(COMMAND_MODULES.map((m) => [m.commands.join(', '), m] as const))('a module alone adds exactly its commands: %s', async (_, m) => {
    const program = new Command('aegis');
    (await m.load())(program, new CliContext(program));
    expect(program.commands.map((c) => c.name())).toEqual(m.commands);
  });

  it('names each command once, and not serve (bin/cli.ts adds it)', () => {
    const names = COMMAND_MODULES.flatMap((m) => m.commands);
    expect(new Set(names).size).toBe(names.length);
    expect(names).not.toContain('serve');
  });

  const program = new Command('aegis')
    .addOption(new Option('--url <url>'))
    .addOption(new Option('--token <token>'))
    .addOption(new Option('-t, --timeout <s>'))
    .option('--json', 'json', false);

  it.each([
    [['register', '--model', 'm'], 'register'],
    [['--url', 'http://h', '--json', 'keys', 'list'], 'keys'],
    [['--url=http://h', '-t', '5', 'get', 'x'], 'get'],
    [['--json', '--', 'tokens'], 'tokens'],
    [['--help'], undefined],
    [['--token', 'register'], undefined], // the value of --token, not a command
    [[], undefined],
  ])('finds the command in %j', (args, name) => {
    expect(commandName(program, args)).toBe(name);
  });

  it.each([
    [['--url', 'http://h', '--version'], ['--url', '--version'], undefined],
    [['-t', '5', '-V', 'list'], ['-t', '-V'], 'list'],
    [['--token', '--version', 'whoami'], ['--token'], 'whoami'], // "--version" is the token there
    [['list', '--version', '2'], [], 'list'], // a command's own --version
  ])('reads the program-level flags before the command in %j', (args, flags, command) => {
    expect(leadingArgs(program, args)).toEqual({ flags, command });
  });

  it('loads one module for a known command, every module for help or a mistyped one', () => {
    expect(modulesFor('tokens').map((m) => m.commands)).toEqual([['tokens']]);
    expect(modulesFor('rollback')[0]!.commands).toContain('promote');
    expect(modulesFor('regster')).toBe(COMMAND_MODULES);
    expect(modulesFor(undefined)).toBe(COMMAND_MODULES);
  });
});
