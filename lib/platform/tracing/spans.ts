/**
 * Spans at the ports, through the OpenTelemetry API only: with no tracer provider registered
 * (OTLP endpoint unset, and always in Lambda) every call here is the API's no-op, so the
 * ports cost nothing untraced. Auto-instrumentation is not used: it patches nothing under
 * ESM/tsx or in esbuild bundles, so the spans are made where Aegis crosses a port.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

export const TRACER_NAME = 'aegis';

/** The span attributes Aegis sets (OpenTelemetry's dotted lower-case names, under `aegis.`). */
export const ATTR = {
  artifactId: 'aegis.artifact_id',
  promotionId: 'aegis.promotion_id',
  model: 'aegis.model',
  port: 'aegis.port',
  role: 'aegis.principal_role',
  /** SQL statements the request ran (BEGIN and COMMIT not counted) */
  statements: 'aegis.db.statements',
} as const;

/** Who else hears about the ids a span carries (the Lambda path's X-Ray annotations). */
type Annotator = (attributes: Attributes) => void;
const annotators: Annotator[] = [];

/** Adds an annotator (the Lambda container's X-Ray tracer); returns its removal. */
export function addAnnotator(a: Annotator): () => void {
  annotators.push(a);
  return () => void annotators.splice(annotators.indexOf(a), 1);
}

/** Runs a request inside the backend's own trace unit (the Lambda path's X-Ray subsegment, which annotations need). */
export type RequestScope = <T>(name: string, fn: () => Promise<T>) => Promise<T>;
let requestScope: RequestScope | undefined;

/** Sets (or, undefined, removes) the {@link RequestScope} every request span runs in. */
export function setRequestScope(scope: RequestScope | undefined): void {
  requestScope = scope;
}

/** `fn` as a request: a SERVER span (the root of the request's trace locally), inside the request scope when one is set. */
export function withRequestSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  const run = () => withSpan(name, attributes, fn, SpanKind.SERVER);
  return requestScope ? requestScope(name, run) : run();
}

/** Sets the attributes on the active span and hands them to the annotators. */
export function annotate(attributes: Attributes): void {
  if (Object.keys(attributes).length === 0) return;
  trace.getActiveSpan()?.setAttributes(attributes);
  for (const a of annotators) a(attributes);
}

/**
 * Runs `fn` in a new active span (a child of the active one), ends it when `fn` settles, and
 * marks it failed with the exception when `fn` throws.
 *
 * @example
 * await withSpan('object-store.put', { 'aegis.port': 'object-store' }, () => store.put(key, body));
 */
export function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind?: SpanKind): Promise<T> {
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes, ...(kind !== undefined && { kind }) }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.recordException(e instanceof Error ? e : String(e));
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      throw e;
    } finally {
      span.end();
    }
  });
}

const ID_FIELDS: [string, string][] = [
  ['artifactId', ATTR.artifactId],
  ['promotionId', ATTR.promotionId],
  ['modelName', ATTR.model],
  ['model', ATTR.model],
];

/**
 * The ids an object names at its top level (or in its `manifest`, `artifact` or `promotion`),
 * as span attributes: `artifactId`, `promotionId`, `modelName`/`model`. Strings only, never a token.
 */
export function idAttributes(...sources: unknown[]): Attributes {
  const out: Attributes = {};
  for (const source of sources) {
    if (typeof source !== 'object' || source === null) continue;
    const o = source as Record<string, unknown>;
    for (const nested of [o, o.manifest, o.artifact, o.promotion]) {
      if (typeof nested !== 'object' || nested === null) continue;
      for (const [field, attr] of ID_FIELDS) {
        const v = (nested as Record<string, unknown>)[field];
        if (typeof v === 'string' && v.length > 0 && v.length <= 200 && out[attr] === undefined) out[attr] = v;
      }
    }
  }
  return out;
}
