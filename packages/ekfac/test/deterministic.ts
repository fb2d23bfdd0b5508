/** Deterministic values in [−1, 1) from a 32-bit LCG (Numerical Recipes' constants): test data only. */
export function fill(len: number, seed: number): Float64Array {
  const x = new Float64Array(len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}
