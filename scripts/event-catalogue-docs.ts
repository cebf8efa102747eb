/**
 * The README's event catalogue, rendered from `EVENT_CATALOGUE` (lib/modules/catalogue.ts): the
 * envelope every event has, then each type's payload fields read off its zod schema, grouped
 * by area (the prefix before the first dot) in the order of `AUDIT_EVENT_TYPES`. One line per
 * field, nested fields indented under their object, so a changed schema is a one-line diff.
 * `scripts/event-catalogue.ts` writes it between the README's markers; a unit test compares.
 */
import * as z from 'zod';
import { AUDIT_EVENT_TYPES } from '../lib/kernel/audit-chain.js';
import { Iso, Sha, type EventCatalogue, type EventSpec } from '../lib/platform/audit/catalogue.js';

export const START_MARKER = '<!-- event-catalogue:start -->';
export const END_MARKER = '<!-- event-catalogue:end -->';

/** One payload field as documented: its type in words, and the fields inside it (objects, arrays of objects, maps). */
export interface FieldDoc {
  name: string;
  type: string;
  optional: boolean;
  description?: string;
  children: FieldDoc[];
}

/** Called for a schema kind the renderer does not know (it renders as its `def.type`, in backticks). */
export type UnknownKind = (kind: string, path: string) => void;

type Schema = z.core.$ZodType;
type Def = z.core.$ZodTypes['_zod']['def'];
interface Shape {
  type: string;
  children: FieldDoc[];
}

const defOf = (s: Schema): Def => (s as z.core.$ZodTypes)._zod.def;
const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
const checksOf = (s: Schema) => (defOf(s).checks ?? []).map((c) => c._zod.def);
const ISO_CHECK = defOf(Iso).checks?.[0];
const SHA_PATTERN = (checksOf(Sha)[0] as z.core.$ZodCheckRegexDef | undefined)?.pattern.source;

/**
 * The field as a reader of the JSON payload sees it: wrappers (optional, nullable, default,
 * readonly, lazy, pipes) peeled off, what they say kept. A pipe documents its input side (what
 * is stored), unless that side is a transform (a preprocess): then its output.
 */
function unwrap(schema: Schema) {
  let s = schema;
  let optional = false;
  let nullable = false;
  let fallback: { value: unknown } | undefined;
  let description: string | undefined;
  for (;;) {
    description ??= z.globalRegistry.get(s)?.description;
    const def = defOf(s);
    if (def.type === 'optional') optional = true;
    else if (def.type === 'nonoptional') optional = false;
    else if (def.type === 'nullable') nullable = true;
    else if (def.type === 'default' || def.type === 'prefault') {
      optional = true;
      fallback ??= { value: def.defaultValue };
    } else if (def.type === 'catch') optional = true;
    else if (def.type === 'readonly') {
      // no change for a reader of JSON
    } else if (def.type === 'lazy') {
      s = def.getter();
      continue;
    } else if (def.type === 'pipe') {
      s = defOf(def.in).type === 'transform' ? def.out : def.in;
      continue;
    } else break;
    s = def.innerType;
  }
  return { core: s, optional, nullable, fallback, description };
}

/** A field: its name, and its schema's shape in words. */
export function fieldDoc(name: string, schema: Schema, onUnknown: UnknownKind, path = name): FieldDoc {
  const u = unwrap(schema);
  const shape = shapeOf(u.core, onUnknown, path);
  const type = `${shape.type}${u.nullable ? ' or null' : ''}${u.fallback ? `, default ${code(u.fallback.value)}` : ''}`;
  return { name, type, optional: u.optional, ...(u.description ? { description: u.description } : {}), children: shape.children };
}

function shapeOf(s: Schema, onUnknown: UnknownKind, path: string): Shape {
  const def = defOf(s);
  switch (def.type) {
    case 'string':
      return { type: stringType(s), children: [] };
    case 'number':
      return { type: numberType(s), children: [] };
    case 'boolean':
    case 'null':
      return { type: def.type, children: [] };
    case 'unknown':
    case 'any':
      return { type: 'any JSON value', children: [] };
    case 'enum':
      return { type: `one of ${Object.values(def.entries).map(code).join(', ')}`, children: [] };
    case 'literal':
      return {
        type: def.values.length === 1 ? `always ${code(def.values[0])}` : `one of ${def.values.map(code).join(', ')}`,
        children: [],
      };
    case 'object':
      return objectShape(def, onUnknown, path);
    case 'array': {
      const element = fieldDoc('', def.element, onUnknown, `${path}[]`);
      const sizes = checksOf(s).flatMap((c) =>
        c.check === 'min_length'
          ? [`at least ${(c as z.core.$ZodCheckMinLengthDef).minimum}`]
          : c.check === 'max_length'
            ? [`at most ${(c as z.core.$ZodCheckMaxLengthDef).maximum}`]
            : [],
      );
      const of = element.type === 'object' ? 'objects' : element.type;
      return { type: `array of ${of}${sizes.length ? ` (${sizes.join(', ')})` : ''}`, children: element.children };
    }
    case 'record': {
      const key = fieldDoc('', def.keyType, onUnknown, `${path}{key}`).type;
      const value = fieldDoc('', def.valueType, onUnknown, `${path}{}`);
      return { type: `map of ${key} to ${value.type}`, children: value.children };
    }
    case 'union':
      return unionShape(def, onUnknown, path);
    case 'intersection': {
      const parts = [def.left, def.right].map((p) => fieldDoc('', p, onUnknown, path));
      return { type: parts.map((p) => p.type).join(' and '), children: parts.flatMap((p) => p.children) };
    }
    case 'tuple': {
      const items = def.items.map((item, i) => fieldDoc('', item, onUnknown, `${path}[${i}]`).type);
      return { type: `tuple [${items.join(', ')}]`, children: [] };
    }
    default:
      onUnknown(def.type, path);
      return { type: code(def.type), children: [] };
  }
}

function objectShape(def: z.core.$ZodObjectDef, onUnknown: UnknownKind, path: string): Shape {
  const children = Object.entries(def.shape).map(([k, v]) => fieldDoc(k, v, onUnknown, path ? `${path}.${k}` : k));
  const rest = def.catchall ? defOf(def.catchall).type : 'never';
  if (rest === 'never') return { type: 'object', children };
  if (rest === 'unknown' || rest === 'any') return { type: 'object (may carry further fields)', children };
  return { type: `object (further fields: ${fieldDoc('', def.catchall!, onUnknown, `${path}.*`).type})`, children };
}

/** Objects (a discriminated union, typically) list each option's fields; anything else reads `A or B`. */
function unionShape(def: z.core.$ZodUnionDef, onUnknown: UnknownKind, path: string): Shape {
  const options = def.options.map((o, i) => ({ doc: fieldDoc(`option ${i + 1}`, o, onUnknown, `${path}|${i + 1}`), core: unwrap(o).core }));
  if (!options.every((o) => defOf(o.core).type === 'object')) return { type: options.map((o) => o.doc.type).join(' or '), children: [] };
  const by = (def as z.core.$ZodDiscriminatedUnionDef).discriminator;
  const children = options.map(({ doc, core }) => {
    const tag = by ? (defOf(core) as z.core.$ZodObjectDef).shape[by] : undefined;
    const value = tag && defOf(tag).type === 'literal' ? (defOf(tag) as z.core.$ZodLiteralDef<z.core.util.Literal>).values[0] : undefined;
    return value === undefined ? doc : { ...doc, name: `${by} = ${JSON.stringify(value)}` };
  });
  return { type: by ? `one of the objects below, told apart by ${code(by)}` : 'one of the objects below', children };
}

function stringType(s: Schema): string {
  const def = defOf(s) as z.core.$ZodStringDef & { format?: string };
  const formats = [
    def.format,
    ...checksOf(s).map((c) => (c.check === 'string_format' ? (c as z.core.$ZodCheckStringFormatDef).format : undefined)),
  ];
  if (def.checks?.some((c) => c === ISO_CHECK) || formats.some((f) => f === 'datetime' || f === 'date')) return 'ISO time';
  const regex = checksOf(s).find((c) => c.check === 'string_format' && (c as z.core.$ZodCheckStringFormatDef).format === 'regex');
  const pattern = (regex as z.core.$ZodCheckRegexDef | undefined)?.pattern.source;
  if (pattern !== undefined) return pattern === SHA_PATTERN ? 'sha256 (hex)' : `string matching ${code(pattern)}`;
  const format = formats.find((f) => f !== undefined && f !== 'regex');
  return format ? `string (${format})` : 'string';
}

function numberType(s: Schema): string {
  const checks = checksOf(s);
  const formats = [(defOf(s) as { format?: string }).format, ...checks.map((c) => (c as Partial<z.core.$ZodCheckNumberFormatDef>).format)];
  const integer = formats.some((f) => f !== undefined && /int/.test(f));
  const bounds = checks.flatMap((c) => {
    if (c.check === 'greater_than')
      return [`${(c as z.core.$ZodCheckGreaterThanDef).inclusive ? '≥' : '>'} ${String((c as z.core.$ZodCheckGreaterThanDef).value)}`];
    if (c.check === 'less_than')
      return [`${(c as z.core.$ZodCheckLessThanDef).inclusive ? '≤' : '<'} ${String((c as z.core.$ZodCheckLessThanDef).value)}`];
    return [];
  });
  return `${integer ? 'integer' : 'number'}${bounds.length ? ` ${bounds.join(', ')}` : ''}`;
}

const PREAMBLE = `Generated from the event catalogue (\`lib/modules/catalogue.ts\`) by \`npm run docs:events\`: do not edit
between the markers by hand (\`npm run docs:events -- --check\` and a unit test fail when this block is stale).

Every event, whatever its type, is one JSON object with the same envelope:

- \`seq\`: integer, its position in the chain (1, 2, 3, … without gaps)
- \`eventId\`: UUID
- \`type\`: one of the types below
- \`actor\`: who caused it: a principal, or a job (\`rollout\`, \`drift\`, \`system\`)
- \`subject\`: what it is about, \`<kind>:<id>\` (\`artifact:<artifactId>\`, \`promotion:<promotionId>\`,
  \`key:<kid>\`, \`principal:<name>\`, \`model:<name>\`, \`route:<model>/<env>\`, \`dataset:<id>@<version>\`, …)
- \`payload\`: an object whose fields depend on \`type\` (below); it carries exactly the fields its schema names
- \`ts\`: ISO time (UTC, milliseconds) of the append
- \`prevHash\`: the \`hash\` of event \`seq − 1\` (64 zeros for the first event)
- \`hash\`: \`sha256(JCS(event without hash and signature))\` in lowercase hex, where JCS is RFC 8785 canonical
  JSON in UTF-8: it covers the other nine fields, \`payload\` and \`signerId\` included
- \`signature\`: base64 signature by the audit key \`signerId\` over the bytes of the statement
  \`JCS({ type: 'aegis.audit-event/v1', seq, hash })\`, i.e. exactly \`{"hash":"<hash>","seq":<seq>,"type":"aegis.audit-event/v1"}\`
  in UTF-8: Ed25519 (64 bytes) with the key ring's production keys (ECDSA P-256 SHA-256, DER, only with test keys
  against a KMS emulator); the statement binds the payload through \`hash\`
- \`signerId\`: the \`kid\` of the audit key in the key ring (\`GET /v1/keys\`), valid at \`ts\`

Payload fields below: \`(optional)\` may be absent (often: events written before the field was added); a field
nested under an object or an array of objects is required within it unless marked. "Rebuild" says whether
\`aegis rebuild-index\` restores state from the event, or why not.`;

function fieldLines(fields: readonly FieldDoc[], depth: number): string[] {
  return fields.flatMap((f) => [
    `${'  '.repeat(depth)}- ${code(f.name)}${f.optional ? ' (optional)' : ''}: ${f.type}${f.description ? ` — ${f.description}` : ''}`,
    ...fieldLines(f.children, depth + 1),
  ]);
}

const restoreText = (spec: EventSpec) =>
  'restoredBy' in spec.restore ? `restored by ${spec.restore.restoredBy}` : `not restored (${spec.restore.notRestored})`;

/** One event type: its name, what rebuild-index does with it, its payload's fields. */
export function renderEvent(type: string, spec: EventSpec, onUnknown: UnknownKind): string {
  const payload = fieldDoc('', spec.schema, onUnknown, type);
  const fields = payload.type.startsWith('object') ? payload.children : [{ ...payload, name: '(payload)' }];
  return [
    `**${code(type)}** — rebuild: ${restoreText(spec)}`,
    ...(payload.description ? ['', payload.description] : []),
    '',
    ...(fields.length ? fieldLines(fields, 0) : ['- (no fields)']),
  ].join('\n');
}

/** The catalogue's types by area (the prefix before the first dot), areas and types in `AUDIT_EVENT_TYPES` order, then any it does not list by name. */
export function groupByArea(types: readonly string[]): [string, string[]][] {
  const rank = (t: string) => {
    const i = (AUDIT_EVENT_TYPES as readonly string[]).indexOf(t);
    return i < 0 ? AUDIT_EVENT_TYPES.length : i;
  };
  const sorted = [...types].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const areas = new Map<string, string[]>();
  for (const t of sorted) {
    const area = t.split('.')[0]!;
    areas.set(area, [...(areas.get(area) ?? []), t]);
  }
  return [...areas];
}

/** The block between the README's markers (markers excluded). */
export function renderCatalogue(catalogue: EventCatalogue, onUnknown: UnknownKind = () => {}): string {
  const sections = groupByArea(Object.keys(catalogue)).map(([area, types]) =>
    [`#### ${area}`, ...types.map((t) => renderEvent(t, catalogue[t]!, onUnknown))].join('\n\n'),
  );
  return ['', PREAMBLE, ...sections, ''].join('\n\n').replace(/^\n/, '');
}

/** The README with its catalogue block replaced; throws unless each marker is there once, start before end. */
export function replaceBlock(readme: string, block: string): string {
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  const once = (m: string, at: number) => at >= 0 && readme.indexOf(m, at + 1) < 0;
  if (!once(START_MARKER, start) || !once(END_MARKER, end) || end < start)
    throw new Error(`expected one ${START_MARKER} and, after it, one ${END_MARKER}`);
  return `${readme.slice(0, start + START_MARKER.length)}\n${block}${readme.slice(end)}`;
}
