import * as z from 'zod';
import { AuditLog } from '../../lib/platform/audit/log.js';
import { auditSigning } from '../../lib/modules/keys/service.js';
import type { Container } from '../../lib/platform/composition/container.js';

/**
 * An audit log as an older or buggy writer had it: it appends events of the given types with
 * any JSON-object payload, signed by the container's audit key. Today's writers cannot (the
 * event catalogue refuses what its schemas do not describe); readers must still cope with
 * what is already in chains and archives.
 */
export function legacyAuditLog(container: Pick<Container, 'keys' | 'clock'>, ...types: string[]): AuditLog {
  const anything = { schema: z.record(z.string(), z.unknown()), restore: { notRestored: 'test: an older writer' } };
  return new AuditLog(
    auditSigning(() => container.keys),
    container.clock,
    Object.fromEntries(types.map((t) => [t, anything])),
  );
}
