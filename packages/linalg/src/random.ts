/**
 * A seeded pseudo-random generator that yields bit-identical numbers in every JavaScript runtime.
 *
 * Generator: xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * 2021), 32-bit state words, seeded through SplitMix32 so that nearby seeds give unrelated streams.
 * Only 32-bit integer operations (`Math.imul`, shifts) are used, so every engine agrees bit for bit.
 *
 * Normals: Marsaglia's polar method. It needs `log`, and ECMAScript leaves `Math.log` (and `sin`,
 * `cos`, so Box–Muller too) implementation-approximated: V8, JavaScriptCore and SpiderMonkey may
 * differ in the last bit. `detLog` below is built from IEEE-754 basic operations only (+, −, ×, ÷,
 * which are correctly rounded everywhere) and `Math.sqrt` (also correctly rounded), so normals are
 * identical across runtimes too. Accuracy of `detLog`: within 2 ulp of the true logarithm.
 *
 * Cost: uniform ≈ 2 xoshiro steps (53-bit doubles); normal ≈ 2.5 uniforms on average. The four state
 * words live in an Int32Array, not in object fields: a 32-bit word outside V8's 31-bit small-integer
 * range makes a field a boxed double, and the step ran ≈ 5× slower that way (measured 2026-12-03,
 * Node 20: 196,000 draws 3.1 ms against 0.66 ms; the demo's true-Fisher pass draws that many per step).
 */

const scratch = new DataView(new ArrayBuffer(8));
const LN2_HI = 0.6931471803691238; // fdlibm's split of ln 2 (6.93147180369123816490e-1): LN2_HI has trailing zero bits
const LN2_LO = 1.9082149292705877e-10; // 1.90821492927058770002e-10, written as its shortest round-trip form

/** Natural logarithm from basic IEEE operations only (deterministic across engines). x > 0, finite. */
export function detLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : Number.NaN;
  if (x === Infinity) return Infinity;
  let e = 0;
  // Subnormals: scale into the normal range first.
  if (x < 2 ** -1022) {
    x *= 2 ** 54;
    e -= 54;
  }
  scratch.setFloat64(0, x);
  const hi = scratch.getUint32(0);
  e += ((hi >>> 20) & 0x7ff) - 1023;
  scratch.setUint32(0, (hi & 0x000fffff) | 0x3ff00000); // mantissa in [1, 2)
  let m = scratch.getFloat64(0);
  if (m > Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  // log m = 2 atanh(t), t = (m − 1)/(m + 1) ∈ [−0.1716, 0.1716]; series in t² converges fast.
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let sum = 0;
  for (let k = 29; k >= 3; k -= 2) sum = (sum + 1 / k) * t2;
  const logM = 2 * t + 2 * t * sum;
  return e * LN2_HI + (logM + e * LN2_LO);
}

function splitMix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A snapshot of an {@link Rng}'s state, plain data for checkpoints (see `Rng.state`, `Rng.fromState`). */
export interface RngState {
  /** The four 32-bit xoshiro128** state words. */
  readonly s: readonly [number, number, number, number];
  /** A cached second normal from the polar method, or null. */
  readonly spare: number | null;
}

/**
 * A seeded pseudo-random generator whose streams are bit-identical in every JavaScript runtime:
 * xoshiro128** (Blackman & Vigna 2021) seeded through SplitMix32, 32-bit integer operations only;
 * uniforms are 53-bit doubles, normals come from Marsaglia's polar method with the engine-independent
 * logarithm {@link detLog}.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const u = rng.uniform(); // [0, 1)
 * const x = rng.normal(); // standard normal
 * ```
 */
export class Rng {
  /** xoshiro128**'s state words s0…s3 (see the file header for why a typed array). */
  private readonly s = new Int32Array(4);
  private spare: number | null = null;

  /** `seed` is any finite number; it is reduced to 32 bits (two seeds equal modulo 2³² coincide). */
  constructor(seed: number) {
    if (typeof seed !== "number" || !Number.isFinite(seed)) {
      throw new TypeError(`Rng: seed must be a finite number (got ${String(seed)})`);
    }
    const st = { s: Math.trunc(seed) | 0 };
    const s = this.s;
    for (let i = 0; i < 4; i++) s[i] = splitMix32(st);
    if (((s[0] as number) | (s[1] as number) | (s[2] as number) | (s[3] as number)) === 0) s[0] = 1; // the all-zero state is a fixed point
  }

  /** The next 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const s0 = s[0] as number;
    const s1 = s[1] as number;
    const s2 = (s[2] as number) ^ s0;
    const s3 = (s[3] as number) ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 9);
    s[3] = rotl(s3, 11);
    return result;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal N(0, 1) (Marsaglia polar method; deterministic across runtimes). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt((-2 * detLog(s)) / s);
        this.spare = v * f;
        return u * f;
      }
    }
  }

  /** A uniform integer in [0, n), without modulo bias (Lemire-style rejection). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2³²] (got ${n})`);
    }
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /**
   * Fills `out` with uniforms on [lo, hi): `lo + (hi − lo)·uniform()` for each entry in order, the same
   * stream and final state as that many `uniform()` calls. The generator runs with its state in locals
   * (written back at the end): 0.40 against 0.70 ms for 196,000 draws through `uniform()` (Node 20,
   * 2026-12-05), which matters to the true Fisher's sampled targets (one draw per output per step).
   *
   * The interval is kept as stored: `lo + (hi − lo)·u` can round to `hi` (in float32 whenever
   * u > 1 − 2⁻²⁵ with lo = 0, hi = 1 — about once per 3·10⁷ entries; in float64 for an interval short
   * against its ends) or, in float32, below a `lo` that float32 cannot represent. Such an entry is
   * stored as the largest value of out's type below `hi` (or the smallest at or above `lo`) instead;
   * every other entry is the formula's. Only where the ends can escape (the stored values of u = 0 and
   * u = 1 − 2⁻⁵³ bound all others, rounding being monotone) does a second pass look at the entries: a
   * test per entry inside the generator's loop made float64 [0, 1) draws 2× slower. lo = hi fills with
   * lo (as PyTorch's `uniform_(a, a)`; a zero-gain uniform initialisation). Throws a RangeError unless
   * lo ≤ hi are finite and, for lo < hi, out's type holds a value in [lo, hi).
   */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    const f32 = out instanceof Float32Array;
    uniformBounds(f32, lo, hi);
    const w = hi - lo;
    const s = this.s;
    let s0 = s[0] as number;
    let s1 = s[1] as number;
    let s2 = s[2] as number;
    let s3 = s[3] as number;
    for (let i = 0; i < out.length; i++) {
      // Two steps of nextUint32, as uniform() makes them.
      const hiBits = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 5;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      const loBits = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 6;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      out[i] = lo + w * ((hiBits * 67108864 + loBits) / 9007199254740992);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    // One pass moves the escaped entries to the nearest value inside, where any can escape (the stream
    // is unchanged; `uniformBounds` decides).
    if (bounds[2] === 1) {
      const low = bounds[0] as number;
      const high = bounds[1] as number;
      for (let i = 0; i < out.length; i++) {
        const v = out[i] as number;
        if (v >= hi) out[i] = high;
        else if (v < lo) out[i] = low;
      }
    }
    return out;
  }

  /** Fills `out` with N(mean, std²) samples; returns `out`. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /** A uniformly random permutation of 0..n−1 (Fisher–Yates), written into `out` if given. */
  permutation(n: number, out: Uint32Array | Int32Array = new Uint32Array(n)): Uint32Array | Int32Array {
    if (out.length !== n) throw new RangeError(`Rng.permutation: out has length ${out.length}, expected ${n}`);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = out[i] as number;
      out[i] = out[j] as number;
      out[j] = t;
    }
    return out;
  }

  /** The full state, for checkpoints: `Rng.fromState(r.state())` continues the same stream. */
  state(): RngState {
    const s = this.s;
    return { s: [s[0] as number, s[1] as number, s[2] as number, s[3] as number], spare: this.spare };
  }

  /** A generator that continues the stream a {@link RngState} snapshot was taken from. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    for (let i = 0; i < 4; i++) r.s[i] = (state.s[i] as number) | 0;
    r.spare = state.spare;
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const bitsView = new DataView(new ArrayBuffer(8));

/**
 * The neighbour of x in float64 (f32 false) or float32 toward +∞ (dir 1) or −∞ (dir −1): x's bits ± 1
 * as a sign-magnitude integer, across zero through the smallest subnormal.
 */
function nextAfter(x: number, dir: 1 | -1, f32: boolean): number {
  if (x === 0) return dir * (f32 ? 2 ** -149 : Number.MIN_VALUE);
  const step = x > 0 === dir > 0 ? 1 : -1; // away from zero when moving the way of x's sign
  if (f32) {
    bitsView.setFloat32(0, x);
    bitsView.setUint32(0, bitsView.getUint32(0) + step);
    return bitsView.getFloat32(0);
  }
  bitsView.setFloat64(0, x);
  bitsView.setBigUint64(0, bitsView.getBigUint64(0) + BigInt(step));
  return bitsView.getFloat64(0);
}

/** `uniformBounds`' answer: [low, high, 1 when an entry can escape [lo, hi) else 0] (no array per call). */
const bounds = new Float64Array(3);

/**
 * Validates lo ≤ hi and writes into `bounds` the smallest value of the element type (float32 or float64)
 * at or above lo and the largest below hi — what `fillUniform` stores for an entry that rounded out of
 * [lo, hi) — and whether any entry can: rounding is monotone in u, so the stored values lie between those
 * of u = 0 and u = 1 − 2⁻⁵³ (float64 on [0, 1), the sampled targets' case, cannot escape; lo = hi fills
 * with lo and has nothing to correct).
 */
function uniformBounds(f32: boolean, lo: number, hi: number): void {
  const fn = "Rng.fillUniform";
  if (!(typeof lo === "number" && typeof hi === "number" && Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi)) {
    throw new RangeError(`${fn}: lo and hi must be finite with lo ≤ hi (got ${String(lo)}, ${String(hi)})`);
  }
  let low = f32 ? Math.fround(lo) : lo;
  let high = f32 ? Math.fround(hi) : hi;
  if (lo === hi) {
    bounds[2] = 0;
    return;
  }
  const top = lo + (hi - lo) * (1 - 2 ** -53);
  bounds[2] = +!((f32 ? Math.fround(top) : top) < hi && low >= lo);
  if (low < lo) low = nextAfter(low, 1, f32);
  if (high >= hi) high = nextAfter(high, -1, f32);
  if (!(low <= high)) {
    throw new RangeError(`${fn}: no ${f32 ? "float32" : "float64"} value lies in [${lo}, ${hi})`);
  }
  bounds[0] = low;
  bounds[1] = high;
}
