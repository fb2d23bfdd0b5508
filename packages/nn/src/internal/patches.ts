/**
 * Reorders a layer's output gradient into the row layout of ekfac's capture interface
 * (MATH.md §6): `groups × (E·T) × (C_out/G)`, example-major rows `e·T + t`.
 * Dense layers are the case T = 1, groups = 1; BatchNorm2d's x̂ uses the same reordering (groups = 1).
 * The patches ā themselves come from autodiff's im2col (its `onPatches` hook), so there is one im2col.
 *
 * Exact-Fisher passes write pseudo-example rows: pass `cls` of `classes` puts example n at row
 * `e = n·classes + cls` of `E = N·classes` rows (example-major, as the capture contract fixes).
 * Cost: O(N·C_out·T) writes, no allocation (the caller owns `out`).
 */
import { convertRowsInto, type FloatArray } from "@ekfac-ts/linalg";

/**
 * Reorders the output gradient `N × C_out × T` (NCHW) into `groups × (N·classes·T) × (C_out/G)` rows
 * `(n·classes + cls)·T + t`, scaled by `scale` (= N, turning ∂L/∂s into the per-example g).
 */
export function gatherOutputGradInto(
  out: FloatArray,
  grad: FloatArray,
  n: number,
  cOut: number,
  T: number,
  groups: number,
  scale: number,
  classes = 1,
  cls = 0,
): FloatArray {
  const cg = cOut / groups;
  const rows = n * classes * T;
  if (T === 1 && groups === 1 && classes === 1) {
    // Dense: the layouts coincide (row e = example e), a scaled copy (≈ 2 % of the demo's EKFAC step
    // went to the general loop's index arithmetic; linalg's row copy is a SIMD pass on wasm).
    const len = n * cOut;
    convertRowsInto(grad, 0, len, out, 0, len, len > 0 ? 1 : 0, len, scale);
    return out;
  }
  for (let k = 0; k < groups; k++) {
    for (let e = 0; e < n; e++) {
      for (let c = 0; c < cg; c++) {
        const src = (e * cOut + k * cg + c) * T;
        let dst = (k * rows + (e * classes + cls) * T) * cg + c;
        for (let t = 0; t < T; t++, dst += cg) out[dst] = scale * (grad[src + t] as number);
      }
    }
  }
  return out;
}
