/**
 * The local process's trace pipeline: when an OTLP endpoint is configured
 * (`OTEL_EXPORTER_OTLP_ENDPOINT`, or the seed's `OTEL_COLLECTOR_URL`), a tracer provider
 * batching spans to `<endpoint>/v1/traces` as OTLP/HTTP JSON, service name `aegis`, with an
 * AsyncLocalStorage context so a span's children are found across `await`. Not configured:
 * nothing is registered and the API stays the no-op. Lambda never loads this file (X-Ray
 * through Powertools Tracer there: `xray.ts`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, ROOT_CONTEXT, trace, type Context, type ContextManager } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

/** The active context across `await`, timers and callbacks (what @opentelemetry/context-async-hooks does, in a few lines). */
export class AsyncLocalContextManager implements ContextManager {
  readonly #als = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A) {
    return this.#als.run(ctx, () => fn.call(thisArg, ...args) as ReturnType<F>);
  }
  bind<T>(ctx: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (self: unknown, args: unknown[]) => this.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(self, args));
    return function (this: unknown, ...args: unknown[]) {
      return run(this, args);
    } as T;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#als.disable();
    return this;
  }
}

/** The OTLP/HTTP traces URL of a collector's base endpoint (`http://collector:4318` → `…/v1/traces`). */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

export interface Tracing {
  /** exports what is still batched, then unregisters the provider (the API is the no-op again) */
  shutdown(): Promise<void>;
}

/**
 * Registers the global tracer provider exporting to `endpoint`, or nothing when it is
 * undefined. One per process: the local server's start calls it, its stop shuts it down.
 */
export function startTracing(endpoint: string | undefined, opts: { scheduledDelayMillis?: number } = {}): Tracing {
  if (!endpoint) return { shutdown: async () => undefined };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'aegis' }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url: tracesUrl(endpoint) }),
        ...(opts.scheduledDelayMillis !== undefined && { scheduledDelayMillis: opts.scheduledDelayMillis }),
      }),
    ],
  });
  const contextManager = new AsyncLocalContextManager();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  return {
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
