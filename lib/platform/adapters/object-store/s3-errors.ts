/** How the S3 store reads S3's answers: which errors mean "not found" or "locked", and the Aegis errors it throws. */
import { AegisError, isAegisError } from '../../../kernel/errors.js';

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchVersion']);

/** 404s, and the 400 S3 answers for a version id that is not one of its own. */
export function isNotFound(e: unknown, versionId?: string): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (err?.name === 'NoSuchBucket') return false; // a deployment fault, not a missing object
  if (NOT_FOUND_NAMES.has(err?.name ?? '') || err?.$metadata?.httpStatusCode === 404) return true;
  return versionId !== undefined && err?.name === 'InvalidArgument';
}

export const errorName = (e: unknown): string | undefined => (e as { name?: string })?.name;

export const isAccessDenied = (e: unknown): boolean => errorName(e) === 'AccessDenied';

/** An SDK failure as an internal error naming the operation (an AegisError passes through). */
export function toAegis(e: unknown, what: string): AegisError {
  if (isAegisError(e)) return e;
  return new AegisError('INTERNAL', `S3 ${what} failed: ${errorName(e) ?? 'Error'}`, { cause: e });
}

export const locked = (key: string, until?: Date): AegisError =>
  new AegisError('RETENTION_LOCKED', until ? `${key} is under retention until ${until.toISOString()}` : `${key} is under object lock`, {
    field: 'key',
    ...(until && { details: { retainUntil: until.toISOString() } }),
  });

export const notFound = (key: string, versionId?: string): AegisError =>
  new AegisError('OBJECT_NOT_FOUND', versionId ? `no version ${versionId} of ${key}` : `no object ${key}`, { field: 'key' });

export const inEffect = (until: Date | undefined): until is Date => until !== undefined && until > new Date();
