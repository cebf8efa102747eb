import { AegisError } from '../../kernel/errors.js';
import { isTransactionConflict } from '../sql/errors.js';

/** SQLSTATEs of a database that is unreachable, restarting or out of connections (pg, PGlite, Aurora). */
const DB_UNAVAILABLE = /^(08...|57P0[123]|53300|53400)$/;
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);
const AWS_TRANSIENT = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'KMSInternalException',
  'DependencyTimeoutException',
  'TimeoutError',
]);
const DATA_API_UNAVAILABLE = new Set(['DatabaseResumingException', 'DatabaseUnavailableException', 'DatabaseNotFoundException']);

type Foreign = { code?: unknown; name?: unknown; message?: unknown; $fault?: unknown; $retryable?: unknown; cause?: unknown };

/**
 * A server-side fault a caller should retry, as a 503 with a retryable code; undefined for
 * anything else (a programming error stays a 500). Looks through `cause` chains, so an
 * adapter's wrapped error is recognised too. The message never carries the original text.
 */
export function retryableFault(e: unknown): AegisError | undefined {
  let x: unknown = e;
  for (let depth = 0; depth < 5 && x && typeof x === 'object'; depth++, x = (x as Foreign).cause) {
    if (x instanceof AegisError && x.status === 503) return x;
    const f = x as Foreign;
    const code = typeof f.code === 'string' ? f.code : undefined;
    const name = typeof f.name === 'string' ? f.name : undefined;
    if (code && DB_UNAVAILABLE.test(code))
      return new AegisError('DATABASE_UNAVAILABLE', 'the database is unavailable; retry shortly', { cause: e });
    if (isTransactionConflict(x))
      return new AegisError('TRANSACTION_CONFLICT', 'a concurrent change conflicted with this request; retry it', { cause: e });
    if (name && DATA_API_UNAVAILABLE.has(name))
      return new AegisError('DATABASE_UNAVAILABLE', 'the database is unavailable (resuming or restarting); retry shortly', { cause: e });
    if (code && NETWORK.has(code))
      return new AegisError('DEPENDENCY_UNAVAILABLE', 'a service this request needs is unreachable; retry shortly', { cause: e });
    if (f.$fault === 'server' || f.$retryable || (name && AWS_TRANSIENT.has(name)))
      return new AegisError('DEPENDENCY_UNAVAILABLE', 'a service this request needs failed or is throttling; retry shortly', { cause: e });
    if (
      typeof f.message === 'string' &&
      /^(Connection terminated|terminating connection|Client has encountered a connection error)/.test(f.message)
    ) {
      return new AegisError('DATABASE_UNAVAILABLE', 'the database connection was lost; retry shortly', { cause: e });
    }
  }
  return undefined;
}
