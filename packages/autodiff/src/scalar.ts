/**
 * Scalar functions and constants shared by the forward kernels (ops/elementwise.ts) and their
 * derivative rules (rules.ts). A leaf module: both sides import it, so neither imports the other.
 *
 * σ(v) = 1/(1 + e^(−v)) is evaluated through e^(−|v|) only, so it never overflows: for v < 0 it uses
 * the equal form e^v/(1 + e^v). GELU's tanh approximation (Hendrycks & Gimpel 2016, "Gaussian Error
 * Linear Units", §2): x·Φ(x) ≈ ½x(1 + tanh(√(2/π)(x + 0.044715x³))) = x·σ(2u), u = √(2/π)(x + 0.044715x³).
 */

/** √½, the scale inside erf for the exact GELU Φ(x) = ½ erfc(−x/√2). */
export const SQRT_HALF = Math.SQRT1_2;

/** √(2/π), the constant of GELU's tanh approximation. */
export const GELU_C = Math.sqrt(2 / Math.PI);

/** σ(v) without overflow: e^(−|v|) only. */
export function sigmoidOf(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}
