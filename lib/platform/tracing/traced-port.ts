import type { Attributes } from '@opentelemetry/api';
import { ATTR, withSpan } from './spans.js';

/** A port's span attributes from the method called and its arguments (ids, never secrets or payloads). */
export type PortAttributes = (method: string, args: unknown[]) => Attributes;

export interface PortTracing {
  /** the port's name: its spans are `<name>.<method>` and carry `aegis.port` = name */
  name: string;
  /** the methods (each returning a promise) that get a span */
  methods: readonly string[];
  attributes?: PortAttributes;
  /** the span's name instead of `<name>.<method>` */
  spanName?: (method: string) => string;
}

/**
 * The port with each of `methods` (promise-returning) run in a span `<port>.<method>`; every
 * other member is the port's own, bound to it (adapters keep `#private` state). The proxy is
 * the port to its callers: an adapter's extra methods (a local runner's `settled`) still work.
 *
 * @example
 * const store = tracePort(fsStore, { name: 'object-store', methods: ['put', 'get', 'head'] });
 */
export function tracePort<T extends object>(port: T, { name, methods, attributes, spanName }: PortTracing): T {
  const traced = new Set(methods);
  return new Proxy(port, {
    get(target, prop) {
      if (typeof prop !== 'string' || !traced.has(prop)) return bound(target, prop);
      const fn = Reflect.get(target, prop, target) as unknown;
      // an optional method the adapter lacks stays absent: callers test for it (`provider.describeKey?`)
      if (typeof fn !== 'function') return fn;
      return (...args: unknown[]) =>
        withSpan(spanName?.(prop) ?? `${name}.${prop}`, { [ATTR.port]: name, ...attributes?.(prop, args) }, async () =>
          fn.apply(target, args),
        );
    },
  });
}

/** A member of `target`, a method bound to it (adapters keep `#private` state, which a proxy as `this` cannot reach). */
export function bound(target: object, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

/** `fn` run in a span `name` each call, with attributes from its arguments. */
export function traceFunction<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => Promise<R>,
  attributes?: (...args: A) => Attributes,
): (...args: A) => Promise<R> {
  return (...args: A) => withSpan(name, attributes?.(...args) ?? {}, () => fn(...args));
}
