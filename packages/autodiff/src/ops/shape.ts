/**
 * Layout ops: reshape (shares data), permute/transpose, slice, concat, and gather by index.
 *
 * Equations (index form; the gradients in rules.ts scatter-add back along the same map):
 *   reshape:  y = x with a new shape of the same size (one axis may be −1, inferred)
 *   permute:  y[i₀…] = x[i_{p⁻¹(0)}…], y.shape[k] = x.shape[axes[k]]
 *   slice:    y[i] = x[start + i] per axis, start ≤ i < end (half-open, as NumPy)
 *   concat:   y = [x₁ | x₂ | …] along `axis`
 *   gather:   y[o, j, i] = x[o, index[o, j, i], i] along `axis` (torch.gather), index.shape = y.shape
 * Copies go through the strided walk of broadcast.ts (one call per contiguous run).
 *
 * Cost: O(size of the output) each.
 */
import { contiguousStrides, forEachRun, formatShape, normalizeAxis, sizeOf } from "../broadcast.ts";
import { allocLike, assertSameType, assertTensor } from "../internal/check.ts";
import { acquireInt } from "../pool.ts";
import { record } from "../tape.ts";
import { checkShape, Tensor } from "../tensor.ts";

/** A tensor of the same values in a new shape (no copy); one entry may be −1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const fn = "reshape";
  assertTensor(fn, "x", x);
  if (!Array.isArray(shape)) throw new TypeError(`${fn}: shape must be an array (got ${typeof shape})`);
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as number;
    if (d === -1 && infer < 0) infer = i;
    else if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${fn}: shape ${formatShape(shape)} must hold non-negative integers and at most one −1`);
    } else known *= d;
  }
  const s = shape.slice();
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) {
      throw new RangeError(
        `${fn}: cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`,
      );
    }
    s[infer] = x.size / known;
  }
  if (sizeOf(s) !== x.size) {
    throw new RangeError(`${fn}: cannot reshape ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`);
  }
  const out = new Tensor(x.data, s);
  out.base = x.base ?? x; // shares x's buffer: an in-place change of x changes out (tensor.ts, versions)
  record("reshape", [x], out, {});
  return out;
}

/** Collapses axes from `startAxis` on into one (default: keep the first axis, the batch). */
export function flatten(x: Tensor, startAxis = 1): Tensor {
  assertTensor("flatten", "x", x);
  const a = normalizeAxis("flatten", startAxis, x.ndim);
  return reshape(x, [...x.shape.slice(0, a), -1]);
}

/** Reorders axes: y.shape[k] = x.shape[axes[k]] (copies). */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const fn = "permute";
  assertTensor(fn, "x", x);
  if (!Array.isArray(axes) || axes.length !== x.ndim) {
    throw new RangeError(
      `${fn}: axes must list each of the ${x.ndim} axes of ${formatShape(x.shape)} once (got ${String(axes)})`,
    );
  }
  const seen = new Array<boolean>(x.ndim).fill(false);
  const p = axes.map((a) => {
    const n = normalizeAxis(fn, a, x.ndim);
    if (seen[n]) throw new RangeError(`${fn}: axis ${a} is repeated in ${formatShape(axes)}`);
    seen[n] = true;
    return n;
  });
  const own = contiguousStrides(x.shape);
  const shape = p.map((a) => x.shape[a] as number);
  const xStrides = p.map((a) => own[a] as number);
  const y = allocLike(x.size, x.data);
  copyStrided(y, x.data, shape, xStrides, 0);
  const out = new Tensor(y, shape);
  record("permute", [x], out, { xStrides });
  return out;
}

/** Reverses the axes (NumPy's transpose), or applies `axes` when given. */
export function transpose(x: Tensor, axes?: readonly number[]): Tensor {
  assertTensor("transpose", "x", x);
  return permute(x, axes ?? x.shape.map((_, i) => x.ndim - 1 - i));
}

/** y (contiguous, `shape`) = x read at `xStrides` from `offset`. */
function copyStrided(
  y: Float32Array | Float64Array,
  x: Float32Array | Float64Array,
  shape: readonly number[],
  xStrides: readonly number[],
  offset: number,
): void {
  forEachRun(
    shape,
    contiguousStrides(shape),
    xStrides,
    xStrides,
    (oy, ox, _o, n, _t, tx) => {
      for (let i = 0; i < n; i++, ox += tx) y[oy + i] = x[ox] as number;
    },
    0,
    offset,
    offset,
  );
}

/**
 * The block x[starts[0]:ends[0], starts[1]:ends[1], …] (half-open); axes beyond the arrays' length
 * are taken whole. Out-of-range bounds are a RangeError (never clamped).
 */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  const fn = "slice";
  assertTensor(fn, "x", x);
  if (!Array.isArray(starts) || !Array.isArray(ends) || starts.length !== ends.length || starts.length > x.ndim) {
    throw new RangeError(
      `${fn}: starts and ends must be arrays of equal length ≤ rank ${x.ndim} (got ${String(starts)} and ${String(ends)})`,
    );
  }
  const xStrides = contiguousStrides(x.shape);
  const shape = x.shape.slice();
  let offset = 0;
  for (let i = 0; i < starts.length; i++) {
    const s = starts[i] as number;
    const e = ends[i] as number;
    const d = x.shape[i] as number;
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > d || s > e) {
      throw new RangeError(
        `${fn}: axis ${i} range [${s}, ${e}) is not inside [0, ${d}] of shape ${formatShape(x.shape)}`,
      );
    }
    shape[i] = e - s;
    offset += s * (xStrides[i] as number);
  }
  const y = allocLike(sizeOf(shape), x.data);
  copyStrided(y, x.data, shape, xStrides, offset);
  const out = new Tensor(y, shape);
  record("slice", [x], out, { offset, xStrides });
  return out;
}

/** Joins tensors along `axis`; all other sizes must agree. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  const fn = "concat";
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new RangeError(`${fn}: expected a non-empty array of tensors`);
  const first = assertTensor(fn, "tensors[0]", tensors[0]);
  const ax = normalizeAxis(fn, axis, first.ndim);
  let total = 0;
  tensors.forEach((u: unknown, k: number) => {
    const t = assertTensor(fn, `tensors[${k}]`, u);
    assertSameType(fn, "tensors[0]", first, `tensors[${k}]`, t);
    const ok = t.ndim === first.ndim && t.shape.every((d, i) => i === ax || d === first.shape[i]);
    if (!ok) {
      throw new RangeError(
        `${fn}: tensors[${k}] has shape ${formatShape(t.shape)}, incompatible with ${formatShape(first.shape)} along axis ${ax}`,
      );
    }
    total += t.shape[ax] as number;
  });
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < ax; i++) outer *= first.shape[i] as number;
  for (let i = ax + 1; i < first.ndim; i++) inner *= first.shape[i] as number;
  const widths = tensors.map((t) => (t.shape[ax] as number) * inner);
  const row = total * inner;
  const y = allocLike(outer * row, first.data);
  let col = 0;
  tensors.forEach((t, k) => {
    const w = widths[k] as number;
    for (let o = 0; o < outer; o++) y.set(t.data.subarray(o * w, o * w + w), o * row + col);
    col += w;
  });
  const shape = first.shape.slice();
  shape[ax] = total;
  const out = new Tensor(y, shape);
  record("concat", tensors, out, { outer, widths });
  return out;
}

/**
 * torch.gather along `axis`: y[o, j, i] = x[o, index[o, j, i], i]. `index` holds integers; its shape
 * defaults to x's with size 1 along `axis` (one index per slice, e.g. class labels for cross-entropy).
 */
export function gather(x: Tensor, axis: number, index: ArrayLike<number>, indexShape?: readonly number[]): Tensor {
  const fn = "gather";
  assertTensor(fn, "x", x);
  const ax = normalizeAxis(fn, axis, x.ndim);
  const shape: number[] =
    indexShape === undefined ? x.shape.map((d, i) => (i === ax ? 1 : d)) : checkShape(fn, indexShape).slice();
  if (shape.length !== x.ndim || shape.some((d, i) => i !== ax && d !== x.shape[i])) {
    throw new RangeError(
      `${fn}: index shape ${formatShape(shape)} must match x's ${formatShape(x.shape)} except along axis ${ax}`,
    );
  }
  if (indexShape === undefined && index.length !== sizeOf(shape)) {
    throw new RangeError(
      `${fn}: index has ${index.length} entries, expected ${sizeOf(shape)} (one per slice along axis ${ax} of ${formatShape(x.shape)})`,
    );
  }
  if (index.length !== sizeOf(shape)) {
    throw new RangeError(
      `${fn}: index has ${index.length} entries, expected ${sizeOf(shape)} for index shape ${formatShape(shape)}`,
    );
  }
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < ax; i++) outer *= x.shape[i] as number;
  for (let i = ax + 1; i < x.ndim; i++) inner *= x.shape[i] as number;
  const len = x.shape[ax] as number;
  const k = shape[ax] as number;
  // Saved as flat source positions in x, so the rule is one scatter-add.
  const src = acquireInt(index.length);
  const y = allocLike(index.length, x.data);
  const xd = x.data;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < k; j++) {
      for (let i = 0; i < inner; i++) {
        const p = (o * k + j) * inner + i;
        const v = index[p] as number;
        if (!Number.isInteger(v) || v < 0 || v >= len) {
          throw new RangeError(`${fn}: index[${p}] = ${v} is outside [0, ${len}) along axis ${ax}`);
        }
        const q = (o * len + v) * inner + i;
        src[p] = q;
        y[p] = xd[q] as number;
      }
    }
  }
  const out = new Tensor(y, shape);
  record("gather", [x], out, {}, [src]);
  return out;
}
