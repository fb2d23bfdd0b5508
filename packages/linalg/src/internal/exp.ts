/**
 * The exponential of a non-positive argument and the logistic function built on it, defined by a fixed
 * sequence of IEEE-754 float64 operations so that the JavaScript loop (here) and the SIMD loop
 * (wasm/vector-codegen.ts, `sigmoid64`) give the same bits on every engine. `Math.exp` is neither
 * specified to the bit by ECMAScript (engines ship different libms) nor fast in V8 (a call into C++,
 * ≈ 10 ns per value in Node 20, 2026-12-05); this is one formula, written out.
 *
 * Source: the argument reduction and constants of fdlibm's `e_exp.c` (Sun Microsystems, 1993; the
 * basis of most libm `exp`s): x = k·ln 2 + r with k = round(x/ln 2), |r| ≤ ln 2 / 2, and
 * r = (x − k·ln2_hi) − k·ln2_lo where ln2_hi has 32 significant bits, so k·ln2_hi is exact for the
 * |k| ≤ 1021 used here. e^x = 2^k·e^r.
 * Deviations from fdlibm:
 * - e^r by its Taylor polynomial to degree 13 in Horner form instead of fdlibm's rational Remez form
 *   (no division; the truncation error r¹⁴/14! ≤ 4.2e-18 is below half an ulp; rounding in Horner's
 *   13 steps makes the result within a few ulps of e^x: vector.test.ts measures it against Math.exp);
 * - k by the "magic number" rounding (x·log₂e + 1.5·2⁵²) − 1.5·2⁵², round half to even;
 * - 2^k built exactly (a table here, the bits (k + 1023) << 52 in wasm);
 * - the domain is x ≤ 0 (every caller computes e^(−|v|)); arguments below −708 (where e^x < 3.3e-308
 *   would be subnormal) give +0 instead of a subnormal, an absolute difference below 3.3e-308.
 * NaN gives NaN; −∞ gives +0.
 *
 * The logistic function σ(v) = 1/(1 + e^(−v)) is evaluated without overflow (it is autodiff's
 * `sigmoidOf`): with e = e^(−|v|), σ = (e·[v < 0] + (1 − [v < 0]))/(1 + e).
 *
 * Cost: 13 multiply-adds and a handful of other operations per value, no branch.
 */

/** 1.5·2⁵²: adding it rounds a float64 of magnitude < 2⁵¹ to an integer (ties to even). */
export const EXP_MAGIC = 6755399441055744;
/** log₂ e. */
export const EXP_LOG2E = Math.LOG2E;
/** ln 2's leading 32 bits (fdlibm's ln2HI, 0x3fe62e42fee00000). */
export const EXP_LN2_HI = 0.6931471803691238;
/** ln 2 − EXP_LN2_HI (fdlibm's ln2LO, 0x3dea39ef35793c76). */
export const EXP_LN2_LO = 1.9082149292705877e-10;
/** Below this argument the result is +0 (2^k stays normal above it: k ≥ −1021). */
export const EXP_LOWEST = -708;
/** The series' coefficients 1/j! for j = 13 down to 0 (each 1 divided by an exactly representable j!). */
export const EXP_TAYLOR: Float64Array = (() => {
  const c = new Float64Array(14);
  let f = 1;
  for (let j = 0; j <= 13; j++) {
    if (j > 0) f *= j;
    c[13 - j] = 1 / f;
  }
  return c;
})();

/** 2^(−j) for j = 0 … 1021, exact (repeated halving stays normal). */
const POW2_NEG = (() => {
  const t = new Float64Array(1022);
  let v = 1;
  for (let j = 0; j < t.length; j++, v /= 2) t[j] = v;
  return t;
})();

/** The coefficients as locals of the module (EXP_TAYLOR has 14 entries, so no default below applies). */
const [c13 = 0, c12 = 0, c11 = 0, c10 = 0, c9 = 0, c8 = 0, c7 = 0, c6 = 0, c5 = 0, c4 = 0, c3 = 0, c2 = 0] = EXP_TAYLOR;

/** e^x for x ≤ 0 (see the header: +0 below −708, NaN kept). The JS twin of the wasm loop. */
function expNonPositive(x: number): number {
  const c = Math.max(x, EXP_LOWEST);
  const k = c * EXP_LOG2E + EXP_MAGIC - EXP_MAGIC;
  const r = c - k * EXP_LN2_HI - k * EXP_LN2_LO;
  // Terms r⁴ … r¹³ by Estrin's scheme (a short dependency chain, which the SIMD loop's latency needs),
  // the four leading ones by Horner's (they decide the rounding).
  const r2 = r * r;
  const r4 = r2 * r2;
  const q = c4 + c5 * r + (c6 + c7 * r) * r2 + (c8 + c9 * r + (c10 + c11 * r) * r2) * r4 + (c12 + c13 * r) * (r4 * r4);
  const p = (((q * r + c3) * r + c2) * r + 1) * r + 1;
  // −k | 0 is 0 for a NaN k (the NaN is carried by p); +(x ≥ −708) zeroes the results below −708.
  return p * (POW2_NEG[-k | 0] as number) * +(x >= EXP_LOWEST);
}

/** σ(v) = 1/(1 + e^(−v)) as the header writes it (the JS twin of the wasm loop). */
export function logistic(v: number): number {
  const e = expNonPositive(0 - Math.abs(v));
  const negative = +(v < 0);
  return (e * negative + (1 - negative)) / (1 + e);
}

// ── float32 ──────────────────────────────────────────────────────────────────────────────────────
// The same reduction and form in float32 arithmetic, for a value whose consumer is float32 anyway:
// the sampled Bernoulli targets' residual of a float32 model (vector.ts, `bernoulliResidualInto`,
// and its SIMD twin `bernoulli32`, four lanes where the float64 loop has two). Constants from the
// float32 exponential of Cephes (S. Moshier, `expf.c`): ln 2 split as C1 = 0.693359375 (9
// significant bits, so k·C1 is exact for |k| ≤ 126) and C2 = ln 2 − C1; the magic number 1.5·2²³;
// e^r by its Taylor polynomial to degree 7 in Horner form (truncation r⁸/8! ≤ 5.2e-9 for
// |r| ≤ ln 2/2, below half a float32 ulp of e^r ≥ 0.7); arguments below −87 give +0 (2^k stays
// normal, k ≥ −126). Every operation rounds to float32 (`Math.fround` here, f32x4 lanes there), so
// both give the same bits; law `linalg.vector.logistic` bounds the result against σ.

/** 1.5·2²³: adding it rounds a float32 of magnitude < 2²² to an integer (ties to even). */
export const EXP32_MAGIC = 12582912;
/** log₂ e rounded to float32. */
export const EXP32_LOG2E = Math.fround(Math.LOG2E);
/** Cephes' C1 = 355/512 (ln 2's leading 9 bits). */
export const EXP32_LN2_HI = 0.693359375;
/** ln 2 − C1 rounded to float32 (Cephes' C2 = −2.12194440e-4). */
export const EXP32_LN2_LO = Math.fround(Math.LN2 - 0.693359375);
/** Below this argument the float32 result is +0 (2^k stays normal: k ≥ −126). */
export const EXP32_LOWEST = -87;
/** 1/j! for j = 7 down to 2, rounded to float32 (the two leading coefficients are 1). */
export const EXP32_TAYLOR: Float32Array = Float32Array.from([5040, 720, 120, 24, 6, 2], (f) => 1 / f);

const f = Math.fround;
const [d7 = 0, d6 = 0, d5 = 0, d4 = 0, d3 = 0, d2 = 0] = EXP32_TAYLOR;

/** 2^(−j) for j = 0 … 126 (float32, exact). */
const POW2F_NEG = (() => {
  const t = new Float32Array(127);
  for (let j = 0, v = 1; j < t.length; j++, v /= 2) t[j] = v;
  return t;
})();

/**
 * σ(v) in float32 arithmetic (v rounded to float32 first): the float32 twin of `logistic`, the JS
 * loop beside the SIMD kernel `bernoulli32` (wasm/vector-codegen.ts), the same bits.
 */
export function logistic32(v: number): number {
  const x = f(v);
  const a = 0 - Math.abs(x);
  const c = Math.max(a, EXP32_LOWEST);
  const k = f(f(f(c * EXP32_LOG2E) + EXP32_MAGIC) - EXP32_MAGIC);
  const r = f(f(c - f(k * EXP32_LN2_HI)) - f(k * EXP32_LN2_LO));
  let p = f(f(d7 * r) + d6);
  p = f(f(p * r) + d5);
  p = f(f(p * r) + d4);
  p = f(f(p * r) + d3);
  p = f(f(p * r) + d2);
  p = f(f(p * r) + 1);
  p = f(f(p * r) + 1);
  // −k | 0 is 0 for a NaN k (the NaN is carried by p); +(a ≥ −87) zeroes the results below −87.
  const e = f(f(p * (POW2F_NEG[-k | 0] as number)) * +(a >= EXP32_LOWEST));
  const negative = +(x < 0);
  return f(f(f(e * negative) + (1 - negative)) / f(1 + e));
}
