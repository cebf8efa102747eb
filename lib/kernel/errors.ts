/**
 * Domain errors. Every failure a caller can cause carries a stable `code` and, where one
 * field is at fault, its dotted `field` path. The HTTP layer maps codes to statuses with
 * {@link httpStatusFor}; only 4xx messages are ever shown to callers.
 */
export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_JSON: 400,
  /** the same key twice in one object: a signed or verified document must mean one thing */
  DUPLICATE_JSON_KEY: 400,
  /** nested deeper than LIMITS.jsonDepth */
  JSON_TOO_DEEP: 400,
  UNAUTHENTICATED: 401,
  /** a local bearer token past its expiry: an admin rotates it or creates a new one */
  TOKEN_EXPIRED: 401,
  FORBIDDEN: 403,
  /** a console request that changes state without its session's CSRF token */
  CSRF_TOKEN_INVALID: 403,
  /** a console sign-in link that is unknown, already used or expired */
  LOGIN_CODE_INVALID: 401,
  /** a body in a media type the endpoint does not take (the console's session endpoints take JSON only) */
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** a path with a broken percent-escape, or a request target that is not a path */
  INVALID_PATH_ENCODING: 400,
  /** a request line, header or body framing the HTTP parser cannot read */
  MALFORMED_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  EXPECTATION_FAILED: 417,
  HEADERS_TOO_LARGE: 431,
  CONFLICT: 409,
  /** a pending multisig promotion outlived AEGIS_PENDING_PROMOTION_TTL_SECONDS: request it again */
  PROMOTION_EXPIRED: 409,
  ARTIFACT_QUARANTINED: 409,
  /** a rollout step from a runner that does not hold the rollout's lease (another runner took it over) */
  LEASE_LOST: 409,
  ALREADY_REGISTERED_DIFFERENTLY: 409,
  SHA256_MISMATCH: 422,
  SIZE_MISMATCH: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  UPLOAD_NOT_FOUND: 404,
  UPLOAD_EXPIRED: 410,
  /** a multipart upload registered (completed) before all its parts were received: `field` partNumber names the first missing */
  MULTIPART_INCOMPLETE: 409,
  /** a download URL past its expiry: ask the API for a new one */
  DOWNLOAD_EXPIRED: 410,
  /** a Range starting at or past the end of the object */
  RANGE_NOT_SATISFIABLE: 416,
  SIGNATURE_INVALID: 422,
  DATASET_UNKNOWN: 422,
  /** a retrained artifact's manifest.parent.artifactId names no registered artifact */
  PARENT_UNKNOWN: 422,
  VERIFICATION_FAILED: 422,
  POLICY_DENIED: 403,
  APPROVAL_REFUSED: 422,
  DATASET_CHECKSUM_MISMATCH: 422,
  KEY_UNKNOWN: 422,
  RETENTION_LOCKED: 409,
  OBJECT_NOT_FOUND: 404,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
  /** a served model threw while predicting: counted as an error of the variant that served it */
  MODEL_ERROR: 500,
  /** a served model did not answer within AEGIS_SERVING_TIMEOUT_MS: counted as an error of its variant */
  PREDICTION_TIMEOUT: 504,
  // Serving refusals (503): the artifact routed to this environment is never served.
  /** the artifact failed verification at load (size, sha256, manifest signature, signer window, quarantine) */
  ARTIFACT_UNVERIFIED: 503,
  /** no model runtime accepts the artifact's files (pickles are never loaded) */
  UNSUPPORTED_FORMAT: 503,
  /** the artifact verified but could not be unpacked or loaded (a bad archive, a malformed model file) */
  ARTIFACT_UNLOADABLE: 503,
  // Server-side faults a caller should retry (503, `retryable: true`, Retry-After):
  /** the signing key exists but cannot sign now (key file unreadable, KMS key disabled, KMS down) */
  SIGNING_UNAVAILABLE: 503,
  /** no active key of a purpose: an operator must rotate one in */
  NO_ACTIVE_SIGNING_KEY: 503,
  /** the database is unreachable, restarting or out of connections */
  DATABASE_UNAVAILABLE: 503,
  /** a concurrent transaction conflicted (serialization failure, deadlock) */
  TRANSACTION_CONFLICT: 503,
  /** another service (S3, KMS, the network) failed or throttled */
  DEPENDENCY_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** Server-side failures whose code and (our own) message callers see, unlike other 5xx: a served model's failures. */
export const SHOWN_FAULTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['MODEL_ERROR', 'PREDICTION_TIMEOUT']);

export class AegisError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AegisError';
    this.code = code;
    if (opts.field !== undefined) this.field = opts.field;
    if (opts.details !== undefined) this.details = opts.details;
  }

  get status(): number {
    return ErrorCodes[this.code];
  }

  /** True when the message may be shown to the caller (4xx). */
  get expose(): boolean {
    return this.status < 500;
  }

  /** A server-side fault the caller should retry (503): shown with its code, never with internals. */
  get retryable(): boolean {
    return this.status === 503;
  }
}

export const httpStatusFor = (code: ErrorCode): number => ErrorCodes[code];

export const isAegisError = (e: unknown): e is AegisError => e instanceof AegisError;
