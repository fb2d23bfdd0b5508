/**
 * Products with one Kronecker factor's eigenbasis U (n × n, eigenvectors as columns, row-major),
 * skipping the coordinates the factor does not see.
 *
 * Why: an input that is exactly 0 on every row of the statistics — the MNIST pixels no digit of the
 * batch touches (204–263 of 784 in random batches of 250 of the bench's digits, mean 229; 111 in all
 * 10,000), a dead ReLU unit's activation or output gradient — gives the factor an exactly-zero row
 * and column.
 * internal/sym-eigen.ts then decomposes only the rest and gives those coordinates the unit vectors
 * e_r as eigenvectors (eigenvalue 0). Such a U is, up to the order of its rows and columns,
 * blockdiag(K, ±I): every product with it costs m² instead of n² per row (m = n − units), e.g. the
 * demo autoencoder's first layer m = 544 of 785 on the bench's first batch (241 zero pixels), half
 * the multiply-adds of each rotation with U_A.
 *
 * Structure (read from U itself, so that a restored or hand-set basis is handled alike): a unit
 * column c is one whose only nonzero entry v sits at a row r whose only nonzero entry it is (v = ±1
 * in an orthogonal U; the products use v as it is). With R the other rows and C the other columns
 * (ascending), U = K on R × C, v at each (r, c), and 0 elsewhere — exactly, not to rounding — so
 *   X U:   out[:, C] = X[:, R] K,    out[:, c] = v X[:, r]
 *   X Uᵀ:  out[:, R] = X[:, C] Kᵀ,   out[:, r] = v X[:, c]
 *   U X:   out[R, :] = K X[C, :],    out[r, :] = v X[c, :]
 *   Uᵀ X:  out[C, :] = Kᵀ X[R, :],   out[c, :] = v X[r, :]
 * each as a gather into a workspace, one gemm with the compact m × m K and a scatter (copies: n per
 * row, against m² multiply-adds). Without units the products are the dense gemm on U itself. The
 * results equal the dense products except for the order of the sums (terms that are exactly 0 are
 * left out), and a NaN/±∞ in X reaches only the outputs it enters, not every output of its row.
 *
 * Cost: `reset` O(n²) reads (once per basis change) and an m² copy; products as above. Workspaces
 * grow to the largest product and are reused: after warm-up the products allocate nothing.
 */
import { type FloatArray, gatherColumnsInto, gemmStrided, scatterColumnsInto } from "@ekfac-ts/linalg";
import { ensure, ensure32 } from "../internal/stats.ts";

/** A new zeroed array of the same element type as `like`. */
function alike<T extends FloatArray>(like: T, n: number): T {
  return (like instanceof Float32Array ? new Float32Array(n) : new Float64Array(n)) as T;
}

/** `ensure` / `ensure32` (internal/stats.ts) for a workspace of either element type. */
function grow<T extends FloatArray>(buf: T, n: number): T {
  return (buf instanceof Float32Array ? ensure32(buf, n) : ensure(buf as Float64Array, n)) as T;
}

function growInt(buf: Int32Array, n: number): Int32Array {
  return buf.length >= n ? buf : new Int32Array(n);
}

/**
 * One basis U and its products (see the file header). `reset` (re)reads U; the object keeps a
 * reference to U and must be reset whenever U's entries change.
 */
export class BasisRotation<T extends FloatArray> {
  /** Side n of U. */
  n = 0;
  /** Size m of the compact block K (n − units); n when U has no unit columns. */
  m = 0;
  private u: T;
  private uOff = 0;
  private core: T;
  private coreRows: Int32Array = new Int32Array(0);
  private coreCols: Int32Array = new Int32Array(0);
  private unitRows: Int32Array = new Int32Array(0);
  private unitCols: Int32Array = new Int32Array(0);
  private unitScales: Float64Array = new Float64Array(0);
  // Scratch of `reset`: 1 at the unit columns / unit rows.
  private unitCol: Int32Array = new Int32Array(0);
  private unitRow: Int32Array = new Int32Array(0);
  private units = 0;
  private ws1: T;
  private ws2: T;

  /** `kind` fixes the element type (a float32 or float64 array, e.g. U itself). */
  constructor(kind: T) {
    this.u = kind;
    this.core = alike(kind, 0);
    this.ws1 = alike(kind, 0);
    this.ws2 = alike(kind, 0);
  }

  /** Whether the products take the compact path (U has at least one unit column). */
  get deflated(): boolean {
    return this.units > 0;
  }

  /** Reads the basis U = u[off … off + n²) (row-major, columns = vectors) and its unit columns. */
  reset(u: T, off: number, n: number): this {
    this.u = u;
    this.uOff = off;
    this.n = n;
    this.unitRows = growInt(this.unitRows, n);
    this.unitCols = growInt(this.unitCols, n);
    if (this.unitScales.length < n) this.unitScales = new Float64Array(n);
    this.coreRows = growInt(this.coreRows, n);
    this.coreCols = growInt(this.coreCols, n);
    this.unitCol = growInt(this.unitCol, n);
    this.unitRow = growInt(this.unitRow, n);
    const unitCol = this.unitCol;
    const unitRow = this.unitRow;
    unitCol.fill(0, 0, n);
    unitRow.fill(0, 0, n);
    let units = 0;
    for (let c = 0; c < n; c++) {
      let row = -1;
      let count = 0;
      for (let r = 0; r < n && count < 2; r++) {
        if ((u[off + r * n + c] as number) !== 0) {
          row = r;
          count++;
        }
      }
      if (count !== 1) continue;
      const v = u[off + row * n + c] as number;
      let rowCount = 0;
      for (let j = 0; j < n && rowCount < 2; j++) if ((u[off + row * n + j] as number) !== 0) rowCount++;
      if (rowCount !== 1) continue;
      unitCol[c] = 1;
      unitRow[row] = 1;
      this.unitRows[units] = row;
      this.unitCols[units] = c;
      this.unitScales[units] = v;
      units++;
    }
    this.units = units;
    this.m = n - units;
    if (units === 0) return this;
    let mc = 0;
    for (let c = 0; c < n; c++) if (unitCol[c] === 0) this.coreCols[mc++] = c;
    let mr = 0;
    for (let r = 0; r < n; r++) if (unitRow[r] === 0) this.coreRows[mr++] = r;
    const m = this.m;
    this.core = grow(this.core, m * m);
    for (let i = 0; i < m; i++) {
      const src = off + (this.coreRows[i] as number) * n;
      for (let j = 0; j < m; j++) this.core[i * m + j] = u[src + (this.coreCols[j] as number)] as number;
    }
    return this;
  }

  /**
   * out = X U (`transpose` false) or X Uᵀ, X rows × n at x[xOff…] (row-major, leading dimension n),
   * out rows × n at out[outOff…]. `out` must not overlap X.
   */
  right(x: T, xOff: number, rows: number, out: T, outOff: number, transpose: boolean): T {
    const n = this.n;
    if (this.units === 0) {
      gemmStrided(false, transpose, rows, n, n, 1, x, xOff, n, this.u, this.uOff, n, 0, out, outOff, n);
      return out;
    }
    const m = this.m;
    // X U reads X's core rows' coordinates and writes the core columns; X Uᵀ the other way round.
    const from = transpose ? this.coreCols : this.coreRows;
    const to = transpose ? this.coreRows : this.coreCols;
    const src = transpose ? this.unitCols : this.unitRows;
    const dst = transpose ? this.unitRows : this.unitCols;
    const units = this.units;
    const scales = this.unitScales;
    this.ws1 = grow(this.ws1, rows * m);
    this.ws2 = grow(this.ws2, rows * m);
    const w1 = this.ws1;
    const w2 = this.ws2;
    if (m > 0) {
      gatherColumnsInto(x, xOff, n, rows, from, m, w1, 0, m);
      gemmStrided(false, transpose, rows, m, m, 1, w1, 0, m, this.core, 0, m, 0, w2, 0, m);
      // Every other column of out is a unit column, written below: no need to keep them.
      scatterColumnsInto(w2, 0, m, rows, to, m, out, outOff, n, false);
    }
    // The unit columns (row by row: the output row stays in cache).
    for (let r = 0; r < rows; r++) {
      const xr = xOff + r * n;
      const or = outOff + r * n;
      for (let u = 0; u < units; u++)
        out[or + (dst[u] as number)] = (scales[u] as number) * (x[xr + (src[u] as number)] as number);
    }
    return out;
  }

  /**
   * out = U X (`transpose` false) or Uᵀ X, X n × cols at x[xOff…] (row-major, leading dimension
   * cols), out n × cols at out[outOff…]. `out` must not overlap X.
   */
  left(x: T, xOff: number, cols: number, out: T, outOff: number, transpose: boolean): T {
    const n = this.n;
    if (this.units === 0) {
      gemmStrided(transpose, false, n, cols, n, 1, this.u, this.uOff, n, x, xOff, cols, 0, out, outOff, cols);
      return out;
    }
    const m = this.m;
    // U X reads X's rows at the core columns and writes the core rows; Uᵀ X the other way round.
    const from = transpose ? this.coreRows : this.coreCols;
    const to = transpose ? this.coreCols : this.coreRows;
    if (m > 0) {
      this.ws1 = grow(this.ws1, m * cols);
      this.ws2 = grow(this.ws2, m * cols);
      const w1 = this.ws1;
      const w2 = this.ws2;
      // Whole rows, copied by loops (no subarray views: nothing is allocated per call).
      for (let i = 0; i < m; i++) {
        const xr = xOff + (from[i] as number) * cols;
        const wr = i * cols;
        for (let j = 0; j < cols; j++) w1[wr + j] = x[xr + j] as number;
      }
      gemmStrided(transpose, false, m, cols, m, 1, this.core, 0, m, w1, 0, cols, 0, w2, 0, cols);
      for (let i = 0; i < m; i++) {
        const or = outOff + (to[i] as number) * cols;
        const wr = i * cols;
        for (let j = 0; j < cols; j++) out[or + j] = w2[wr + j] as number;
      }
    }
    const src = transpose ? this.unitRows : this.unitCols;
    const dst = transpose ? this.unitCols : this.unitRows;
    for (let u = 0; u < this.units; u++) {
      const xr = xOff + (src[u] as number) * cols;
      const or = outOff + (dst[u] as number) * cols;
      const scale = this.unitScales[u] as number;
      for (let j = 0; j < cols; j++) out[or + j] = scale * (x[xr + j] as number);
    }
    return out;
  }
}
