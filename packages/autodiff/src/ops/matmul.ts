/**
 * Matrix product of 2-D tensors with optional transposed operands: C = op(A)·op(B).
 *
 * Transposes are never materialised: the flags go straight to linalg's gemm, and so do the backward
 * products (rules.ts): for C = A·B, Ā += C̄·Bᵀ and B̄ += Aᵀ·C̄ (gemm with β = 1 accumulates, which is
 * the fan-in sum). A dense layer `x·Wᵀ` is `matmul(x, w, { transB: true })` with W stored out × in.
 *
 * Cost: 2·m·n·k flops forward, twice that backward (when both operands need gradients).
 */
import { checkFlag, checkOptions, type FloatArray, gemmStrided, optionKeys } from "@ekfac-ts/linalg";
import { formatShape } from "../broadcast.ts";
import { allocLike, assertSameType, assertTensor } from "../internal/check.ts";
import { record } from "../tape.ts";
import { Tensor } from "../tensor.ts";

/** Which operands the autodiff {@link matmul} reads transposed, and who forms B's gradient. */
export interface MatmulOptions {
  /** Use Aᵀ in place of A. */
  readonly transA?: boolean;
  /** Use Bᵀ in place of B. */
  readonly transB?: boolean;
  /**
   * B's gradient product left to the caller (B must be a leaf, such as a parameter): when a backward
   * that accumulates gradients reaches this product and B requires a gradient, the rule calls
   * `gradB(C̄)` with the output's cotangent C̄ (m × n, row-major, valid only during the call) INSTEAD
   * of adding its product with op(A) into B's gradient; the callee must account for that contribution
   * itself (e.g. with `Tensor.deferGrad`). Hooks-only passes never call it (they form no leaf
   * gradient). nn's `Linear` uses it to leave its weight gradient to a curvature optimizer that forms
   * the step from the layer's captured rows.
   */
  readonly gradB?: (cotangent: FloatArray) => void;
}

const MATMUL_OPTIONS = optionKeys<MatmulOptions>()(["transA", "transB", "gradB"]);

/** op(A)·op(B) for 2-D tensors; RangeError naming both shapes when the inner dimensions differ. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const fn = "matmul";
  assertTensor(fn, "a", a);
  assertTensor(fn, "b", b);
  assertSameType(fn, "a", a, "b", b);
  if (a.ndim !== 2) throw new RangeError(`${fn}: a must be 2-D (got shape ${formatShape(a.shape)})`);
  if (b.ndim !== 2) throw new RangeError(`${fn}: b must be 2-D (got shape ${formatShape(b.shape)})`);
  checkOptions(fn, "options", options, MATMUL_OPTIONS);
  checkFlag(fn, "options.transA", options.transA);
  checkFlag(fn, "options.transB", options.transB);
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const gradB = options.gradB ?? null;
  if (gradB !== null && typeof gradB !== "function") {
    throw new TypeError(`${fn}: options.gradB must be a function (cotangent) => void (got ${typeof gradB})`);
  }
  if (gradB !== null && b.node !== null) {
    throw new TypeError(`${fn}: options.gradB needs b to be a leaf tensor (b was computed by ${b.node.op})`);
  }
  const [ar, ac] = a.shape as [number, number];
  const [br, bc] = b.shape as [number, number];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    const opA = `${transA ? "aᵀ" : "a"} is ${m}×${k}`;
    const opB = `${transB ? "bᵀ" : "b"} is ${kb}×${n}`;
    throw new RangeError(`${fn}: inner dimensions differ (${opA}, ${opB})`);
  }
  const c = allocLike(m * n, a.data);
  if (m > 0 && n > 0)
    gemmStrided(transA, transB, m, n, k, 1, a.data, 0, Math.max(1, ac), b.data, 0, Math.max(1, bc), 0, c, 0, n);
  const out = new Tensor(c, [m, n]);
  record("matmul", [a, b], out, { transA, transB, m, n, k, gradB });
  return out;
}
