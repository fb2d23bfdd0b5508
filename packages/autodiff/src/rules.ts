/**
 * THE derivative table: one reverse-mode rule per primitive op, and nowhere else (micrograd /
 * tinygrad style). Composite ops (mean, min, softmax, square, the conv bias, …) have no rule: they are
 * built from these primitives, so their gradients follow.
 *
 * A rule receives the node and ȳ (the complete gradient of the op's output) and ADDS each input's
 * contribution x̄ += (∂y/∂x)ᵀ ȳ into the buffer `slot(x)` returns (null when x needs no gradient).
 * Adding is what makes fan-in accumulate. Elementwise rules are written per contiguous run
 * (broadcast.ts), with a stride-0 accumulator where the input was broadcast, which is the reduction of
 * a broadcast gradient to the input's shape.
 *
 * Notation in the loops: g = ȳ, y = output values, a/b/x = input values, ga/gb/gx = input gradients.
 *
 * Cost: each rule costs about as much as its forward op (matmul and conv2d twice: one product per
 * operand); no rule allocates except conv2d's pooled patch-gradient scratch.
 */
import { type FloatArray, gemmStrided } from "@ekfac-ts/linalg";
import { contiguousStrides, forEachReducedRun, forEachRun } from "./broadcast.ts";
import { avgPoolKernel, type Conv2dGeometry, col2imKernel, patchesLength } from "./conv.ts";
import { erfc } from "./erf.ts";
import { slot, wantsGrad } from "./internal/slot.ts";
import { acquire, release } from "./pool.ts";
import { GELU_C, SQRT_HALF, sigmoidOf } from "./scalar.ts";
import type { Node, OpName } from "./tape.ts";
import type { Tensor } from "./tensor.ts";

// ── what each op records for its rule (ops/* write these, the rules below read them) ─────────

/** Binary ops: the output's strides and both operands' broadcast strides. */
export interface BinaryAttrs {
  readonly so: readonly number[];
  readonly sa: readonly number[];
  readonly sb: readonly number[];
}

/** Unary ops: the op's parameter (leakyRelu's slope; 0 for the others). */
export interface UnaryAttrs {
  readonly p: number;
}

export interface MatmulAttrs {
  readonly transA: boolean;
  readonly transB: boolean;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** `MatmulOptions.gradB`: who forms B's gradient instead of the rule, or null. */
  readonly gradB: ((cotangent: FloatArray) => void) | null;
}

export interface ReduceAttrs {
  /** The output shape with reduced axes kept as 1 (what the strides refer to). */
  readonly keptShape: readonly number[];
}

/** Ops along one axis, the tensor seen as outer × len × inner. */
export interface AxisAttrs {
  readonly outer: number;
  readonly len: number;
  readonly inner: number;
}

export interface PermuteAttrs {
  /** Strides of x read in the output's axis order. */
  readonly xStrides: readonly number[];
}

export interface SliceAttrs {
  readonly offset: number;
  readonly xStrides: readonly number[];
}

export interface ConcatAttrs {
  readonly outer: number;
  /** Per input, its axis length × inner size (the width of its block in each outer row). */
  readonly widths: readonly number[];
}

export interface Conv2dAttrs {
  readonly geometry: Conv2dGeometry;
  readonly outChannels: number;
}

export interface Pool2dAttrs {
  readonly geometry: Conv2dGeometry;
  readonly countIncludePad: boolean;
}

/** Ops whose rule needs nothing beyond the inputs, the output and the saved scratch. */
export type NoAttrs = Readonly<Record<string, never>>;

/** The attributes each primitive records: `record(op, …, attrs)` and its rule agree through this map. */
export interface OpAttrs {
  add: BinaryAttrs;
  sub: BinaryAttrs;
  mul: BinaryAttrs;
  div: BinaryAttrs;
  pow: BinaryAttrs;
  maximum: BinaryAttrs;
  minimum: BinaryAttrs;
  neg: UnaryAttrs;
  exp: UnaryAttrs;
  log: UnaryAttrs;
  sqrt: UnaryAttrs;
  abs: UnaryAttrs;
  tanh: UnaryAttrs;
  sigmoid: UnaryAttrs;
  relu: UnaryAttrs;
  leakyRelu: UnaryAttrs;
  softplus: UnaryAttrs;
  gelu: UnaryAttrs;
  geluTanh: UnaryAttrs;
  matmul: MatmulAttrs;
  sum: ReduceAttrs;
  max: ReduceAttrs;
  logsumexp: AxisAttrs;
  logSoftmax: AxisAttrs;
  reshape: NoAttrs;
  permute: PermuteAttrs;
  slice: SliceAttrs;
  concat: ConcatAttrs;
  gather: NoAttrs;
  conv2d: Conv2dAttrs;
  maxPool2d: Pool2dAttrs;
  avgPool2d: Pool2dAttrs;
  dropout: NoAttrs;
}

/** The rule of one primitive: its node (attributes typed by the op) and ȳ. */
export type Rule<Op extends OpName = OpName> = (node: Node<Op>, g: FloatArray) => void;

/** The ops that record attributes of type `A`. */
type OpsWith<A> = { [Op in OpName]: OpAttrs[Op] extends A ? Op : never }[OpName];

type BinaryGrad = (
  g: FloatArray,
  y: FloatArray,
  a: FloatArray,
  b: FloatArray,
  gx: FloatArray,
  o: number,
  ia: number,
  ib: number,
  n: number,
  sa: number,
  sb: number,
) => void;

/** A binary op's rule from its two per-run partials (ga is indexed by ia, gb by ib). */
function binary(da: BinaryGrad, db: BinaryGrad): Rule<OpsWith<BinaryAttrs>> {
  return (node, g) => {
    const a = node.inputs[0] as Tensor;
    const b = node.inputs[1] as Tensor;
    const { so, sa, sb } = node.attrs;
    const y = node.output.data;
    const ad = a.data;
    const bd = b.data;
    const ga = slot(a);
    if (ga !== null)
      forEachRun(node.output.shape, so, sa, sb, (o, ia, ib, n, _t, ra, rb) =>
        da(g, y, ad, bd, ga, o, ia, ib, n, ra, rb),
      );
    const gb = slot(b);
    if (gb !== null)
      forEachRun(node.output.shape, so, sa, sb, (o, ia, ib, n, _t, ra, rb) =>
        db(g, y, ad, bd, gb, o, ia, ib, n, ra, rb),
      );
  };
}

type UnaryGrad = (g: FloatArray, x: FloatArray, y: FloatArray, gx: FloatArray, n: number, p: number) => void;

/** A unary op's rule from its elementwise partial. */
function unary(dx: UnaryGrad): Rule<OpsWith<UnaryAttrs>> {
  return (node, g) => {
    const x = node.inputs[0] as Tensor;
    const gx = slot(x);
    if (gx !== null) dx(g, x.data, node.output.data, gx, x.size, node.attrs.p);
  };
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

// biome-ignore format: the table reads best with one derivative per line
const table: { readonly [Op in OpName]: Rule<Op> } = {
  // ── binary, broadcasting ───────────────────────────────────────────────────────────────
  add: binary(
    (g, _y, _a, _b, ga, o, ia, _ib, n, sa) => { for (let i = 0; i < n; i++, ia += sa) ga[ia] = (ga[ia] as number) + (g[o + i] as number); },
    (g, _y, _a, _b, gb, o, _ia, ib, n, _sa, sb) => { for (let i = 0; i < n; i++, ib += sb) gb[ib] = (gb[ib] as number) + (g[o + i] as number); }),
  sub: binary(
    (g, _y, _a, _b, ga, o, ia, _ib, n, sa) => { for (let i = 0; i < n; i++, ia += sa) ga[ia] = (ga[ia] as number) + (g[o + i] as number); },
    (g, _y, _a, _b, gb, o, _ia, ib, n, _sa, sb) => { for (let i = 0; i < n; i++, ib += sb) gb[ib] = (gb[ib] as number) - (g[o + i] as number); }),
  mul: binary( // ∂(ab)/∂a = b, ∂(ab)/∂b = a
    (g, _y, _a, b, ga, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) ga[ia] = (ga[ia] as number) + (g[o + i] as number) * (b[ib] as number); },
    (g, _y, a, _b, gb, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) gb[ib] = (gb[ib] as number) + (g[o + i] as number) * (a[ia] as number); }),
  div: binary( // ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² (from a, not the rounded y)
    (g, _y, _a, b, ga, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) ga[ia] = (ga[ia] as number) + (g[o + i] as number) / (b[ib] as number); },
    (g, _y, a, b, gb, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const v = b[ib] as number; gb[ib] = (gb[ib] as number) - ((g[o + i] as number) * ((a[ia] as number) / v)) / v; } }),
  pow: binary( // ∂(aᵇ)/∂a = b·a^(b−1), ∂(aᵇ)/∂b = aᵇ·ln a
    (g, _y, a, b, ga, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const e = b[ib] as number; ga[ia] = (ga[ia] as number) + (e === 0 ? 0 : (g[o + i] as number) * e * (a[ia] as number) ** (e - 1)); } }, // b = 0: aᵇ ≡ 1, so 0 even at a = 0 (PyTorch), not 0·0⁻¹ = NaN
    (g, _y, a, b, gb, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; const e = b[ib] as number; gb[ib] = (gb[ib] as number) + (u === 0 && e >= 0 ? 0 : (g[o + i] as number) * u ** e * Math.log(u)); } }), // a = 0, b ≥ 0: 0 as PyTorch (aᵇ·ln a → 0), not 0·(−∞)
  maximum: binary( // the larger operand takes ȳ; ties (and NaN in a) go to a, as the forward picks
    (g, _y, a, b, ga, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; if (u >= (b[ib] as number) || Number.isNaN(u)) ga[ia] = (ga[ia] as number) + (g[o + i] as number); } },
    (g, _y, a, b, gb, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; if (!(u >= (b[ib] as number) || Number.isNaN(u))) gb[ib] = (gb[ib] as number) + (g[o + i] as number); } }),
  minimum: binary(
    (g, _y, a, b, ga, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; if (u <= (b[ib] as number) || Number.isNaN(u)) ga[ia] = (ga[ia] as number) + (g[o + i] as number); } },
    (g, _y, a, b, gb, o, ia, ib, n, sa, sb) => { for (let i = 0; i < n; i++, ia += sa, ib += sb) { const u = a[ia] as number; if (!(u <= (b[ib] as number) || Number.isNaN(u))) gb[ib] = (gb[ib] as number) + (g[o + i] as number); } }),

  // ── unary ──────────────────────────────────────────────────────────────────────────────
  neg: unary((g, _x, _y, gx, n) => { for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) - (g[i] as number); }),
  exp: unary((g, _x, y, gx, n) => { for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (g[i] as number) * (y[i] as number); }),
  log: unary((g, x, _y, gx, n) => { for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (g[i] as number) / (x[i] as number); }),
  sqrt: unary((g, _x, y, gx, n) => { for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (0.5 * (g[i] as number)) / (y[i] as number); }),
  abs: unary((g, x, _y, gx, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; gx[i] = (gx[i] as number) + (v > 0 ? (g[i] as number) : v < 0 ? -(g[i] as number) : 0); } }),
  tanh: unary((g, _x, y, gx, n) => { for (let i = 0; i < n; i++) { const t = y[i] as number; gx[i] = (gx[i] as number) + (g[i] as number) * (1 - t * t); } }),
  sigmoid: unary((g, _x, y, gx, n) => { for (let i = 0; i < n; i++) { const s = y[i] as number; gx[i] = (gx[i] as number) + (g[i] as number) * s * (1 - s); } }),
  relu: unary((g, x, _y, gx, n) => { for (let i = 0; i < n; i++) if ((x[i] as number) > 0) gx[i] = (gx[i] as number) + (g[i] as number); }),
  leakyRelu: unary((g, x, _y, gx, n, p) => { for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + ((x[i] as number) > 0 ? (g[i] as number) : p * (g[i] as number)); }),
  softplus: unary((g, x, _y, gx, n) => { for (let i = 0; i < n; i++) gx[i] = (gx[i] as number) + (g[i] as number) * sigmoidOf(x[i] as number); }),
  gelu: unary((g, x, _y, gx, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; gx[i] = (gx[i] as number) + (g[i] as number) * (0.5 * erfc(-v * SQRT_HALF) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v)); } }), // Φ(x) + x·φ(x)
  geluTanh: unary((g, x, _y, gx, n) => { for (let i = 0; i < n; i++) { const v = x[i] as number; const s = sigmoidOf(2 * GELU_C * (v + 0.044715 * v * v * v)); gx[i] = (gx[i] as number) + (g[i] as number) * (s + 2 * v * s * (1 - s) * GELU_C * (1 + 3 * 0.044715 * v * v)); } }), // y = x·σ(2u)

  // ── linear algebra: transposes stay inside gemm ───────────────────────────────────────
  matmul: (node, g) => {
    const a = node.inputs[0] as Tensor;
    const b = node.inputs[1] as Tensor;
    const { transA, transB, m, n, k } = node.attrs;
    if (m === 0 || n === 0 || k === 0) return;
    const lda = a.shape[1] as number;
    const ldb = b.shape[1] as number;
    const ga = slot(a);
    // Ā += C̄·op(B)ᵀ, or for A stored transposed, Ā += op(B)·C̄ᵀ.
    if (ga !== null) {
      if (!transA) gemmStrided(false, !transB, m, k, n, 1, g, 0, n, b.data, 0, ldb, 1, ga, 0, lda);
      else gemmStrided(transB, true, k, m, n, 1, b.data, 0, ldb, g, 0, n, 1, ga, 0, lda);
    }
    // B's product left to the caller (MatmulOptions.gradB; B a leaf), only where the rule would form it.
    if (node.attrs.gradB !== null && wantsGrad(b)) {
      node.attrs.gradB(g);
      return;
    }
    const gb = slot(b);
    // B̄ += op(A)ᵀ·C̄, or for B stored transposed, B̄ += C̄ᵀ·op(A).
    if (gb !== null) {
      if (!transB) gemmStrided(!transA, false, k, n, m, 1, a.data, 0, lda, g, 0, n, 1, gb, 0, ldb);
      else gemmStrided(true, transA, n, k, m, 1, g, 0, n, a.data, 0, lda, 1, gb, 0, ldb);
    }
  },

  // ── reductions ────────────────────────────────────────────────────────────────────────
  sum: (node, g) => { // x̄ += broadcast(ȳ)
    const x = node.inputs[0] as Tensor;
    const gx = slot(x);
    if (gx === null) return;
    const { keptShape } = node.attrs;
    forEachReducedRun(x.shape, keptShape, (ox, oy, _o, n, tx, ty) => {
      for (let i = 0; i < n; i++, ox += tx, oy += ty) gx[ox] = (gx[ox] as number) + (g[oy] as number);
    });
  },
  max: (node, g) => { // ȳ goes to the recorded argmax
    const gx = slot(node.inputs[0] as Tensor);
    const arg = node.saved[0] as Int32Array;
    if (gx !== null) for (let j = 0; j < g.length; j++) { const q = arg[j] as number; if (q >= 0) gx[q] = (gx[q] as number) + (g[j] as number); }
  },
  logsumexp: (node, g) => { // x̄ⱼ += ȳ·e^(xⱼ − y) (the softmax)
    const x = node.inputs[0] as Tensor;
    const gx = slot(x);
    if (gx === null) return;
    const { outer, len, inner } = node.attrs;
    const xd = x.data;
    const y = node.output.data;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      const r = o * inner + i;
      const yr = y[r] as number;
      const gr = g[r] as number;
      for (let j = 0, q = o * len * inner + i; j < len; j++, q += inner) gx[q] = (gx[q] as number) + gr * Math.exp((xd[q] as number) - yr);
    }
  },
  logSoftmax: (node, g) => { // x̄ⱼ += ȳⱼ − e^(yⱼ)·Σₗ ȳₗ
    const x = node.inputs[0] as Tensor;
    const gx = slot(x);
    if (gx === null) return;
    const { outer, len, inner } = node.attrs;
    const y = node.output.data;
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let s = 0;
      for (let j = 0, q = base; j < len; j++, q += inner) s += g[q] as number;
      for (let j = 0, q = base; j < len; j++, q += inner) gx[q] = (gx[q] as number) + (g[q] as number) - Math.exp(y[q] as number) * s;
    }
  },

  // ── layout ────────────────────────────────────────────────────────────────────────────
  reshape: (node, g) => {
    const gx = slot(node.inputs[0] as Tensor);
    if (gx !== null) for (let i = 0; i < g.length; i++) gx[i] = (gx[i] as number) + (g[i] as number);
  },
  permute: (node, g) => { // scatter ȳ back through the same index map
    const gx = slot(node.inputs[0] as Tensor);
    if (gx === null) return;
    const { xStrides } = node.attrs;
    const shape = node.output.shape;
    forEachRun(shape, contiguousStrides(shape), xStrides, xStrides, (oy, ox, _o, n, _t, tx) => {
      for (let i = 0; i < n; i++, ox += tx) gx[ox] = (gx[ox] as number) + (g[oy + i] as number);
    });
  },
  slice: (node, g) => {
    const gx = slot(node.inputs[0] as Tensor);
    if (gx === null) return;
    const { offset, xStrides } = node.attrs;
    const shape = node.output.shape;
    forEachRun(shape, contiguousStrides(shape), xStrides, xStrides, (oy, ox, _o, n, _t, tx) => {
      for (let i = 0; i < n; i++, ox += tx) gx[ox] = (gx[ox] as number) + (g[oy + i] as number);
    }, 0, offset, offset);
  },
  concat: (node, g) => { // each input takes its block of ȳ
    const { outer, widths } = node.attrs;
    let row = 0;
    for (const w of widths) row += w;
    let col = 0;
    node.inputs.forEach((t, k) => {
      const w = widths[k] as number;
      const gx = slot(t);
      if (gx !== null) for (let o = 0; o < outer; o++) for (let c = 0; c < w; c++) gx[o * w + c] = (gx[o * w + c] as number) + (g[o * row + col + c] as number);
      col += w;
    });
  },
  gather: (node, g) => { // scatter-add to the gathered positions
    const gx = slot(node.inputs[0] as Tensor);
    const src = node.saved[0] as Int32Array;
    if (gx !== null) for (let p = 0; p < g.length; p++) { const q = src[p] as number; gx[q] = (gx[q] as number) + (g[p] as number); }
  },

  // ── convolution and pooling ───────────────────────────────────────────────────────────
  conv2d: (node, g) => {
    const x = node.inputs[0] as Tensor;
    const w = node.inputs[1] as Tensor;
    const { geometry: geo, outChannels } = node.attrs;
    const patches = node.saved[0] as FloatArray;
    const N = geo.batch;
    const T = geo.positions;
    const K = geo.patchSize;
    const Og = outChannels / geo.groups;
    if (T === 0 || K === 0 || Og === 0) return;
    const gw = slot(w);
    // W̄_g += Σₙ Ȳ_{n,g} (Og × T) · P_{g,n} (T × K)
    if (gw !== null) for (let grp = 0; grp < geo.groups; grp++) for (let n = 0; n < N; n++) {
      gemmStrided(false, false, Og, K, T, 1, g, (n * outChannels + grp * Og) * T, T, patches, (grp * N + n) * T * K, K, 1, gw, grp * Og * K, K);
    }
    const gx = slot(x);
    if (gx === null) return;
    // P̄_{g,n} (T × K) = Ȳ_{n,g}ᵀ · W_g, then x̄ += col2im(P̄).
    const dp = acquire(patchesLength(geo), x.dtype);
    for (let grp = 0; grp < geo.groups; grp++) for (let n = 0; n < N; n++) {
      gemmStrided(true, false, T, K, Og, 1, g, (n * outChannels + grp * Og) * T, T, w.data, grp * Og * K, K, 0, dp, (grp * N + n) * T * K, K);
    }
    col2imKernel(dp, geo, gx);
    release(dp);
  },
  maxPool2d: (node, g) => {
    const gx = slot(node.inputs[0] as Tensor);
    const arg = node.saved[0] as Int32Array;
    if (gx !== null) for (let r = 0; r < g.length; r++) { const q = arg[r] as number; if (q >= 0) gx[q] = (gx[q] as number) + (g[r] as number); }
  },
  avgPool2d: (node, g) => { // each tap of a window receives ȳ / divisor (the kernel's adjoint)
    const gx = slot(node.inputs[0] as Tensor);
    if (gx !== null) avgPoolKernel(node.attrs.geometry, node.attrs.countIncludePad, gx, g, true);
  },
  dropout: (node, g) => { // x̄ += ȳ·m
    const gx = slot(node.inputs[0] as Tensor);
    const mask = node.saved[0] as FloatArray;
    if (gx !== null) for (let i = 0; i < g.length; i++) gx[i] = (gx[i] as number) + (g[i] as number) * (mask[i] as number);
  },
};

/**
 * The table as tape.ts indexes it, by a node's op at run time. `table`'s type is what checks that each
 * rule reads exactly the attributes its op records; this view forgets the pairing, once, here.
 */
export const rules = table as Readonly<Record<OpName, Rule>>;
