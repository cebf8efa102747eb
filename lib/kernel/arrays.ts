/**
 * Appends every item to `target` and returns it. Use it instead of `target.push(...items)`
 * whenever `items` can grow with external input: a spread passes each item as an argument,
 * and above ~100k arguments V8 throws "Maximum call stack size exceeded".
 */
export function appendAll<T>(target: T[], items: Iterable<T>): T[] {
  for (const item of items) target.push(item);
  return target;
}
