import fc from 'fast-check';
import { JsonInputError, parseJsonStrict, stringifyJson } from '../../lib/kernel/json.js';
import { checkJsonValue } from '../../lib/kernel/json-shape.js';

const SEED = 20261130;
const refused = (text: string, opts: { maxDepth?: number } = {}) => {
  try {
    parseJsonStrict(text, opts);
  } catch (e) {
    if (e instanceof JsonInputError) return { problem: e.problem, path: e.path };
    throw e;
  }
  throw new Error(`accepted ${text.slice(0, 80)}`);
};

describe('parseJsonStrict', () => {
  it('gives exactly what JSON.parse gives for any JSON without duplicate keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (v, pretty) => {
        const text = pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v);
        expect(parseJsonStrict(text)).toEqual(JSON.parse(text));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('refuses what JSON.parse refuses', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        let ok = true;
        try {
          JSON.parse(text);
        } catch {
          ok = false;
        }
        if (ok) expect(parseJsonStrict(text)).toEqual(JSON.parse(text));
        else expect(() => parseJsonStrict(text)).toThrow(JsonInputError);
      }),
      { seed: SEED, numRuns: 2000 },
    );
    for (const bad of [
      '',
      ' ',
      '{',
      '[1,]',
      '{"a":1,}',
      '01',
      '"\u0001"',
      '"\\x"',
      'tru',
      '1 2',
      '\uFEFF{}',
      "{'a':1}",
      '[1]]',
      'NaN',
      '-',
    ]) {
      expect(refused(bad).problem).toBe('syntax');
    }
  });

  it('reads string literals as JSON.parse does: quotes, escapes, control characters, long plain runs', () => {
    const piece = fc.constantFrom('"', '\\', 'u', '0', 'a', 'n', '\n', '\u0001', '\u001f', ' ', 'é', '😀', 'A'.repeat(300));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), fc.boolean(), (pieces, inObject) => {
        const literal = `"${pieces.join('')}"`;
        const text = inObject ? `{"k":${literal},"n":1}` : literal;
        let expected: unknown;
        try {
          expected = JSON.parse(text);
        } catch {
          expect(() => parseJsonStrict(text)).toThrow(JsonInputError);
          return;
        }
        expect(parseJsonStrict(text)).toEqual(expected);
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // where a string goes wrong is named as before: the control character, the end of the text
    expect(() => parseJsonStrict('["ab\u0001c"]')).toThrow('invalid JSON at position 4: control character in string');
    expect(() => parseJsonStrict('["abc')).toThrow('invalid JSON at position 5: unterminated string');
    expect(() => parseJsonStrict('"ab\\')).toThrow('unterminated string');
  });

  it('keeps __proto__ as an own key, as JSON.parse does', () => {
    const v = parseJsonStrict('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a duplicate key anywhere, naming its path', () => {
    expect(refused('{"manifest":{"metrics":{"auc":0.10},"metrics":{"auc":0.91}}}')).toEqual({
      problem: 'duplicate-key',
      path: ['manifest', 'metrics'],
    });
    expect(refused('{"a":[{"x":1},{"x":1,"y":2,"x":3}]}')).toEqual({ problem: 'duplicate-key', path: ['a', 1, 'x'] });
    expect(refused('{"a":1,"a":1}')).toEqual({ problem: 'duplicate-key', path: ['a'] });
    // the same key in sibling objects is fine
    expect(parseJsonStrict('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('refuses nesting deeper than maxDepth without recursion, however deep', () => {
    expect(parseJsonStrict('[[[]]]', { maxDepth: 3 })).toEqual([[[]]]);
    expect(refused('[[[[]]]]', { maxDepth: 3 })).toEqual({ problem: 'too-deep', path: [0, 0, 0] });
    expect(refused(`{"schema":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`, { maxDepth: 64 })).toMatchObject({
      problem: 'too-deep',
      path: ['schema', ...Array(63).fill('a')],
    });
    // unbounded, a million levels still parse (no stack used per level)
    const deep = parseJsonStrict(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`);
    expect(Array.isArray(deep)).toBe(true);
  });
});

describe('stringifyJson', () => {
  it('gives exactly what JSON.stringify gives for JSON-like values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => expect(stringifyJson(v)).toBe(JSON.stringify(v))),
      { seed: SEED, numRuns: 500 },
    );
    const odd = { d: new Date(0), u: undefined, f: () => 1, arr: [undefined, NaN, Infinity, -0], n: null };
    expect(stringifyJson(odd)).toBe(JSON.stringify(odd));
  });

  it('never throws: deep data, cycles and bigints serialise', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = { a: deep };
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    const text = stringifyJson(deep);
    expect(text.startsWith('{"a":{"a":')).toBe(true);
    expect(text.length).toBe(200_000 * 6 + 1);
    const cyclic: Record<string, unknown> = { x: 1 };
    cyclic.self = cyclic;
    expect(stringifyJson(cyclic)).toBe('{"x":1,"self":null}');
    expect(stringifyJson({ big: 10n })).toBe('{"big":"10"}');
    const throwing = {
      ok: 1,
      bad: {
        toJSON: () => {
          throw new Error('no');
        },
      },
    };
    expect(stringifyJson(throwing)).toBe('{"ok":1,"bad":null}');
    expect(stringifyJson(undefined)).toBe('null');
  });
});

describe('checkJsonValue', () => {
  it('accepts plain JSON within the depth and names the path of what is not', () => {
    expect(checkJsonValue({ a: [1, 'x', null, true, { b: {} }] }, 4)).toEqual({ ok: true });
    expect(checkJsonValue({ a: [{ b: { c: {} } }] }, 4)).toEqual({ ok: false, problem: 'too-deep', path: ['a', 0, 'b', 'c'] });
    expect(checkJsonValue({ a: [1, NaN] }, 4)).toEqual({ ok: false, problem: 'not-json', path: ['a', 1] });
    expect(checkJsonValue({ a: new Date() }, 4)).toEqual({ ok: false, problem: 'not-json', path: ['a'] });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(checkJsonValue(deep, 64)).toMatchObject({ ok: false, problem: 'too-deep' });
  });
});
