/**
 * Guarded symmetric eigendecomposition of one Kronecker factor: X = U diag(λ) Uᵀ, λ ascending.
 *
 * Steps (MATH.md §9 and the "guarded eigendecompositions" requirement): reject non-finite input,
 * symmetrise ((X + Xᵀ)/2, so that rounding asymmetry from the moving averages cannot leak in), call
 * linalg's `eigh` (reads the lower triangle; scale → Householder tridiagonalisation GVL 8.3.1 → implicit QR with Wilkinson
 * shift GVL 8.3.2/8.3.3 → sort → unscale), clamp tiny negative eigenvalues to 0 (the factors are PSD),
 * and check the result is finite. A NUMERICAL failure (non-finite input, no convergence, non-finite
 * output) returns false and leaves `outU`/`outLambda` untouched, so the caller keeps its previous basis.
 * Argument errors thrown by `eigh` (RangeError/TypeError) are bugs in the caller, not numerical events:
 * they propagate.
 *
 * Cost: O(n³) and it allocates (linalg's `eigh` returns fresh arrays); it is amortised over T_kfe
 * steps and is deliberately not part of the allocation-free per-step path.
 */
import { eigh } from "@ekfac-ts/linalg";

export interface SymEigenOptions {
  readonly maxIterations?: number;
}

/**
 * Eigendecomposes the n×n matrix stored row-major at `x[off …]` into `outU` (n×n, eigenvectors as
 * columns, row-major, at `uOff`) and `outLambda` (n, ascending, at `lOff`). Returns true on success.
 */
export function symmetricEigenInto(
  x: Float64Array,
  off: number,
  n: number,
  outU: Float64Array,
  uOff: number,
  outLambda: Float64Array,
  lOff: number,
  options: SymEigenOptions = {},
): boolean {
  const sym = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = 0.5 * ((x[off + i * n + j] as number) + (x[off + j * n + i] as number));
      if (!Number.isFinite(v)) return false;
      sym[i * n + j] = v;
    }
  }
  const result = eigh(
    { rows: n, cols: n, data: sym },
    {
      vectors: true,
      ...(options.maxIterations !== undefined ? { maxIterations: options.maxIterations } : {}),
    },
  );
  if (result.status !== "success" || result.vectors === null) return false;
  const u = result.vectors.data;
  const lam = result.values;
  for (let i = 0; i < n * n; i++) if (!Number.isFinite(u[i] as number)) return false;
  for (let i = 0; i < n; i++) if (!Number.isFinite(lam[i] as number)) return false;
  for (let i = 0; i < n * n; i++) outU[uOff + i] = u[i] as number;
  // The factors are Gram matrices (PSD): any negative eigenvalue is rounding, so clamp all of them to 0.
  for (let i = 0; i < n; i++) outLambda[lOff + i] = Math.max(0, lam[i] as number);
  return true;
}
