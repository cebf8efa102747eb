import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * A synthesized CloudFormation template, as far as the AWS-mode emulators read it. Property
 * values are whatever CDK wrote: literals or intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Join`,
 * `Fn::Sub`, ...), walked with the helpers below.
 */
export interface CfnResource {
  Type: string;
  Properties?: any;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string; Export?: unknown }>;
  Parameters?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
}

/** Reads a `*.template.json` from a cloud assembly. */
export function loadTemplate(file: string): CfnTemplate {
  const t = JSON.parse(readFileSync(file, 'utf8')) as CfnTemplate;
  if (!t || typeof t !== 'object' || !t.Resources || typeof t.Resources !== 'object')
    throw new Error(`${file} is not a CloudFormation template (no Resources)`);
  return t;
}

/** `[logicalId, resource]` of every resource of that type, in template order. */
export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

/** The resource, or a clear error naming what was expected. */
export function resourceOf(template: CfnTemplate, logicalId: string, type?: string): CfnResource {
  const r = template.Resources[logicalId];
  if (!r) throw new Error(`the template has no resource ${logicalId}`);
  if (type && r.Type !== type) throw new Error(`${logicalId} is a ${r.Type}, not a ${type}`);
  return r;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{ Ref: X }` → `X` (pseudo parameters such as `AWS::Region` included); anything else → undefined. */
export function refTarget(value: unknown): string | undefined {
  return isObject(value) && Object.keys(value).length === 1 && typeof value.Ref === 'string' ? value.Ref : undefined;
}

/** `{ 'Fn::GetAtt': [X, Attr] }` or `{ 'Fn::GetAtt': 'X.Attr' }` → `[X, Attr]`; anything else → undefined. */
export function getAttOf(value: unknown): [logicalId: string, attribute: string] | undefined {
  if (!isObject(value) || Object.keys(value).length !== 1 || !('Fn::GetAtt' in value)) return undefined;
  const g = value['Fn::GetAtt'];
  if (Array.isArray(g) && typeof g[0] === 'string' && typeof g[1] === 'string') return [g[0], g[1]];
  if (typeof g === 'string' && g.includes('.')) {
    const i = g.indexOf('.');
    return [g.slice(0, i), g.slice(i + 1)];
  }
  return undefined;
}

/** A value written as an intrinsic function (`Ref` or `Fn::*`). */
export function isIntrinsic(value: unknown): boolean {
  return (
    isObject(value) && Object.keys(value).length === 1 && (Object.keys(value)[0] === 'Ref' || Object.keys(value)[0]!.startsWith('Fn::'))
  );
}

export interface IntrinsicReference {
  kind: 'Ref' | 'GetAtt';
  logicalId: string;
  attribute?: string;
}

/**
 * Every `Ref` and `Fn::GetAtt` inside a value, in order, walking `Fn::Join`, `Fn::Sub` (its
 * `${X}` / `${X.Attr}` placeholders, minus the variables its map defines and `${!literal}`),
 * `Fn::Select`, `Fn::If` and plain arrays/objects.
 */
export function referencesIn(value: unknown): IntrinsicReference[] {
  const out: IntrinsicReference[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(walk);
      return;
    }
    if (!isObject(v)) return;
    const ref = refTarget(v);
    if (ref !== undefined) {
      out.push({ kind: 'Ref', logicalId: ref });
      return;
    }
    const att = getAttOf(v);
    if (att) {
      out.push({ kind: 'GetAtt', logicalId: att[0], attribute: att[1] });
      return;
    }
    if ('Fn::Sub' in v && Object.keys(v).length === 1) {
      const sub = v['Fn::Sub'];
      const [text, vars] =
        typeof sub === 'string' ? [sub, {}] : Array.isArray(sub) ? [String(sub[0]), (sub[1] ?? {}) as Record<string, unknown>] : ['', {}];
      for (const m of text.matchAll(/\$\{([^}!][^}]*)\}/g)) {
        const name = m[1]!.trim();
        if (name in vars) walk(vars[name]);
        else if (name.includes('.') && !name.startsWith('AWS::'))
          out.push({ kind: 'GetAtt', logicalId: name.slice(0, name.indexOf('.')), attribute: name.slice(name.indexOf('.') + 1) });
        else out.push({ kind: 'Ref', logicalId: name });
      }
      return;
    }
    for (const child of Object.values(v)) walk(child);
  };
  walk(value);
  return out;
}

/**
 * The logical id the first `Fn::GetAtt` inside `value` names (optionally only for that
 * attribute), walking `Fn::Join` / `Fn::Sub` as {@link referencesIn} does. E.g. the function
 * behind an API Gateway integration Uri: `findGetAttTarget(method.Properties.Integration.Uri, 'Arn')`.
 */
export function findGetAttTarget(value: unknown, attribute?: string): string | undefined {
  return referencesIn(value).find((r) => r.kind === 'GetAtt' && (attribute === undefined || r.attribute === attribute))?.logicalId;
}

/** The logical id of the first `Ref` (pseudo parameters excluded) inside `value`. */
export function findRefTarget(value: unknown): string | undefined {
  return referencesIn(value).find((r) => r.kind === 'Ref' && !r.logicalId.startsWith('AWS::'))?.logicalId;
}

/**
 * A deterministic stand-in for the random suffix CloudFormation appends to the physical names
 * it generates (`<LogicalId>-<12 chars>`): the same logical id always gives the same name, so
 * a resolver and an emulator computing it separately agree.
 */
export function generatedPhysicalName(logicalId: string, maxLength = 80): string {
  const suffix = createHash('sha256')
    .update(logicalId)
    .digest('base64url')
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 12)
    .toUpperCase();
  return `${logicalId.slice(0, maxLength - 13)}-${suffix}`;
}

/** A short lowercase id derived from a string (API ids, resource ids), stable across runs. */
export function shortId(seed: string, length = 10): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = createHash('sha256').update(seed).digest();
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[bytes[i]! % alphabet.length];
  return s;
}
