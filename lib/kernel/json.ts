/**
 * JSON for external and stored data without recursion: a strict parser (duplicate keys and
 * excessive nesting refused, with the path at fault) and a serialiser that cannot overflow
 * the stack whatever the data holds; the shape check for values that came in some other way
 * is `json-shape.ts`. Nothing here is proportional in stack depth to its input.
 */

export type JsonPath = (string | number)[];

export type JsonInputProblem = 'syntax' | 'duplicate-key' | 'too-deep';

/** Why a JSON text was refused, and where (object keys and array indices from the root). */
export class JsonInputError extends Error {
  override name = 'JsonInputError';
  constructor(
    readonly problem: JsonInputProblem,
    message: string,
    readonly path: JsonPath,
    readonly position: number,
  ) {
    super(message);
  }
}

const MAX_SEGMENT = 64;

/** `manifest.datasetRefs.0.checksum`, as validation errors name fields; long keys are shortened. */
export function formatJsonPath(path: JsonPath): string {
  return path.map((s) => (typeof s === 'string' && s.length > MAX_SEGMENT ? `${s.slice(0, MAX_SEGMENT)}…` : String(s))).join('.');
}

type Frame = { kind: 'array'; value: unknown[] } | { kind: 'object'; value: Record<string, unknown>; key: string };

/** A string's plain run: up to its closing quote, a backslash, or a control character (refused). */
// eslint-disable-next-line no-control-regex -- control characters are what ends a plain run
const PLAIN_RUN = /[^"\\\x00-\x1f]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Sets a key as JSON.parse does: an own data property, even for `__proto__`. */
function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
  else o[key] = value;
}

/**
 * Parses JSON text like `JSON.parse` (same values), but refuses a key that appears twice in
 * one object (`duplicate-key`: a signed document must mean one thing) and containers nested
 * deeper than `maxDepth` (`too-deep`), naming the path. Iterative: any nesting is safe to feed it.
 */
export function parseJsonStrict(text: string, opts: { maxDepth?: number } = {}): unknown {
  const maxDepth = opts.maxDepth ?? Number.POSITIVE_INFINITY;
  const n = text.length;
  let i = 0;
  const stack: Frame[] = [];
  const pathHere = (): JsonPath => stack.map((f) => (f.kind === 'array' ? f.value.length : f.key));
  const syntax = (what: string): never => {
    throw new JsonInputError('syntax', `invalid JSON at position ${i}: ${what}`, pathHere(), i);
  };
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const string = (): string => {
    // at the opening quote
    const start = i++;
    let escaped = false;
    for (;;) {
      // past the plain run in one native scan (a 4 MiB base64 string: 3 ms, 18 ms by charCodeAt)
      PLAIN_RUN.lastIndex = i;
      // it matches (maybe nothing) wherever i is within the text; past its end (a backslash last) it fails
      i = PLAIN_RUN.test(text) ? PLAIN_RUN.lastIndex : n;
      if (i >= n) syntax('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) syntax('control character in string');
      escaped = true; // a backslash: the character after it is taken whatever it is (JSON.parse checks the escape)
      i += 2;
    }
    i++;
    if (!escaped) return text.slice(start + 1, i - 1);
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      i = start;
      return syntax('invalid escape in string');
    }
  };
  const key = (frame: Frame & { kind: 'object' }) => {
    ws();
    if (text.charCodeAt(i) !== 0x22) syntax('expected a string key');
    const k = string();
    if (hasOwn(frame.value, k)) {
      const path = [...pathHere().slice(0, -1), k];
      throw new JsonInputError('duplicate-key', `duplicate key ${formatJsonPath(path)}`, path, i);
    }
    frame.key = k;
    ws();
    if (text.charCodeAt(i) !== 0x3a) syntax('expected ":"');
    i++;
  };
  const open = () => {
    if (stack.length + 1 > maxDepth) {
      throw new JsonInputError(
        'too-deep',
        `nested deeper than ${maxDepth} levels at ${formatJsonPath(pathHere()) || '(root)'}`,
        pathHere(),
        i,
      );
    }
  };

  let result: unknown;
  value: for (;;) {
    ws();
    let v: unknown;
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      open();
      i++;
      ws();
      if (text.charCodeAt(i) === 0x7d) {
        i++;
        v = {};
      } else {
        const frame: Frame & { kind: 'object' } = { kind: 'object', value: {}, key: '' };
        stack.push(frame);
        key(frame);
        continue value;
      }
    } else if (c === 0x5b) {
      open();
      i++;
      ws();
      if (text.charCodeAt(i) === 0x5d) {
        i++;
        v = [];
      } else {
        stack.push({ kind: 'array', value: [] });
        continue value;
      }
    } else if (c === 0x22) {
      v = string();
    } else if (text.startsWith('true', i)) {
      i += 4;
      v = true;
    } else if (text.startsWith('false', i)) {
      i += 5;
      v = false;
    } else if (text.startsWith('null', i)) {
      i += 4;
      v = null;
    } else {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) syntax(i >= n ? 'unexpected end' : `unexpected ${JSON.stringify(text[i])}`);
      i += m![0].length;
      v = Number(m![0]);
    }
    // a complete value: hand it to its container, closing every container it completes
    for (;;) {
      const top = stack[stack.length - 1];
      if (!top) {
        result = v;
        break value;
      }
      ws();
      const d = text.charCodeAt(i);
      if (top.kind === 'array') {
        top.value.push(v);
        if (d === 0x2c) {
          i++;
          continue value;
        }
        if (d !== 0x5d) syntax('expected "," or "]"');
      } else {
        setOwn(top.value, top.key, v);
        if (d === 0x2c) {
          i++;
          key(top);
          continue value;
        }
        if (d !== 0x7d) syntax('expected "," or "}"');
      }
      i++;
      stack.pop();
      v = top.value;
    }
  }
  ws();
  if (i !== n) syntax('unexpected data after the JSON value');
  return result;
}

function scalar(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(v.toString());
    case 'object':
      return 'null'; // only null reaches here
    default:
      return undefined; // undefined, functions, symbols: left out as JSON.stringify does
  }
}

const toJson = (v: unknown): unknown => {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    try {
      return (v as { toJSON(): unknown }).toJSON();
    } catch {
      return null;
    }
  }
  return v;
};

/**
 * `JSON.stringify(value)` for replies, without throwing: deep data serialises, a cycle becomes
 * null, a bigint a string. Stored data can never make a reply fail. The native serialiser first
 * (what nearly every reply is); only a value it refuses is walked without recursion.
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return stringifyWalking(value);
  }
}

/** {@link stringifyJson}'s walk: an explicit stack instead of recursion, cycles as null. */
function stringifyWalking(value: unknown): string {
  type Open =
    { kind: 'array'; v: unknown[]; i: number } | { kind: 'object'; v: Record<string, unknown>; keys: string[]; i: number; written: number };
  const out: string[] = [];
  const stack: Open[] = [];
  const ancestors = new Set<object>();
  const write = (raw: unknown) => {
    const v = toJson(raw);
    if (v === null || typeof v !== 'object') {
      out.push(scalar(v) ?? 'null');
      return;
    }
    if (ancestors.has(v)) {
      out.push('null');
      return;
    }
    ancestors.add(v);
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ kind: 'array', v, i: 0 });
    } else {
      out.push('{');
      stack.push({ kind: 'object', v: v as Record<string, unknown>, keys: Object.keys(v), i: 0, written: 0 });
    }
  };
  write(value);
  while (stack.length) {
    const f = stack[stack.length - 1]!;
    if (f.kind === 'array') {
      if (f.i >= f.v.length) {
        out.push(']');
        ancestors.delete(f.v);
        stack.pop();
        continue;
      }
      if (f.i > 0) out.push(',');
      write(f.v[f.i++]);
    } else {
      if (f.i >= f.keys.length) {
        out.push('}');
        ancestors.delete(f.v);
        stack.pop();
        continue;
      }
      const k = f.keys[f.i++]!;
      let item: unknown;
      try {
        item = toJson(f.v[k]);
      } catch {
        item = null;
      }
      if (item !== null && typeof item !== 'object' && scalar(item) === undefined) continue;
      if (f.written++ > 0) out.push(',');
      out.push(JSON.stringify(k), ':');
      write(item);
    }
  }
  return out.join('');
}
