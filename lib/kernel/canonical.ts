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
