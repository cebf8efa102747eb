/**
 * Seeded pseudo-random numbers for the built-in trainer.
 *
 * Reproducible training needs the same stream on every machine, so the generator uses
 * 32-bit integer arithmetic only (`Math.imul`, shifts, xor): those are exact in every JS
 * engine, unlike anything built on floating-point state. `Math.random` is never used.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna), its 128-bit state filled from the seed by
 * splitmix32. The first splitmix32 output is a bijection of the seed, so distinct seeds
 * give distinct states, and the state can never be all zero.
 */

const TWO_POW_32 = 4294967296;
// Bound once: the same functions, but a module binding instead of a global lookup per call,
// which inside a vm context (jest) costs ~35× more than the arithmetic it fetches.
const { imul, sqrt, log, cos, PI } = Math;

/** A deterministic random source; every method advances the same single stream. */
export interface Prng {
  /** Uniform unsigned 32-bit integer in [0, 2^32). */
  nextUint32(): number;
  /** Uniform double in [0, 1), with 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, n), unbiased (rejection sampling); n an integer in [1, 2^32]. */
  int(n: number): number;
  /** Standard normal N(0, 1) by Box–Muller (one draw per call, no cached spare). */
  normal(): number;
  /** A new array with the items in Fisher–Yates order; the input is not modified. */
  shuffle<T>(items: readonly T[]): T[];
}

/** splitmix32 step: each line is a bijection on 32-bit words, so the whole mix is too. */
function splitmix32(state: number): { state: number; value: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = imul(z ^ (z >>> 16), 0x21f0aaad);
  z = imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return { state: next, value: z >>> 0 };
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

/**
 * Creates a generator from a seed.
 *
 * @param seed - an integer in [0, 2^32 - 1] (the range a training manifest records).
 * @throws RangeError when the seed is not such an integer.
 * @example
 * const rng = createPrng(42);
 * const order = rng.shuffle([0, 1, 2, 3]); // the same order on every machine
 */
export function createPrng(seed: number): Prng {
  if (!Number.isInteger(seed) || seed < 0 || seed >= TWO_POW_32) {
    throw new RangeError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
  }
  let sm = seed | 0;
  const s = [0, 0, 0, 0];
  for (let i = 0; i < 4; i += 1) {
    const step = splitmix32(sm);
    sm = step.state;
    s[i] = step.value | 0;
  }
  let [s0, s1, s2, s3] = s as [number, number, number, number];

  const nextUint32 = (): number => {
    const result = imul(rotl(imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  const next = (): number => nextUint32() / TWO_POW_32;

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`int(n) needs an integer n in [1, 2^32], got ${n}`);
    }
    // Reject the top partial block so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = nextUint32();
      if (u < limit) return u % n;
    }
  };

  // Math.log/Math.cos are V8's bundled fdlibm port, not the platform libm, so these values
  // match across machines running the same Node major.
  const normal = (): number => {
    const u1 = 1 - next(); // (0, 1]: keeps log() finite
    const u2 = next();
    return sqrt(-2 * log(u1)) * cos(2 * PI * u2);
  };

  const shuffle = <T>(items: readonly T[]): T[] => {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i -= 1) {
      const j = int(i + 1);
      const tmp = out[i] as T;
      out[i] = out[j] as T;
      out[j] = tmp;
    }
    return out;
  };

  return { nextUint32, next, int, normal, shuffle };
}
