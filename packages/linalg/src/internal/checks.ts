/**
 * The argument checks of the package's public boundary, in one place: blas.ts, gemm.ts, syrk.ts,
 * cholesky.ts, kron.ts, eigh.ts and tridiagonal.ts take their checks from here (kernels trust their
 * callers and check nothing). Each check throws a TypeError for the wrong kind of value and a
 * RangeError for a wrong size, naming the function (`fn`), the argument (`name`), what was expected
 * and what was given, as `gemm: c is 3×3, expected 3×2 (a is 3×4, b is 4×2)`.
 *
 * The matrix-record checks that are public API (`assertMatrix`, `assertSameDtype`, `assertNoOverlap`)
 * are defined in matrix.ts and re-exported here, so a module imports all of its checks from this file.
 * A check that passes allocates nothing: messages are built only on failure (`lengthError` and
 * `shapeError` make the error for a caller that has already compared), so the per-step entry points
 * (gemmStrided, syrk) can use them.
 */
import { assertMatrix, type FloatArray, type Matrix, offsetOf, overlapOf, shapeOf, strideOf } from "../matrix.ts";

export { assertMatrix, assertNoOverlap, assertSameDtype } from "../matrix.ts";

/** What a value is, for messages: its constructor's name (`Array`, `Int32Array`) or its typeof. */
export function kindOf(x: unknown): string {
  return (x as { constructor?: { name?: string } } | null | undefined)?.constructor?.name ?? typeof x;
}

export function assertFloatArray(fn: string, name: string, x: unknown): asserts x is FloatArray {
  if (!(x instanceof Float32Array || x instanceof Float64Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or Float64Array (got ${kindOf(x)})`);
  }
}

export function assertNumber(fn: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== "number") throw new TypeError(`${fn}: ${name} must be a number (got ${typeof v})`);
}

/** The scalars α and β of a BLAS update (gemm, gemv, syrk: C ← α·… + β·C). */
export function assertAlphaBeta(fn: string, alpha: unknown, beta: unknown): void {
  assertNumber(fn, "alpha", alpha);
  assertNumber(fn, "beta", beta);
}

export function assertFunction(fn: string, name: string, f: unknown): void {
  if (typeof f !== "function") throw new TypeError(`${fn}: ${name} must be a function (got ${typeof f})`);
}

/**
 * An option string that must be one of `allowed`: `fn: name must be "a", "b" or "c" (got "d")`. The
 * error type is the caller's contract (setBackend and setWasmKernel have thrown TypeError, eigh's
 * options RangeError).
 */
export function assertOneOf<T extends string>(
  fn: string,
  name: string,
  v: unknown,
  allowed: readonly T[],
  ErrorType: typeof TypeError | typeof RangeError = TypeError,
): asserts v is T {
  if ((allowed as readonly unknown[]).includes(v)) return;
  const quoted = allowed.map((a) => JSON.stringify(a));
  const list =
    quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}` : quoted.join("");
  throw new ErrorType(`${fn}: ${name} must be ${list} (got ${JSON.stringify(v)})`);
}

/** A size, an offset or an iteration cap: a non-negative integer. */
export function assertIndex(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${fn}: ${name} must be a non-negative integer (got ${v})`);
}

/** A matrix that is not a strided view (offset 0, stride = cols), for the routines that index densely. */
export function assertDense(fn: string, name: string, a: Matrix): void {
  assertMatrix(fn, name, a);
  if (offsetOf(a) !== 0 || strideOf(a) !== a.cols) {
    throw new RangeError(`${fn}: ${name} must be a dense matrix, not a strided view`);
  }
}

/** A square matrix; `layout: "dense"` also refuses strided views. */
export function assertSquare(fn: string, name: string, a: Matrix, layout: "view" | "dense" = "view"): void {
  if (layout === "dense") assertDense(fn, name, a);
  else assertMatrix(fn, name, a);
  if (a.rows !== a.cols) throw new RangeError(`${fn}: ${name} must be square (got ${shapeOf(a)})`);
}

export function assertSameLength(fn: string, nx: string, x: FloatArray, ny: string, y: FloatArray): void {
  if (x.length !== y.length) {
    throw new RangeError(`${fn}: ${nx} has length ${x.length} but ${ny} has length ${y.length}; lengths must match`);
  }
}

export function assertSameShape(fn: string, na: string, a: Matrix, nb: string, b: Matrix): void {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new RangeError(`${fn}: ${na} is ${shapeOf(a)} but ${nb} is ${shapeOf(b)}; shapes must match`);
  }
}

/** `fn: name has length 3, expected 4 (context)`, for a caller that found the length wrong. */
export function lengthError(
  fn: string,
  name: string,
  length: number,
  expected: number | string,
  context?: string,
): RangeError {
  return new RangeError(`${fn}: ${name} has length ${length}, expected ${expected}${inParens(context)}`);
}

/** `fn: name is 3×3, expected 3×2 (context)`, for a caller that found the shape wrong. */
export function shapeError(fn: string, name: string, a: Matrix, expected: string, context?: string): RangeError {
  return new RangeError(`${fn}: ${name} is ${shapeOf(a)}, expected ${expected}${inParens(context)}`);
}

function inParens(context: string | undefined): string {
  return context === undefined ? "" : ` (${context})`;
}

/**
 * A stored rows×cols matrix at `off` with leading dimension `ld` (BLAS's lda, row-major) must fit in
 * `buf`: ld ≥ max(1, cols) and off + (rows − 1)·ld + cols ≤ buf.length.
 */
export function assertStored(
  fn: string,
  name: string,
  buf: FloatArray,
  off: number,
  ld: number,
  rows: number,
  cols: number,
): void {
  if (!Number.isInteger(ld) || ld < Math.max(1, cols)) {
    throw new RangeError(`${fn}: ld${name} = ${ld} must be ≥ max(1, ${cols}) for a stored ${rows}×${cols} matrix`);
  }
  const need = rows === 0 || cols === 0 ? 0 : off + (rows - 1) * ld + cols;
  if (need > buf.length) {
    throw new RangeError(
      `${fn}: ${name} (stored ${rows}×${cols}, offset ${off}, ld ${ld}) needs ${need} elements, has ${buf.length}`,
    );
  }
}

/**
 * One operand of a strided entry point (gemmStrided, syrkStrided): its offset `offName` a non-negative
 * integer, `buf` a Float32Array/Float64Array, and the rows×cols matrix at `off` with leading dimension
 * `ld` inside it (see assertStored). Builds no strings unless it throws.
 */
export function assertStridedOperand(
  fn: string,
  name: string,
  offName: string,
  buf: FloatArray,
  off: number,
  ld: number,
  rows: number,
  cols: number,
): void {
  assertIndex(fn, offName, off);
  assertFloatArray(fn, name, buf);
  assertStored(fn, name, buf, off, ld, rows, cols);
}

/** True when the two typed arrays overlap in memory (same array, or overlapping views of one buffer). */
export function sharesMemory(x: FloatArray, y: FloatArray): boolean {
  return overlapOf(x, y) !== "none";
}

/** Index range [first, last) a (possibly strided) matrix touches in its buffer. */
function spanOf(a: Matrix): readonly [number, number] {
  if (a.rows === 0 || a.cols === 0) return [0, 0];
  const off = offsetOf(a);
  return [off, off + (a.rows - 1) * strideOf(a) + a.cols];
}

function viewsOverlap(out: Matrix, a: Matrix): boolean {
  if (out.data !== a.data) return false;
  const [o0, o1] = spanOf(out);
  const [a0, a1] = spanOf(a);
  return o0 < a1 && a0 < o1;
}

/** Elementwise ops allow `out` to be exactly an input view, never a partial overlap (it would read overwritten values). */
export function assertNoPartialOverlap(fn: string, out: Matrix, name: string, a: Matrix): void {
  if (out.data === a.data && offsetOf(out) === offsetOf(a) && strideOf(out) === strideOf(a)) return;
  if (viewsOverlap(out, a)) {
    throw new RangeError(`${fn}: out overlaps ${name} in the same buffer without being the same view`);
  }
}

/** For ops that read an input element after writing another (transpose): no overlap at all. */
export function assertDisjoint(fn: string, out: Matrix, name: string, a: Matrix): void {
  if (viewsOverlap(out, a)) throw new RangeError(`${fn}: out must not overlap ${name} (shared buffer)`);
}
