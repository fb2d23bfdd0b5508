/**
 * NumPy-style broadcasting and the strided iteration every elementwise op, reduction and layout op
 * runs on.
 *
 * Broadcasting (NumPy, "General broadcasting rules"): shapes are aligned at their last axis; two
 * sizes are compatible when equal or when one is 1; the result takes the larger. A broadcast operand
 * is read with stride 0 along the axes where it has size 1 (or is missing).
 *
 * `forEachRun` walks a shape in row-major order for up to three operands, each with its own strides
 * and offset, and calls its body once per innermost contiguous *run* (not per element), after
 * dropping size-1 axes and merging axes that are contiguous for all three operands. The body holds
 * the tight typed-array loop. Reductions are the same walk with the output read at stride 0 along the
 * reduced axes, and a reduction's gradient is the same walk again, accumulating (`+=`) into stride-0
 * positions.
 *
 * Cost: O(size) element visits; O(size / run length) body calls.
 */

/** A tensor shape: the size of each axis, outermost first. */
export type Shape = readonly number[];

/** A shape as `[2,3,4]`, for error messages. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The broadcast shape of `a` and `b`; RangeError naming `op` and both shapes when incompatible. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : (a[i - (n - a.length)] as number);
    const db = i < n - b.length ? 1 : (b[i - (n - b.length)] as number);
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot broadcast`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i] as number;
  }
  return s;
}

/** Strides for reading a contiguous tensor of `shape` as if it had `target` (0 on broadcast axes). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const own = contiguousStrides(shape);
  const lead = target.length - shape.length;
  const s = new Array<number>(target.length);
  for (let i = 0; i < target.length; i++) {
    const j = i - lead;
    s[i] = j < 0 || shape[j] === 1 ? 0 : (own[j] as number);
  }
  return s;
}

/** The body of a strided walk: offsets of the run's first element, its length, and run strides. */
export type RunBody = (o0: number, o1: number, o2: number, n: number, t0: number, t1: number, t2: number) => void;

/**
 * Walks `shape` row-major for three operands with strides `s0`, `s1`, `s2` (same length as `shape`)
 * and starting offsets, calling `body` once per innermost run. Zero-sized shapes make no calls; a
 * scalar (rank 0) makes one call with `n = 1`.
 */
export function forEachRun(
  shape: Shape,
  s0: Shape,
  s1: Shape,
  s2: Shape,
  body: RunBody,
  off0 = 0,
  off1 = 0,
  off2 = 0,
): void {
  const dims: number[] = [];
  const a0: number[] = [];
  const a1: number[] = [];
  const a2: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as number;
    if (d === 0) return;
    if (d === 1) continue;
    const x0 = s0[i] as number;
    const x1 = s1[i] as number;
    const x2 = s2[i] as number;
    const L = dims.length - 1;
    // Merge with the previous axis when, for every operand, stepping it equals `d` steps of this one.
    if (L >= 0 && a0[L] === x0 * d && a1[L] === x1 * d && a2[L] === x2 * d) {
      dims[L] = (dims[L] as number) * d;
      a0[L] = x0;
      a1[L] = x1;
      a2[L] = x2;
      continue;
    }
    dims.push(d);
    a0.push(x0);
    a1.push(x1);
    a2.push(x2);
  }
  const L = dims.length;
  if (L === 0) {
    body(off0, off1, off2, 1, 0, 0, 0);
    return;
  }
  const n = dims[L - 1] as number;
  const t0 = a0[L - 1] as number;
  const t1 = a1[L - 1] as number;
  const t2 = a2[L - 1] as number;
  const outer = L - 1;
  const idx = new Array<number>(outer).fill(0);
  let o0 = off0;
  let o1 = off1;
  let o2 = off2;
  for (;;) {
    body(o0, o1, o2, n, t0, t1, t2);
    let k = outer - 1;
    for (; k >= 0; k--) {
      const c = (idx[k] as number) + 1;
      o0 += a0[k] as number;
      o1 += a1[k] as number;
      o2 += a2[k] as number;
      if (c < (dims[k] as number)) {
        idx[k] = c;
        break;
      }
      const d = dims[k] as number;
      o0 -= (a0[k] as number) * d;
      o1 -= (a1[k] as number) * d;
      o2 -= (a2[k] as number) * d;
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

/**
 * The runs of a reduction: walks x (shape `shape`, contiguous) with operand 1 the reduced output of
 * shape `kept` (the reduced axes 1, broadcast back with stride 0), so `body(ox, oy, _, n, tx, ty)` sees
 * ty = 0 along a reduced innermost axis. Shared by the reductions and their gradients.
 */
export function forEachReducedRun(shape: Shape, kept: Shape, body: RunBody): void {
  forEachRun(
    shape,
    contiguousStrides(shape),
    broadcastStrides(kept, shape),
    shape.map(() => 0),
    body,
  );
}

/** Normalises axes (negative counts from the end), rejecting out-of-range and repeated ones. */
export function normalizeAxes(op: string, axes: number | readonly number[] | undefined, ndim: number): number[] {
  if (axes === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axes === "number" ? [axes] : axes;
  const out: number[] = [];
  for (const a of list) {
    if (!Number.isInteger(a) || a < -ndim || a >= ndim) {
      throw new RangeError(`${op}: axis ${a} is out of range for a tensor of rank ${ndim}`);
    }
    const n = a < 0 ? a + ndim : a;
    if (out.includes(n)) throw new RangeError(`${op}: axis ${a} is repeated`);
    out.push(n);
  }
  return out.sort((x, y) => x - y);
}

export function normalizeAxis(op: string, axis: number, ndim: number): number {
  return normalizeAxes(op, axis, ndim)[0] as number;
}
