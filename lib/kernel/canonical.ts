import { createHash } from 'node:crypto';
import canonicalizeImpl from 'canonicalize';

const canonicalize = canonicalizeImpl as unknown as (v: unknown) => string | undefined;

/** RFC 8785 (JCS) canonical JSON: every hash and signature in Aegis is over these bytes. */
export function canonicalJson(value: unknown): string {
  const out = canonicalize(value);
  if (out === undefined) throw new TypeError('value has no canonical JSON form');
  return out;
}

export const canonicalBytes = (value: unknown): Buffer => Buffer.from(canonicalJson(value), 'utf8');

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** sha256 of the canonical form, hex. */
export const canonicalSha256 = (value: unknown): string => sha256Hex(canonicalBytes(value));

/**
 * Whether two JSON values (as parsed: objects, arrays, strings, finite numbers, booleans, null)
 * have the same canonical form, without serialising either: keys in any order, arrays in
 * order, a key whose value is `undefined` absent (as {@link canonicalJson} leaves it out).
 *
 * @example
 * jsonEqual({ a: 1, b: [2, { c: 3 }] }, { b: [2, { c: 3 }], a: 1 }); // true
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k) || x[k] === undefined) continue;
    if (!Object.hasOwn(y, k) || !jsonEqual(x[k], y[k])) return false;
    defined++;
  }
  for (const k in y) if (Object.hasOwn(y, k) && y[k] !== undefined) defined--;
  return defined === 0;
}
