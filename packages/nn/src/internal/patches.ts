/**
 * Reorders a Conv2d's output gradient into the row layout of ekfac's capture interface
 * (MATH.md §6): `groups × (N·T) × (C_out/G)`, example-major rows `n·T + t`.
 * The patches ā themselves come from autodiff's im2col (its `onPatches` hook), so there is one im2col.
 * Cost: O(N·C_out·T) writes, no allocation (the caller owns `out`).
 */
import type { FloatArray } from "@ekfac-ts/linalg";

/**
 * Reorders the output gradient `N × C_out × T` (NCHW) into `groups × (N·T) × (C_out/G)` rows, scaled
 * by `scale` (= N, turning ∂L/∂s into the per-example g of the capture convention).
 */
export function gatherOutputGradInto(
  out: FloatArray,
  grad: FloatArray,
  n: number,
  cOut: number,
  T: number,
  groups: number,
  scale: number,
): FloatArray {
  const cg = cOut / groups;
  const rows = n * T;
  for (let k = 0; k < groups; k++) {
    for (let e = 0; e < n; e++) {
      for (let c = 0; c < cg; c++) {
        const src = (e * cOut + k * cg + c) * T;
        let dst = (k * rows + e * T) * cg + c;
        for (let t = 0; t < T; t++, dst += cg) out[dst] = scale * (grad[src + t] as number);
      }
    }
  }
  return out;
}
