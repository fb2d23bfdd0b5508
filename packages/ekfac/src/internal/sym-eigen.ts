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
 * Deflation: a coordinate whose row of the (symmetrised) factor is exactly zero — an input that is 0
 * on every row of the statistics (an MNIST pixel no digit touches, a dead ReLU unit) — is an
 * eigenvector by itself: e_r with eigenvalue 0. Only the m × m block of the other coordinates is
 * decomposed, and U gets e_r for each zero coordinate (first, eigenvalue 0, so λ stays ascending)
 * and the block's eigenvectors at the other rows, with exact zeros elsewhere. That is an exact
 * eigendecomposition of the factor (the zero eigenspace has many orthonormal bases; this one is
 * the coordinate basis), costs O(m³), and lets curvature/basis-rotation.ts multiply by U in
 * m² per row instead of n².
 *
 * Cost: O(m³) and it allocates (linalg's `eigh` returns fresh arrays); it is amortised over T_kfe
 * steps and is deliberately not part of the allocation-free per-step path.
 */
import { allFinite, eigh, gramEighInto } from "@ekfac-ts/linalg";

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
  if (!symmetrized(x, off, n, sym)) return false;
  // Deflation: the coordinates whose row (and so column) is exactly zero, and the others.
  const active: number[] = [];
  const zero: number[] = [];
  for (let i = 0; i < n; i++) (zeroRow(sym, i, n) ? zero : active).push(i);
  const m = active.length;
  const core = m < n ? activeBlock(sym, n, active) : sym;
  // (Also for m = 0, a 0 × 0 problem: argument errors of eigh propagate whatever the factor holds.)
  const result = eigh(
    { rows: m, cols: m, data: core },
    {
      vectors: true,
      ...(options.maxIterations !== undefined ? { maxIterations: options.maxIterations } : {}),
    },
  );
  if (result.status !== "success" || result.vectors === null) return false;
  const u = result.vectors.data;
  const lam = result.values;
  if (!allFinite(u) || !allFinite(lam)) return false;
  // The factors are Gram matrices (PSD): any negative eigenvalue is rounding, so clamp all of them to 0.
  return writeBasis(u, lam, n, active, zero, outU, uOff, outLambda, lOff);
}

/**
 * The same decomposition for a factor that is exactly s·XᵀX of r rows X (r × n at `x[off…]`, row-major):
 * the zero coordinates are X's zero columns (the factor's zero rows), and the m × m active block is
 * decomposed from X's active columns by linalg's `gramEighInto` (Householder LQ of X, then the r × r
 * eigenproblem of s·LᵀL, never forming the m × m product; MATH.md §9) when m ≥ 2r — below that it
 * saves nothing, and the function returns null for the caller to use `symmetricEigenInto`. Returns
 * true on success and false on a numerical failure (non-finite rows or output), leaving the outputs
 * untouched. The basis differs from `symmetricEigenInto`'s only where that one is arbitrary: inside
 * the zero eigenspace (its rank-deficient part is now an exact orthogonal complement, not rounding
 * noise) and in the signs; the eigenvalues agree to rounding.
 */
export function gramEigenInto(
  x: Float64Array,
  off: number,
  r: number,
  n: number,
  scale: number,
  outU: Float64Array,
  uOff: number,
  outLambda: Float64Array,
  lOff: number,
  options: SymEigenOptions = {},
): boolean | null {
  const active: number[] = [];
  const zero: number[] = [];
  for (let j = 0; j < n; j++) (zeroColumn(x, off, r, n, j) ? zero : active).push(j);
  const m = active.length;
  if (m < 2 * r) return null;
  const rows = new Float64Array(r * m);
  for (let i = 0; i < r; i++)
    for (let c = 0; c < m; c++) rows[i * m + c] = x[off + i * n + (active[c] as number)] as number;
  const values = new Float64Array(m);
  const vectors = { rows: m, cols: m, data: new Float64Array(m * m) };
  const opts = options.maxIterations !== undefined ? { scale, maxIterations: options.maxIterations } : { scale };
  const result = gramEighInto({ values, vectors }, { rows: r, cols: m, data: rows }, opts);
  if (result.status !== "success" || !allFinite(vectors.data) || !allFinite(values)) return false;
  return writeBasis(vectors.data, values, n, active, zero, outU, uOff, outLambda, lOff);
}

/** Whether column j of the r × n rows at x[off…] is exactly zero. */
function zeroColumn(x: Float64Array, off: number, r: number, n: number, j: number): boolean {
  for (let i = 0; i < r; i++) if (x[off + i * n + j] !== 0) return false;
  return true;
}

/*
 * The passes of `symmetricEigenInto` are functions of their own: one function holding all its loops
 * was optimised in the middle of the first (on-stack replacement) with no type feedback for the
 * others and deoptimised on every call (seen with --trace-deopt in the EKFAC step; a refresh
 * decomposes a dozen factors).
 */

/** sym ← (X + Xᵀ)/2 for X at x[off…] (n × n); false at the first non-finite entry. */
function symmetrized(x: Float64Array, off: number, n: number, sym: Float64Array): boolean {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = 0.5 * ((x[off + i * n + j] as number) + (x[off + j * n + i] as number));
      if (!Number.isFinite(v)) return false;
      sym[i * n + j] = v;
    }
  }
  return true;
}

/** Whether row i of the n × n sym is exactly zero. */
function zeroRow(sym: Float64Array, i: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (sym[i * n + j] !== 0) return false;
  return true;
}

/** The m × m block of sym on the `active` rows and columns (m = active.length). */
function activeBlock(sym: Float64Array, n: number, active: readonly number[]): Float64Array {
  const m = active.length;
  const core = new Float64Array(m * m);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) core[i * m + j] = sym[(active[i] as number) * n + (active[j] as number)] as number;
  return core;
}

/**
 * Writes U (n × n) and λ from the active block's m × m eigenvectors u and eigenvalues lam (clamped to
 * ≥ 0), with the zero coordinates' unit vectors first (see the header). Returns true.
 */
function writeBasis(
  u: Float64Array,
  lam: Float64Array,
  n: number,
  active: readonly number[],
  zero: readonly number[],
  outU: Float64Array,
  uOff: number,
  outLambda: Float64Array,
  lOff: number,
): boolean {
  const m = active.length;
  if (m === n) {
    for (let i = 0; i < n * n; i++) outU[uOff + i] = u[i] as number;
    for (let i = 0; i < n; i++) outLambda[lOff + i] = Math.max(0, lam[i] as number);
    return true;
  }
  // Zero coordinates first (eigenvalue 0 ≤ every clamped one, so λ stays ascending), each its unit
  // vector; then the active block's eigenvectors, placed at the active rows (0 at the zero rows).
  const z = n - m;
  outU.fill(0, uOff, uOff + n * n);
  for (let c = 0; c < z; c++) {
    outU[uOff + (zero[c] as number) * n + c] = 1;
    outLambda[lOff + c] = 0;
  }
  for (let i = 0; i < m; i++) {
    const row = uOff + (active[i] as number) * n + z;
    for (let j = 0; j < m; j++) outU[row + j] = u[i * m + j] as number;
  }
  for (let j = 0; j < m; j++) outLambda[lOff + z + j] = Math.max(0, lam[j] as number);
  return true;
}
