/**
 * The one scope check: before a use case runs, the model its request reaches (by the route's
 * {@link ScopeRule}) must be within the caller's scope. A global caller is never refused
 * here (today's behaviour); a scoped one sees objects outside its scope exactly as missing
 * ones, so names do not leak.
 */
import { AegisError } from '../../kernel/errors.js';
import { inScope, type ModelRef, type Principal } from '../../kernel/identity.js';
import type { Container } from '../composition/container.js';
import type { ScopeRule } from './routes/spec.js';

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

/** The reply a scoped caller gets for an object it may not see: the same as for a missing one. */
type ById = 'artifactId' | 'promotionId' | 'model' | 'requestId';
const NOT_FOUND: Record<ById, (id: string) => AegisError> = {
  artifactId: (id) => new AegisError('NOT_FOUND', `no artifact ${id}`, { field: 'artifactId' }),
  promotionId: (id) => new AegisError('NOT_FOUND', `no promotion ${id}`, { field: 'promotionId' }),
  model: (id) => new AegisError('NOT_FOUND', `no model ${id}`, { field: 'model' }),
  requestId: (id) => new AegisError('NOT_FOUND', `no quarantine request ${id}`, { field: 'requestId' }),
};

/** The model an id of a path parameter reaches, or undefined when there is none. */
async function modelOf(by: ById, id: string, c: Container): Promise<ModelRef | undefined> {
  if (by === 'model') return c.registry.modelRef({ model: id });
  if (by === 'artifactId') return c.registry.modelRef({ artifactId: id });
  if (by === 'requestId') {
    const artifactId = await c.quarantines.artifactOfRequest(id);
    return artifactId ? c.registry.modelRef({ artifactId }) : undefined;
  }
  const artifactId = await c.promotions.artifactOf(id);
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
  if (rule.by === 'artifactId' || rule.by === 'promotionId' || rule.by === 'model' || rule.by === 'requestId') {
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
