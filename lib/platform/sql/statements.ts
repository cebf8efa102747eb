/**
 * Statements per unit of work: a Kysely plugin every database adapter installs notes each
 * statement it runs into the tally of the work in progress (an AsyncLocalStorage scope a
 * request or a test opens with {@link countStatements}). BEGIN and COMMIT are the driver's, not
 * statements here. Outside a scope the plugin does nothing but look the scope up.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  QueryId,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

/** What one scope ran: a label per statement (`select tokens`, `insert audit_events`, `raw`), in order. */
export interface StatementTally {
  readonly statements: string[];
}

const scope = new AsyncLocalStorage<StatementTally>();

type Node = OperationNode & Record<string, unknown>;

/** The table a FROM / INTO / UPDATE item names (through an alias), when it names one. */
function tableOf(node: unknown): string | undefined {
  const n = node as Node | undefined;
  if (!n) return undefined;
  if (n.kind === 'TableNode') return (n.table as { identifier: { name: string } }).identifier.name;
  if (n.kind === 'AliasNode') return tableOf(n.node);
  return undefined;
}

const firstFrom = (n: Node) => tableOf((n.from as { froms?: unknown[] } | undefined)?.froms?.[0]);

/** `verb table` for a statement Kysely built; `raw` for an `sql` template. */
export function statementLabel(node: RootOperationNode): string {
  const n = node as Node;
  switch (n.kind) {
    case 'SelectQueryNode':
      return `select ${firstFrom(n) ?? '?'}`;
    case 'InsertQueryNode':
      return `insert ${tableOf(n.into) ?? '?'}`;
    case 'UpdateQueryNode':
      return `update ${tableOf(n.table) ?? '?'}`;
    case 'DeleteQueryNode':
      return `delete ${firstFrom(n) ?? '?'}`;
    case 'RawNode':
      return 'raw';
    default:
      return n.kind;
  }
}

/** Labels of statements compiled in a scope, by query id, until their result arrives. */
const pending = new WeakMap<QueryId, string>();

/**
 * The plugin the adapters install (`new Kysely({ dialect, plugins: [STATEMENT_COUNTER] })`).
 * A statement counts when its result arrives: a subquery is compiled (transformed) as part of
 * its outer statement but never executed alone, and a failed statement is not counted.
 */
export const STATEMENT_COUNTER: KyselyPlugin = {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (scope.getStore()) pending.set(args.queryId, statementLabel(args.node));
    return args.node;
  },
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    const label = pending.get(args.queryId);
    if (label !== undefined) {
      pending.delete(args.queryId);
      scope.getStore()?.statements.push(label);
    }
    return Promise.resolve(args.result);
  },
};

/**
 * Runs `fn` in a scope of its own and returns, beside its result, the statements it ran
 * (every statement awaited inside `fn`, whichever database it went to).
 *
 * @example
 * const { result, statements } = await countStatements(() => registry.get(id));
 */
export async function countStatements<T>(fn: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  let statements: string[] = [];
  const result = await withStatementTally(fn, (s) => (statements = [...s]));
  return { result, statements };
}

/** Like {@link countStatements}, but a failure of `fn` still reports its statements to `done` before it propagates. */
export async function withStatementTally<T>(fn: () => Promise<T>, done: (statements: readonly string[]) => void): Promise<T> {
  const tally: StatementTally = { statements: [] };
  try {
    return await scope.run(tally, fn);
  } finally {
    done(tally.statements);
  }
}
