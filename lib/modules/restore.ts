/**
 * What the modules' restores (`lib/modules/<m>/restore.ts`) share with the rebuild that calls
 * them (`lib/recovery`): the report they add to, the author of rows they have to make up, the
 * dispatch of audit events by type and the replay of one event. Imports no module.
 */
import type * as z from 'zod';
import type { AuditEvent } from '../kernel/audit-chain.js';

export type ProblemCode =
  | 'signature-invalid'
  | 'signer-invalid'
  | 'manifest-invalid'
  | 'manifest-mismatch'
  | 'signature-record-mismatch'
  | 'sha256-mismatch'
  | 'size-mismatch'
  | 'object-missing'
  | 'sidecar-unreadable'
  | 'payload-invalid'
  | 'conflict'
  | 'artifact-not-restored'
  | 'signing-unavailable'
  /** the archive ends before the newest signed head checkpoint: the events after it are lost */
  | 'behind-checkpoint'
  /** the archived event at the newest head checkpoint's seq is not the one it signed */
  | 'checkpoint-mismatch'
  /** a head checkpoint object does not verify */
  | 'checkpoint-invalid';

/** Something that was not restored (or cannot work) and needs a person. */
export interface Problem {
  kind: 'artifact' | 'sidecar' | 'dataset' | 'key' | 'event' | 'promotion';
  id: string;
  problem: ProblemCode;
  detail: string;
}

/** Objects left out on purpose. */
export interface Orphan {
  kind: 'duplicate-sidecars' | 'incomplete-sidecars' | 'unregistered-upload';
  keys: string[];
  detail: string;
}

/** What a restore adds to the rebuild's report (the report itself fits). */
export interface RestoreLog {
  problems: Problem[];
  warnings: string[];
  orphans: Orphan[];
}

/** created_by of rows the rebuild had to make up an author for. */
export const RECOVERY_ACTOR = 'aegis-recovery';

/**
 * The handler of `type` in a restore's dispatch table (event type → handler), if it has one.
 * Own properties only: an event type such as `constructor` names no handler.
 */
export function handlerFor<H>(table: Readonly<Record<string, H>>, type: string): H | undefined {
  return Object.hasOwn(table, type) ? table[type] : undefined;
}

/** A `payload-invalid` problem about item `kind` when `e`'s payload does not parse; the payload otherwise. */
export function parsePayload<S extends z.ZodType>(
  schema: S,
  e: AuditEvent,
  kind: Problem['kind'],
  log: RestoreLog,
): z.infer<S> | undefined {
  const p = schema.safeParse(e.payload);
  if (p.success) return p.data;
  log.problems.push({ kind, id: `seq ${e.seq}`, problem: 'payload-invalid', detail: `${e.type}: ${p.error.issues[0]?.message}` });
  return undefined;
}

/** An event of the promotion replay that is malformed or does not follow from the ones before it. */
export interface ReplayProblem {
  seq: number;
  code: 'payload-invalid' | 'conflict';
  detail: string;
}

/** One event being replayed, with where its problems go. */
export class EventReplay {
  constructor(
    readonly e: AuditEvent,
    private readonly problems: ReplayProblem[],
  ) {}

  problem(detail: string, code: ReplayProblem['code'] = 'conflict'): void {
    this.problems.push({ seq: this.e.seq, code, detail: `${this.e.type}: ${detail}` });
  }

  /** The payload parsed by `schema`, or a `payload-invalid` problem naming the first issue and undefined. */
  parse<S extends z.ZodType>(schema: S): z.infer<S> | undefined {
    const p = schema.safeParse(this.e.payload);
    if (p.success) return p.data;
    const issue = p.error.issues[0];
    this.problem(`payload ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, 'payload-invalid');
    return undefined;
  }
}

// Multi-row inserts cut round trips (each is an HTTP call on the Data API) while staying far
// below PostgreSQL's 65535 bind parameters (artifacts and promotions have 17 columns).
const CHUNK = 200;

/** Writes `rows` through a store's multi-row insert, at most 200 rows a statement (none for no rows). */
export async function inChunks<T>(rows: readonly T[], write: (part: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) await write(rows.slice(i, i + CHUNK));
}
