/**
 * Reductions over axes (sum, max; mean and min are composites) and the numerically stable
 * logsumexp and log-softmax along one axis.
 *
 * Equations:
 *   sum:        y = Σ_axes x                          max: y = max_axes x (first maximum wins ties)
 *   logsumexp:  y = m + ln Σⱼ e^(xⱼ − m), m = maxⱼ xⱼ  (the shift by m prevents overflow; y = −∞ when
 *               every xⱼ = −∞, +∞ when some xⱼ = +∞)
 *   logSoftmax: yⱼ = xⱼ − logsumexp(x)
 * Source: the max-shift identity, e.g. Blanchard, Higham & Higham, "Accurately computing the
 * log-sum-exp and softmax functions", IMA J. Numer. Anal. 2021, §2.
 * Reductions walk the input with the output read at stride 0 along reduced axes (broadcast.ts);
 * sums accumulate each run in a double before storing.
 *
 * Cost: O(size) (logsumexp/logSoftmax: two passes and one exp per element).
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { forEachReducedRun, normalizeAxes, normalizeAxis, sizeOf } from "../broadcast.ts";
import { allocLike, assertTensor, constant } from "../internal/check.ts";
import { acquireInt } from "../pool.ts";
import type { AxisAttrs } from "../rules.ts";
import { record } from "../tape.ts";
import { Tensor } from "../tensor.ts";
import { exp, mul, neg } from "./elementwise.ts";

function reducedShapes(op: string, x: Tensor, axes: number | readonly number[] | undefined, keepdims: boolean) {
  const ax = normalizeAxes(op, axes, x.ndim);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return { ax, kept, shape };
}

/** Σ over `axes` (all axes when omitted); `keepdims` keeps reduced axes as size 1. */
export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  assertTensor("sum", "x", x);
  const { kept, shape } = reducedShapes("sum", x, axes, keepdims);
  const y = allocLike(sizeOf(kept), x.data);
  const xd = x.data;
  forEachReducedRun(x.shape, kept, (ox, oy, _o2, n, tx, ty) => sumRun(xd, y, ox, oy, n, tx, ty));
  const out = new Tensor(y, shape);
  record("sum", [x], out, { keptShape: kept });
  return out;
}

/**
 * One run of `sum`: y[oy] += Σ x over the run (ty = 0, a reduced innermost axis) or y ← y + x
 * elementwise. A module function rather than the loop inside the run callback: in processes where
 * `sum` met both element types (a curvature optimizer's step), V8 stopped optimising that callback
 * and its running sum was boxed per element — a sampled allocation profile showed ≈ 0.5–0.7 MB of
 * numbers per KFAC/EKFAC step of the demo autoencoder in the loss's sum, none for SGD.
 */
function sumRun(xd: FloatArray, y: FloatArray, ox: number, oy: number, n: number, tx: number, ty: number): void {
  if (ty === 0) {
    let s = 0;
    for (let i = 0; i < n; i++, ox += tx) s += xd[ox] as number;
    y[oy] = (y[oy] as number) + s;
  } else {
    for (let i = 0; i < n; i++, ox += tx, oy += ty) y[oy] = (y[oy] as number) + (xd[ox] as number);
  }
}

/** Mean over `axes` (composite: sum · 1/count). */
export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  assertTensor("mean", "x", x);
  const ax = normalizeAxes("mean", axes, x.ndim);
  let count = 1;
  for (const a of ax) count *= x.shape[a] as number;
  return mul(sum(x, ax, keepdims), constant(1 / count, x.dtype));
}

/** Maximum over `axes`; the gradient goes to the first maximal element. NaN propagates. */
export function max(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  assertTensor("max", "x", x);
  const { kept, shape } = reducedShapes("max", x, axes, keepdims);
  const size = sizeOf(kept);
  if (size > 0 && x.size === 0) throw new RangeError("max: cannot reduce over a zero-sized axis");
  const y = allocLike(size, x.data);
  const arg = acquireInt(size).fill(-1);
  const xd = x.data;
  forEachReducedRun(x.shape, kept, (ox, oy, _o2, n, tx, ty) => {
    for (let i = 0; i < n; i++, ox += tx, oy += ty) {
      const v = xd[ox] as number;
      const m = y[oy] as number;
      if ((arg[oy] as number) < 0 || v > m || (Number.isNaN(v) && !Number.isNaN(m))) {
        y[oy] = v;
        arg[oy] = ox;
      }
    }
  });
  const out = new Tensor(y, shape);
  record("max", [x], out, { keptShape: kept }, [arg]);
  return out;
}

/** Minimum over `axes` (composite: −max(−x)). */
export function min(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return neg(max(neg(x), axes, keepdims));
}

function split(x: Tensor, axis: number): AxisAttrs {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < axis; i++) outer *= x.shape[i] as number;
  for (let i = axis + 1; i < x.ndim; i++) inner *= x.shape[i] as number;
  return { outer, len: x.shape[axis] as number, inner };
}

/**
 * m + ln Σⱼ exp(x[base + j·inner] − m) over one line of `len` elements, m the line's maximum. A line of
 * −∞ (or one holding +∞ or NaN) has no finite shift; m itself is then the log-sum.
 */
function lseLine(x: FloatArray, base: number, len: number, inner: number): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < len; j++) {
    const v = x[base + j * inner] as number;
    if (v > m || Number.isNaN(v)) m = v;
  }
  if (!Number.isFinite(m)) return m;
  let s = 0;
  for (let j = 0; j < len; j++) s += Math.exp((x[base + j * inner] as number) - m);
  return m + Math.log(s);
}

/** y[o, i] = logsumexp of x[o, :, i] along one (outer, len, inner) split. */
function lseKernel(x: FloatArray, y: FloatArray, outer: number, len: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) y[o * inner + i] = lseLine(x, o * len * inner + i, len, inner);
  }
}

/** ln Σ exp(x) along `axis` (all elements when omitted), stable for large |x|. */
export function logsumexp(x: Tensor, axis?: number, keepdims = false): Tensor {
  assertTensor("logsumexp", "x", x);
  const attrs: AxisAttrs =
    axis === undefined ? { outer: 1, len: x.size, inner: 1 } : split(x, normalizeAxis("logsumexp", axis, x.ndim));
  const ax = axis === undefined ? undefined : normalizeAxis("logsumexp", axis, x.ndim);
  const kept = x.shape.map((d, i) => (ax === undefined || ax === i ? 1 : d));
  const shape = keepdims ? kept : x.shape.filter((_, i) => !(ax === undefined || ax === i));
  const y = allocLike(attrs.outer * attrs.inner, x.data);
  lseKernel(x.data, y, attrs.outer, attrs.len, attrs.inner);
  const out = new Tensor(y, shape);
  record("logsumexp", [x], out, attrs);
  return out;
}

/** x − logsumexp(x) along `axis` (default the last), computed in one stable pass. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertTensor("logSoftmax", "x", x);
  const attrs = split(x, normalizeAxis("logSoftmax", axis, x.ndim));
  const { outer, len, inner } = attrs;
  const xd = x.data;
  const y = allocLike(x.size, xd);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      const l = lseLine(xd, base, len, inner);
      for (let j = 0; j < len; j++) y[base + j * inner] = (xd[base + j * inner] as number) - l;
    }
  }
  const out = new Tensor(y, x.shape);
  record("logSoftmax", [x], out, attrs);
  return out;
}

/** exp(logSoftmax(x)) along `axis` (composite). */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertTensor("softmax", "x", x);
  normalizeAxis("softmax", axis, x.ndim); // errors name the op the user called, not logSoftmax
  return exp(logSoftmax(x, axis));
}
