/**
 * Dense row-major matrices over Float32Array or Float64Array.
 *
 * A `Matrix` is a plain structural record `{ rows, cols, data }` with `data.length === rows * cols`
 * and element (i, j) at `data[i * cols + j]`. Any object of that shape is accepted, so users of other
 * libraries can pass their own buffers without copying. Float32 is the default element type; Float64
 * serves verification (the property tests) and users who need it. Every function accepts both, and
 * operands of one call must share the element type (mixing would silently round one of them).
 *
 * Strided views (`MatrixView`, with `offset` and row `stride`) address a sub-block of a larger buffer
 * without copying; the BLAS-style kernels in `gemm.ts` take them where they pay off.
 */

/** The element storage of a {@link Matrix}: float32 (the default) or float64. */
export type FloatArray = Float32Array | Float64Array;
/** The name of an element type, as the constructors take it. */
export type DType = "float32" | "float64";

/**
 * A dense row-major matrix: the plain structural record `{ rows, cols, data }` with
 * `data.length === rows * cols` and element (i, j) at `data[i * cols + j]`. Any object of that shape is
 * accepted, so buffers from other libraries pass without copying. Operands of one call must share the
 * element type.
 */
export interface Matrix<T extends FloatArray = FloatArray> {
  /** Number of rows. */
  readonly rows: number;
  /** Number of columns. */
  readonly cols: number;
  /** The elements, row after row. */
  readonly data: T;
}

/** A row-major view: element (i, j) lives at `data[offset + i * stride + j]`, `stride >= cols`. */
export interface MatrixView<T extends FloatArray = FloatArray> extends Matrix<T> {
  /** Index in `data` of element (0, 0). */
  readonly offset: number;
  /** Distance in `data` between the starts of consecutive rows (≥ `cols`). */
  readonly stride: number;
}

/** The element type of a typed array: "float64" for a Float64Array, else "float32". */
export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float64Array ? "float64" : "float32";
}

/** Machine epsilon (unit roundoff × 2) of the element type: 2⁻²³ for float32, 2⁻⁵² for float64. */
export function epsilonOf(data: FloatArray): number {
  return data instanceof Float64Array ? 2 ** -52 : 2 ** -23;
}

/**
 * A zero-filled array of `length` elements. `fn` names the public function for the error when the
 * size is not a non-negative integer or the engine cannot allocate it (its own message, "Invalid typed
 * array length", names neither the function nor the size), and for a `dtype` other than "float32" or
 * "float64" (a TypeError: "float16" or a misspelling is never silently float32).
 */
export function allocate(length: number, dtype: DType = "float32", fn = "allocate"): FloatArray {
  if (dtype !== "float32" && dtype !== "float64") {
    throw new TypeError(`${fn}: dtype must be "float32" or "float64" (got ${String(dtype)})`);
  }
  if (!Number.isInteger(length) || length < 0) {
    throw new RangeError(`${fn}: cannot allocate ${length} elements (expected a non-negative integer size)`);
  }
  try {
    return dtype === "float64" ? new Float64Array(length) : new Float32Array(length);
  } catch (e) {
    const bytes = length * (dtype === "float64" ? 8 : 4);
    throw new RangeError(
      `${fn}: cannot allocate ${length} ${dtype} elements (${bytes.toExponential(2)} bytes): ${(e as Error).message}`,
    );
  }
}

function checkDim(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer (got ${value})`);
  }
}

/** A zero-filled `rows × cols` matrix. */
export function zeros(rows: number, cols: number, dtype: DType = "float32"): Matrix {
  checkDim("zeros", "rows", rows);
  checkDim("zeros", "cols", cols);
  return { rows, cols, data: allocate(rows * cols, dtype, "zeros") };
}

/** The `n × n` identity. */
export function eye(n: number, dtype: DType = "float32"): Matrix {
  checkDim("eye", "n", n);
  const m = { rows: n, cols: n, data: allocate(n * n, dtype, "eye") };
  for (let i = 0; i < n; i++) m.data[i * n + i] = 1;
  return m;
}

/**
 * A matrix from row-major values. Throws a RangeError when `values.length !== rows * cols`: values are
 * never truncated or padded.
 */
export function fromArray(rows: number, cols: number, values: ArrayLike<number>, dtype: DType = "float32"): Matrix {
  checkDim("fromArray", "rows", rows);
  checkDim("fromArray", "cols", cols);
  if (values.length !== rows * cols) {
    throw new RangeError(
      `fromArray: values has length ${values.length}, expected rows·cols = ${rows}·${cols} = ${rows * cols}`,
    );
  }
  const data = allocate(rows * cols, dtype, "fromArray");
  for (let i = 0; i < data.length; i++) data[i] = values[i] as number;
  return { rows, cols, data };
}

/** A matrix from nested rows (`[[1, 2], [3, 4]]`); every row must have the same length. */
export function fromRows(rows: ArrayLike<ArrayLike<number>>, dtype: DType = "float32"): Matrix {
  const r = rows.length;
  const c = r === 0 ? 0 : (rows[0] as ArrayLike<number>).length;
  const data = allocate(r * c, dtype);
  for (let i = 0; i < r; i++) {
    const row = rows[i] as ArrayLike<number>;
    if (row.length !== c) throw new RangeError(`fromRows: row ${i} has length ${row.length}, expected ${c}`);
    for (let j = 0; j < c; j++) data[i * c + j] = row[j] as number;
  }
  return { rows: r, cols: c, data };
}

/** A copy of `a` (optionally converted to another element type). */
export function clone(a: Matrix, dtype?: DType): Matrix {
  assertMatrix("clone", "a", a); // before reading a.data for the default type: clone(null) is a TypeError
  const data = allocate(a.data.length, dtype ?? dtypeOf(a.data), "clone");
  data.set(a.data);
  return { rows: a.rows, cols: a.cols, data };
}

/**
 * Element (i, j), bounds-checked; for tests and examples, not for inner loops. Indices must be
 * integers: `get(m, 0.5, 0)` would otherwise read `data[0.5·cols]`, a different element or undefined.
 */
export function get(a: Matrix, i: number, j: number): number {
  assertMatrix("get", "a", a);
  if (!Number.isInteger(i) || !Number.isInteger(j)) {
    throw new RangeError(`get: indices must be integers (got (${i}, ${j}))`);
  }
  if (!(i >= 0 && i < a.rows && j >= 0 && j < a.cols)) {
    throw new RangeError(`get: index (${i}, ${j}) is outside a ${a.rows}×${a.cols} matrix`);
  }
  return a.data[offsetOf(a) + i * strideOf(a) + j] as number;
}

/** A strided view of the block `rows × cols` starting at (i0, j0) of `a`; shares `a.data`. */
export function view(a: Matrix, i0: number, j0: number, rows: number, cols: number): MatrixView {
  assertMatrix("view", "a", a);
  const base = a as Partial<MatrixView>;
  const offset = base.offset ?? 0;
  const stride = base.stride ?? a.cols;
  if (i0 < 0 || j0 < 0 || rows < 0 || cols < 0 || i0 + rows > a.rows || j0 + cols > a.cols) {
    throw new RangeError(
      `view: block (${i0}, ${j0}) of size ${rows}×${cols} does not fit in a ${a.rows}×${a.cols} matrix`,
    );
  }
  return { rows, cols, data: a.data, offset: offset + i0 * stride + j0, stride };
}

/** The shape as `rows×cols`, for error messages. */
export function shapeOf(a: Matrix): string {
  return `${a.rows}×${a.cols}`;
}

/**
 * Validates the structural contract at a public boundary: a Float32Array or Float64Array `data` of
 * exactly `rows * cols` elements (or, for a view, enough elements for its offset and stride).
 */
export function assertMatrix(fn: string, name: string, a: Matrix): void {
  if (a === null || typeof a !== "object") {
    throw new TypeError(`${fn}: ${name} must be a matrix {rows, cols, data} (got ${a === null ? "null" : typeof a})`);
  }
  if (!(a.data instanceof Float32Array || a.data instanceof Float64Array)) {
    const kind = (a.data as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? typeof a.data;
    throw new TypeError(`${fn}: ${name}.data must be a Float32Array or Float64Array (got ${kind})`);
  }
  if (!Number.isInteger(a.rows) || !Number.isInteger(a.cols) || a.rows < 0 || a.cols < 0) {
    throw new RangeError(`${fn}: ${name} has invalid shape ${a.rows}×${a.cols}`);
  }
  const v = a as Partial<MatrixView>;
  if (v.offset !== undefined || v.stride !== undefined) {
    const offset = v.offset ?? 0;
    const stride = v.stride ?? a.cols;
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(stride) || stride < a.cols) {
      throw new RangeError(`${fn}: ${name} has invalid view offset ${offset} / stride ${stride} for ${a.cols} columns`);
    }
    const needed = a.rows === 0 || a.cols === 0 ? 0 : offset + (a.rows - 1) * stride + a.cols;
    if (needed > a.data.length) {
      throw new RangeError(
        `${fn}: ${name} view (${shapeOf(a)}, offset ${offset}, stride ${stride}) needs ${needed} elements, data has ${a.data.length}`,
      );
    }
    return;
  }
  if (a.data.length !== a.rows * a.cols) {
    throw new RangeError(
      `${fn}: ${name}.data has length ${a.data.length}, expected rows·cols = ${a.rows}·${a.cols} = ${a.rows * a.cols}`,
    );
  }
}

/** Throws a TypeError unless `b` has the element type of `a`. */
export function assertSameDtype(fn: string, nameA: string, a: FloatArray, nameB: string, b: FloatArray): void {
  const da = dtypeOf(a);
  const db = dtypeOf(b);
  if (da !== db) {
    throw new TypeError(`${fn}: ${nameA} is ${da} but ${nameB} is ${db}; operands must share one element type`);
  }
}

/** The offset of element (0, 0) in `data`: a view's `offset`, 0 for a plain matrix. */
export function offsetOf(a: Matrix): number {
  return (a as Partial<MatrixView>).offset ?? 0;
}

/** The row stride in `data`: a view's `stride`, `cols` for a plain matrix. */
export function strideOf(a: Matrix): number {
  return (a as Partial<MatrixView>).stride ?? a.cols;
}

/**
 * How two arrays share memory: "none", "identical" (the same elements, e.g. `out === a` or two equal
 * subarrays) or "partial" (same buffer, overlapping but different byte ranges). Comparing the typed
 * arrays by reference misses `subarray` views of one buffer, which alias just as much.
 */
export function overlapOf(a: ArrayBufferView, b: ArrayBufferView): "none" | "identical" | "partial" {
  if (a.buffer !== b.buffer) return "none";
  const a0 = a.byteOffset;
  const a1 = a0 + a.byteLength;
  const b0 = b.byteOffset;
  const b1 = b0 + b.byteLength;
  if (a1 <= b0 || b1 <= a0 || a.byteLength === 0 || b.byteLength === 0) return "none";
  return a0 === b0 && a1 === b1 ? "identical" : "partial";
}

/**
 * Throws a RangeError when `a` and `b` share memory, except identical arrays where `allowIdentical`
 * (the routine is documented as in-place safe for that pair, as LAPACK's in-place factorisations).
 * A partial overlap is never safe: the routine would read elements it has already overwritten.
 */
export function assertNoOverlap(
  fn: string,
  nameA: string,
  a: ArrayBufferView,
  nameB: string,
  b: ArrayBufferView,
  allowIdentical = false,
): void {
  const o = overlapOf(a, b);
  if (o === "none" || (o === "identical" && allowIdentical)) return;
  throw new RangeError(
    `${fn}: ${nameA} and ${nameB} ${o === "identical" ? "are the same memory" : "partly overlap in memory"}; ` +
      (allowIdentical ? `pass the same array for in-place use or disjoint arrays` : `they must be disjoint`),
  );
}
