/**
 * The one scope check: before a use case runs, the model its request reaches (by the route's
 * {@link ScopeRule}) must be within the caller's scope. A global caller is never refused
 * here (today's behaviour); a scoped one sees objects outside its scope exactly as missing
 * ones, so names do not leak.
 */
import { AegisError } from '../../kernel/errors.js';
import { inScope, type ModelRef, type Principal } from '../../kernel/identity.js';
import type { Container } from '../composition/container.js';
import type { PathIdScope, ScopeRule } from './routes/spec.js';

/** The parsed request parts the rule reads. */
interface ScopedInput {
  params: unknown;
  body: unknown;
}

const field = (o: unknown, ...path: string[]): unknown => {
  let v = o;
  for (const k of path) v = typeof v === 'object' && v !== null && Object.hasOwn(v, k) ? (v as Record<string, unknown>)[k] : undefined;
  return v;
};
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The reply a scoped caller gets for an object it may not see: the same as for a missing one (the handlers answer with it too). */
const NOT_FOUND: Record<PathIdScope, (id: string) => AegisError> = {
  artifactId: (id) => new AegisError('NOT_FOUND', `no artifact ${id}`, { field: 'artifactId' }),
  promotionId: (id) => new AegisError('NOT_FOUND', `no promotion ${id}`, { field: 'promotionId' }),
  model: (id) => new AegisError('NOT_FOUND', `no model ${id}`, { field: 'model' }),
  requestId: (id) => new AegisError('NOT_FOUND', `no quarantine request ${id}`, { field: 'requestId' }),
  runId: (id) => new AegisError('NOT_FOUND', `no drift run ${id}`, { field: 'runId' }),
  reportId: (id) => new AegisError('NOT_FOUND', `no drift report ${id}`, { field: 'reportId' }),
  suggestionId: (id) => new AegisError('NOT_FOUND', `no retrain suggestion ${id}`, { field: 'suggestionId' }),
};

/** The 404 for a missing object of a path id: a handler answers a missing object with exactly what the scope check answers a hidden one. */
export const notFound = (by: PathIdScope, id: string): AegisError => NOT_FOUND[by](id);

const DRIFT_KINDS = { runId: 'run', reportId: 'report', suggestionId: 'suggestion' } as const;

/** The model an id of a path parameter reaches, or undefined when there is none. */
async function modelOf(by: PathIdScope, id: string, c: Container): Promise<ModelRef | undefined> {
  if (by === 'model') return c.registry.modelRef({ model: id });
  if (by === 'artifactId') return c.registry.modelRef({ artifactId: id });
  if (by === 'runId' || by === 'reportId' || by === 'suggestionId') {
    const model = await c.drift.modelOf(DRIFT_KINDS[by], id);
    return model === undefined ? undefined : c.registry.modelRef({ model });
  }
  const artifactId = by === 'requestId' ? await c.quarantines.artifactOfRequest(id) : await c.promotions.artifactOf(id);
  return artifactId ? c.registry.modelRef({ artifactId }) : undefined;
}

/**
 * Refuses a scoped caller a route that reaches every model (403), before its input is read:
 * like the role check, it depends on the route alone.
 */
export function checkGlobalOnly(rule: ScopeRule, principal: Principal): void {
  if (rule === 'global-only' && principal.scope !== 'global') {
    throw new AegisError(
      'FORBIDDEN',
      `principal ${principal.id} has a scoped grant; this route reaches every model and needs a global one`,
    );
  }
}

/**
 * Refuses the request when it reaches a model outside the caller's scope: 404 as for a
 * missing object (path ids), 403 naming the field for a write naming a model (the same
 * whether that model exists).
 */
export async function checkScope(rule: ScopeRule, principal: Principal | undefined, input: ScopedInput, c: Container): Promise<void> {
  if (!principal || principal.scope === 'global' || typeof rule === 'string') return;
  const scope = principal.scope;
  if (rule.by !== 'body.modelName' && rule.by !== 'body.manifest.modelName') {
    // the use case reads the object within the caller's scope itself
    if ('read' in rule && rule.read === 'in-scope') return;
    const id = text(field(input.params, rule.by)) ?? '';
    const model = await modelOf(rule.by, id, c);
    if (!model || !inScope(scope, model)) throw NOT_FOUND[rule.by](id);
    return;
  }
  const path = rule.by === 'body.modelName' ? ['modelName'] : ['manifest', 'modelName'];
  const name = text(field(input.body, ...path)) ?? '';
  // an existing model keeps its team; a new one gets the team the request gives it
  const existing = await c.registry.modelRef({ model: name });
  const model = existing ?? { name, team: ('team' in rule && text(field(input.body, 'team'))) || null };
  if (!inScope(scope, model)) {
    const at = path.join('.');
    throw new AegisError('FORBIDDEN', `${at}: model ${name} is outside the scope of ${principal.id}`, { field: at });
  }
}

/** One page of a list, as the use cases answer it. */
export interface ListPage<T> {
  items: T[];
  nextCursor: string | null;
}

/** At most this many reads fill one page of a scoped caller's list (then a short page with a cursor: more may follow). */
export const MAX_SCOPED_READS = 20;

/**
 * One page of a list of per-model objects (`scope: 'filtered'` routes whose use case knows no
 * scope): a global caller gets the page as read. A scoped one gets only objects of its models: a
 * `model` the query names outside the scope is an empty page, exactly as a model with nothing
 * listed (no name leaks); without one, pages are read on until `limit` objects in scope are
 * collected — each read asks only for what is still missing, so the last read's cursor goes on
 * exactly after the objects it returned — or {@link MAX_SCOPED_READS} reads were made.
 */
export async function scopedPage<T extends { model: string }>(
  principal: Principal | undefined,
  c: Container,
  q: { model?: string | undefined; limit: number; cursor?: string | undefined },
  read: (limit: number, cursor: string | undefined) => Promise<ListPage<T>>,
): Promise<ListPage<T>> {
  if (!principal || principal.scope === 'global') return read(q.limit, q.cursor);
  const scope = principal.scope;
  const seen = new Map<string, boolean>();
  const visible = async (name: string) => {
    if (!seen.has(name)) {
      const ref = await c.registry.modelRef({ model: name });
      seen.set(name, ref !== undefined && inScope(scope, ref));
    }
    return seen.get(name)!;
  };
  if (q.model !== undefined) return (await visible(q.model)) ? read(q.limit, q.cursor) : { items: [], nextCursor: null };
  const items: T[] = [];
  let cursor = q.cursor;
  for (let reads = 0; reads < MAX_SCOPED_READS; reads++) {
    const page = await read(q.limit - items.length, cursor);
    for (const item of page.items) if (await visible(item.model)) items.push(item);
    cursor = page.nextCursor ?? undefined;
    if (cursor === undefined || items.length >= q.limit) break;
  }
  return { items, nextCursor: cursor ?? null };
}
