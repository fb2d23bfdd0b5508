/**
 * The error function erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt, to about 1 ulp in double precision.
 *
 * |x| < 2.5: the everywhere-positive series (Abramowitz & Stegun 7.1.6)
 *   erf x = (2/√π) e^(−x²) Σₙ 2ⁿ x^(2n+1) / (1·3·5···(2n+1)),
 * which has no cancellation (every term is positive), so the relative error stays near roundoff.
 * |x| ≥ 2.5: erf x = 1 − erfc x with the continued fraction (A&S 7.1.14)
 *   erfc x = (e^(−x²)/√π) · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))),
 * evaluated by the modified Lentz method (Numerical Recipes §5.2). |x| ≥ 6: erf x = ±1 (erfc < 3e-17).
 * Why not a short rational fit: GELU's derivative is checked against finite differences of erf at a
 * relative 1e-6, so erf itself must be accurate far below that.
 *
 * Cost: ≤ ~45 series terms or ~60 fraction steps; typically 20–40 multiply-adds.
 */

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

/** erfc x for x ≥ 2.5 by the continued fraction (no cancellation: it is computed directly). */
function erfcLarge(ax: number): number {
  const tiny = 1e-300;
  let f = ax;
  let c = f;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = ax + a * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = ax + a / c;
    if (Math.abs(c) < tiny) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (ONE_OVER_SQRT_PI * Math.exp(-ax * ax)) / f;
}

/**
 * The complementary error function erfc x = 1 − erf x, accurate in relative terms for large x too
 * (where 1 − erf x would cancel); Φ(x) = erfc(−x/√2)/2 uses it so GELU stays accurate for x ≪ 0.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 2.5) return x > 27 ? 0 : erfcLarge(x);
  if (x <= -2.5) return x < -6 ? 2 : 2 - erfcLarge(-x);
  return 1 - erf(x);
}

/** The error function erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt, to about 1 ulp in double precision (see the file header). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    const x2 = ax * ax;
    let term = 1;
    let sum = 1;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    r = TWO_OVER_SQRT_PI * ax * Math.exp(-x2) * sum;
  } else if (ax < 6) {
    r = 1 - erfcLarge(ax);
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}
