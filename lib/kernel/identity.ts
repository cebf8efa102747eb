/**
 * Who calls: the API roles, the principal a request runs as, and the scope its role applies
 * to. One definition, read by the route table, the token service, the configuration's role
 * map, the HTTP handler's scope check and the services.
 */
import * as z from 'zod';

/** The API roles, least to most privileged in spirit; `admin` may do everything. */
/**
 * `security` quarantines artifacts and reads the audit log; it never promotes or rolls back
 * (a quarantine's automatic rollbacks run as the quarantine, not as a promotion request of its own).
 * `reader` is for workers and model servers: the registry, dataset, lineage and key reads and
 * downloads; not the audit log, not tokens, no write.
 * `invoker` is for applications calling models: predictions (and label feedback), nothing else.
 */
export const ROLES = ['reader', 'publisher', 'promoter', 'approver', 'operator', 'auditor', 'security', 'admin', 'invoker'] as const;

export type Role = (typeof ROLES)[number];

/**
 * Which models a principal's role applies to: `global` (every model, and the routes that
 * reach no single model, such as the audit log), or the models whose name starts with one of
 * `prefixes` or whose team is one of `teams`.
 */
export type Scope = 'global' | ScopeGrant;

export interface ScopeGrant {
  prefixes: string[];
  teams: string[];
}

/** The caller a service acts for: a token's or an IAM principal's id, its role and the scope of that role. */
export interface Principal {
  id: string;
  /** `none`: authenticated but given no role (an unmapped IAM caller): refused on every route */
  role: Role | 'none';
  scope: Scope;
}

/** A model as a scope sees it: its name and its team label (null: none). */
export interface ModelRef {
  name: string;
  team: string | null;
}

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

/** True when `model` is within `scope`: a global scope holds every model; a grant, those its prefixes or teams name. */
export function inScope(scope: Scope, model: ModelRef): boolean {
  if (scope === 'global') return true;
  if (scope.prefixes.some((p) => model.name.startsWith(p))) return true;
  return model.team !== null && scope.teams.includes(model.team);
}

/** A team label on a model: `fraud`, `risk.core`, `ml-platform`. */
export const TeamName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 of a-z 0-9 . _ -, starting with a letter or digit');

/** A model-name prefix: the start of a model name (`fraud-`, `churn.`). */
export const ScopePrefix = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'must be the start of a model name: 1-128 of a-z 0-9 . _ -, starting with a letter or digit');

/** A scope grant as configured or sent: prefixes and/or teams, at least one of either. */
export const ScopeGrantSchema = z
  .object({
    prefixes: z.array(ScopePrefix).max(50, 'at most 50 prefixes').default([]),
    teams: z.array(TeamName).max(50, 'at most 50 teams').default([]),
  })
  .strict()
  .refine((g) => g.prefixes.length + g.teams.length > 0, 'a scope names at least one prefix or team (omit it for a global scope)');

/** A scope as stored (a token's `scope` column): canonical text of the grant, or null for global. */
export function scopeText(scope: Scope): string | null {
  if (scope === 'global') return null;
  return JSON.stringify({ prefixes: [...new Set(scope.prefixes)].sort(), teams: [...new Set(scope.teams)].sort() });
}

/** The scope a stored text stands for; text this release cannot read grants nothing (an empty grant). */
export function scopeFromText(text: string | null): Scope {
  if (text === null) return 'global';
  try {
    const r = ScopeGrantSchema.safeParse(JSON.parse(text));
    if (r.success) return r.data;
  } catch {
    // fall through: unreadable
  }
  return { prefixes: [], teams: [] };
}

/** A role together with the scope it applies to: what a token or a role-map entry grants. */
export interface RoleGrant {
  role: Role;
  scope: Scope;
}

/**
 * One entry of the AWS principal-to-role map (`AEGIS_IAM_ROLE_MAP`, `environments.json`
 * `roleMap`): a role name, global as before scopes existed, or a role scoped to model-name
 * prefixes and/or teams.
 *
 * @example
 * { "arn:aws:iam::123456789012:role/ci": "publisher",
 *   "arn:aws:iam::123456789012:role/fraud-ci": { "role": "publisher", "prefixes": ["fraud-"], "teams": ["fraud"] } }
 */
export type RoleMapEntry = Role | { role: Role; prefixes?: string[]; teams?: string[] };

const ScopedRoleEntry = z
  .object({
    role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
    prefixes: z.array(ScopePrefix).max(50, 'at most 50 prefixes').optional(),
    teams: z.array(TeamName).max(50, 'at most 50 teams').optional(),
  })
  .strict();

/** The grant a role-map entry stands for, or why it is refused (a message naming the field at fault). */
export function parseRoleMapEntry(value: unknown): { grant: RoleGrant } | { problem: string } {
  if (typeof value === 'string') {
    return isRole(value)
      ? { grant: { role: value, scope: 'global' } }
      : { problem: `${value} is not a role; roles are ${ROLES.join(', ')}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'must be a role name or an object { role, prefixes?, teams? }' };
  }
  const r = ScopedRoleEntry.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
    return { problem: issue.path.length ? `${issue.path.join('.')}: ${message}` : message };
  }
  const { role, prefixes = [], teams = [] } = r.data;
  if (prefixes.length + teams.length === 0) {
    return { problem: 'a scoped entry names at least one prefix or team (a role name alone is global)' };
  }
  return { grant: { role, scope: { prefixes, teams } } };
}

/** A role-map entry as a zod schema: parsed by {@link parseRoleMapEntry}, kept as written. */
export const RoleMapEntrySchema = z.custom<RoleMapEntry>().superRefine((v, ctx) => {
  const r = parseRoleMapEntry(v);
  if ('problem' in r) ctx.addIssue({ code: 'custom', message: r.problem });
});
