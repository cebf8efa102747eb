/**
 * The typed catalogue of audit events: every event type Aegis appends has exactly one zod
 * schema for its payload, declared by the module that writes it (`lib/modules/<m>/events.ts`)
 * and read by the writer at append time, by recovery and by the promotion gates alike. A
 * payload that does not parse, or that carries anything its schema does not name, is refused
 * before it reaches the chain, so a writer/reader mismatch fails a test, not a disaster.
 */
import * as z from 'zod';
import { canonicalJson } from '../../kernel/canonical.js';
import { AegisError } from '../../kernel/errors.js';

/** How recovery treats the event: which part of the rebuild restores the state it records, or why none does. */
export type Restore = { readonly restoredBy: string } | { readonly notRestored: string };

export interface EventSpec {
  readonly schema: z.ZodType;
  readonly restore: Restore;
}

/** Event type → its spec. Each module exports one; `lib/modules/catalogue.ts` joins them. */
export type EventCatalogue = Readonly<Record<string, EventSpec>>;

// The field shapes payloads share.
export const Iso = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a timestamp');
export const Sha = z.string().regex(/^[0-9a-f]{64}$/);
export const Text = z.string().min(1);
export const Int = z.number().int();

/** Joins module catalogues; a type declared twice is a programming error. */
export function joinCatalogues(...parts: EventCatalogue[]): EventCatalogue {
  const out: Record<string, EventSpec> = {};
  for (const part of parts)
    for (const [type, spec] of Object.entries(part)) {
      if (out[type]) throw new Error(`audit event type ${type} is declared twice`);
      out[type] = spec;
    }
  return Object.freeze(out);
}

/**
 * Checks a payload about to be appended: its type is catalogued, it parses, and parsing it
 * neither drops nor adds anything (the stored payload is exactly what a reader will parse).
 * Throws INTERNAL: a refused payload is a bug in the writer, never the caller's fault.
 */
export function checkPayload(
  catalogue: EventCatalogue,
  type: string,
  payload: Record<string, unknown>,
  /** the payload's canonical JSON, when the caller has it already */
  payloadText = canonicalJson(payload),
): void {
  const spec = catalogue[type];
  if (!spec) throw new AegisError('INTERNAL', `audit event type ${type} has no schema in the event catalogue`);
  const parsed = spec.schema.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AegisError('INTERNAL', `audit event ${type}: payload ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  if (canonicalJson(parsed.data) !== payloadText) {
    const written = pathsIn(payload);
    const read = pathsIn(parsed.data);
    const extra = written.filter((p) => !read.includes(p));
    const missing = read.filter((p) => !written.includes(p));
    throw new AegisError(
      'INTERNAL',
      `audit event ${type}: the payload does not match its schema exactly (not in the schema: ${extra.join(', ') || 'none'}; defaulted by it: ${missing.join(', ') || 'none'})`,
    );
  }
}

/** Every key path of a JSON value (`a`, `a.b`, `list.0.c`), to name what a schema dropped or added. */
function pathsIn(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix}${k}`, ...pathsIn(v, `${prefix}${k}.`)]);
}
