/** The shape check for values that did not come through the strict parser (`json.ts`): iterative, like it. */
import type { JsonPath } from './json.js';

export type JsonShape = { ok: true } | { ok: false; problem: 'too-deep' | 'not-json'; path: JsonPath };

/**
 * Is `value` plain JSON (strings, finite numbers, booleans, null, arrays, plain objects) nested
 * at most `maxDepth` containers deep? Iterative, for values that did not come through
 * `parseJsonStrict` (json.ts).
 */
export function checkJsonValue(value: unknown, maxDepth: number): JsonShape {
  type Item = { v: unknown; depth: number; key: string | number | undefined; parent: Item | undefined };
  const pathOf = (item: Item): JsonPath => {
    const out: JsonPath = [];
    for (let x: Item | undefined = item; x && x.key !== undefined; x = x.parent) out.push(x.key);
    return out.reverse();
  };
  const todo: Item[] = [{ v: value, depth: 0, key: undefined, parent: undefined }];
  while (todo.length) {
    const item = todo.pop()!;
    const v = item.v;
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { ok: false, problem: 'not-json', path: pathOf(item) };
      continue;
    }
    if (typeof v !== 'object') return { ok: false, problem: 'not-json', path: pathOf(item) };
    const depth = item.depth + 1;
    if (depth > maxDepth) return { ok: false, problem: 'too-deep', path: pathOf(item) };
    if (Array.isArray(v)) {
      for (let k = v.length - 1; k >= 0; k--) todo.push({ v: v[k], depth, key: k, parent: item });
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return { ok: false, problem: 'not-json', path: pathOf(item) };
    const keys = Object.keys(v);
    for (let k = keys.length - 1; k >= 0; k--)
      todo.push({ v: (v as Record<string, unknown>)[keys[k]!], depth, key: keys[k]!, parent: item });
  }
  return { ok: true };
}
