import type { Command } from 'commander';
import type { CliContext } from './context.js';

type Register = (program: Command, ctx: CliContext) => void;

/** A command module: the top-level commands it adds, and how to load it. */
export interface CommandModule {
  readonly commands: readonly string[];
  readonly load: () => Promise<Register>;
}

/**
 * Every command of the CLI but `serve`, by module, in the order `aegis --help` lists them. A run
 * loads the module of the command it runs and no other ({@link modulesFor}): each module's
 * imports (schemas, SDK clients, the training and drift code) cost start-up time only to the
 * commands that use them. The names are checked against what each module registers (a test).
 */
export const COMMAND_MODULES: readonly CommandModule[] = [
  {
    commands: ['register', 'get', 'list', 'verify-manifest', 'set-team', 'datasets'],
    load: async () => (await import('./registry-commands.js')).registryCommands,
  },
  { commands: ['keys'], load: async () => (await import('./key-commands.js')).keyCommands },
  { commands: ['publish', 'verify-folder'], load: async () => (await import('./publish-commands.js')).publishCommands },
  { commands: ['tokens'], load: async () => (await import('./token-commands.js')).tokenCommands },
  { commands: ['train', 'reproduce', 'builtin-train'], load: async () => (await import('./training-commands.js')).trainingCommands },
  { commands: ['lineage', 'export-lineage', 'verify-bundle'], load: async () => (await import('./lineage-commands.js')).lineageCommands },
  { commands: ['feedback', 'canary'], load: async () => (await import('./serving-commands.js')).servingCommands },
  { commands: ['audit-verify', 'audit'], load: async () => (await import('./audit-commands.js')).auditCommands },
  { commands: ['webhooks'], load: async () => (await import('./webhook-commands.js')).webhookCommands },
  { commands: ['events'], load: async () => (await import('./events-command.js')).eventsCommands },
  {
    commands: ['promote', 'abort', 'rollback', 'promotions', 'approve'],
    load: async () => (await import('./promotion-commands.js')).promotionCommands,
  },
  { commands: ['cancel'], load: async () => (await import('./promotion-cancel-command.js')).promotionCancelCommand },
  { commands: ['quarantine'], load: async () => (await import('./quarantine-commands.js')).quarantineCommands },
  { commands: ['rebuild-index', 'parity'], load: async () => (await import('./recovery-commands.js')).recoveryCommands },
  { commands: ['pull'], load: async () => (await import('./pull-command.js')).pullCommand },
  { commands: ['predict'], load: async () => (await import('./predict-command.js')).predictCommand },
  { commands: ['baseline'], load: async () => (await import('./baseline-command.js')).baselineCommand },
  { commands: ['retrain'], load: async () => (await import('./retrain-command.js')).retrainCommand },
  { commands: ['drift'], load: async () => (await import('./drift-command.js')).driftCommands },
  { commands: ['console', 'whoami'], load: async () => (await import('./console-command.js')).consoleCommands },
  { commands: ['deploy-guard'], load: async () => (await import('./deploy-guard-command.js')).deployGuardCommand },
  { commands: ['signoff'], load: async () => (await import('./signoff-command.js')).signoffCommands },
  { commands: ['acceptance'], load: async () => (await import('./acceptance-command.js')).acceptanceCommand },
];

/**
 * What comes before a run's command: the program-level flags (an option's value is not one) and
 * the command itself, its first argument that is neither an option nor the value of one of
 * `program`'s options (`--url <url>`, or `--url=<url>` in one argument); undefined when none.
 */
export function leadingArgs(program: Command, args: readonly string[]): { flags: string[]; command: string | undefined } {
  const takesValue = new Set(
    program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter((f) => f !== undefined)),
  );
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return { flags, command: args[i + 1] };
    if (!a.startsWith('-')) return { flags, command: a };
    flags.push(a);
    if (takesValue.has(a)) i++;
  }
  return { flags, command: undefined };
}

/** The command a run names ({@link leadingArgs}). */
export const commandName = (program: Command, args: readonly string[]): string | undefined => leadingArgs(program, args).command;

/** The modules a run of `name` needs: its own, or all of them (help, a mistyped command: commander lists and suggests from all). */
export function modulesFor(name: string | undefined): readonly CommandModule[] {
  const own = COMMAND_MODULES.find((m) => name !== undefined && m.commands.includes(name));
  return own ? [own] : COMMAND_MODULES;
}
