/** Boundary validation shared by the ops: operand kinds and element types, named after the op. */
import { type DType, dtypeOf, type FloatArray } from "@ekfac-ts/linalg";
import { Tensor } from "../tensor.ts";

/** Returns `t` as a Tensor, or throws a TypeError naming the op `op`, the argument `name` and what `t` was. */
export function assertTensor(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) {
    const kind = t === null ? "null" : typeof t === "object" ? (t.constructor?.name ?? "object") : typeof t;
    throw new TypeError(`${op}: ${name} must be a Tensor (got ${kind})`);
  }
  return t;
}

export function assertSameType(op: string, nameA: string, a: Tensor, nameB: string, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `${op}: ${nameA} is ${a.dtype} but ${nameB} is ${b.dtype}; operands must share one element type`,
    );
  }
}

/** A constant scalar tensor of the given element type. */
export function constant(value: number, dtype: DType): Tensor {
  const data: FloatArray = dtype === "float64" ? new Float64Array(1) : new Float32Array(1);
  data[0] = value;
  return new Tensor(data, []);
}

/** Two operands of a binary op: tensors sharing an element type, numbers promoted to that type. */
export function operands(op: string, a: Tensor | number, b: Tensor | number): [Tensor, Tensor] {
  if (typeof a === "number" && typeof b === "number") return [constant(a, "float32"), constant(b, "float32")];
  if (typeof a === "number") {
    const tb = assertTensor(op, "b", b);
    return [constant(a, tb.dtype), tb];
  }
  const ta = assertTensor(op, "a", a);
  if (typeof b === "number") return [ta, constant(b, ta.dtype)];
  const tb = assertTensor(op, "b", b);
  assertSameType(op, "a", ta, "b", tb);
  return [ta, tb];
}

export function allocLike(size: number, data: FloatArray): FloatArray {
  return dtypeOf(data) === "float64" ? new Float64Array(size) : new Float32Array(size);
}

/** A positive integer pair from a number or a [h, w] pair. */
export function pair(
  op: string,
  name: string,
  v: number | readonly [number, number] | undefined,
  dflt: number,
  min: number,
): [number, number] {
  const p: readonly [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : v;
  if (p.length !== 2 || !Number.isInteger(p[0]) || !Number.isInteger(p[1]) || p[0] < min || p[1] < min) {
    throw new RangeError(`${op}: ${name} must be an integer ≥ ${min} or a pair of them (got ${String(v)})`);
  }
  return [p[0], p[1]];
}
