/**
 * One law per primitive of autodiff's derivative table: the reverse-mode gradient equals central
 * finite differences in float64 (checked by autodiff's own `gradcheck`, taken from the implementation
 * under test). The table is typed `Record<OpName, …>`, so a primitive added to the library without a
 * law here is a compile error. Then the broadcast gradients, conv2d's forward against the direct
 * convolution, and col2im as the adjoint of im2col (what conv2d's input gradient rests on).
 */
import type { OpName, Tensor } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { type Conv2dConfig, conv2dConfigArb, labelled, seedArb } from "../arbitraries.ts";
import type { Autodiff } from "../impl.ts";
import { maxEntrywise } from "../internal/dense.ts";
import { defineLaw, type Law, type LawSpec, type Measurement } from "../law.ts";

interface Case {
  readonly inputs: Tensor[];
  readonly f: (...t: Tensor[]) => Tensor;
}

type Builder = (ad: Autodiff, r: Rng, s: readonly number[]) => Case;

const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

function normal(ad: Autodiff, r: Rng, s: readonly number[], k = 1): Tensor {
  const d = r.fillNormal(new Float64Array(sizeOf(s)), 0, k);
  return ad.tensor(d, s, { dtype: "float64", requiresGrad: true });
}

/** |x| ≥ gap: away from the kinks of relu, abs, leakyRelu (finite differences straddle no kink). */
function awayFromZero(ad: Autodiff, r: Rng, s: readonly number[], gap = 0.1): Tensor {
  const t = normal(ad, r, s);
  for (let i = 0; i < t.size; i++) {
    const v = t.data[i] as number;
    t.data[i] = Math.sign(v || 1) * (gap + Math.abs(v));
  }
  return t;
}

/** N(0, k²) clamped to [−limit, limit]. */
function clamped(ad: Autodiff, r: Rng, s: readonly number[], k: number, limit: number): Tensor {
  const t = normal(ad, r, s, k);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.min(limit, Math.max(-limit, t.data[i] as number));
  return t;
}

function positive(ad: Autodiff, r: Rng, s: readonly number[], lo = 0.5): Tensor {
  const t = normal(ad, r, s);
  for (let i = 0; i < t.size; i++) t.data[i] = lo + Math.abs(t.data[i] as number);
  return t;
}

/** Distinct values at spacing ≥ 0.05 (no ties for max and max pooling). */
function distinct(ad: Autodiff, r: Rng, s: readonly number[]): Tensor {
  const t = normal(ad, r, s);
  const perm = r.permutation(t.size);
  for (let i = 0; i < t.size; i++) t.data[i] = 0.1 * (perm[i] as number) - 0.05 * t.size + 0.04 * r.uniform();
  return t;
}

function shifted(ad: Autodiff, r: Rng, s: readonly number[]): [Tensor, Tensor] {
  const a = normal(ad, r, s);
  const b = awayFromZero(ad, r, s);
  for (let i = 0; i < a.size; i++) b.data[i] = (a.data[i] as number) + (b.data[i] as number);
  return [a, b];
}

const someAxes = (r: Rng, s: readonly number[]): number[] => s.map((_, i) => i).filter(() => r.uniform() < 0.5);

/** Per primitive: inputs and a function of them, from a generator and a shape (rank 1–3, sizes 1–4). */
const cases: Record<OpName, Builder> = {
  add: (ad, r, s) => ({ inputs: [normal(ad, r, s), normal(ad, r, s.slice(1))], f: ad.add }),
  sub: (ad, r, s) => ({ inputs: [normal(ad, r, s.slice(1)), normal(ad, r, s)], f: ad.sub }),
  mul: (ad, r, s) => ({ inputs: [normal(ad, r, s), normal(ad, r, [1, ...s.slice(1)])], f: ad.mul }),
  div: (ad, r, s) => ({ inputs: [normal(ad, r, s), awayFromZero(ad, r, s, 0.5)], f: ad.div }),
  pow: (ad, r, s) => ({ inputs: [positive(ad, r, s), normal(ad, r, s)], f: ad.pow }),
  maximum: (ad, r, s) => ({ inputs: shifted(ad, r, s), f: ad.maximum }),
  minimum: (ad, r, s) => ({ inputs: shifted(ad, r, s), f: ad.minimum }),
  neg: (ad, r, s) => ({ inputs: [normal(ad, r, s)], f: ad.neg }),
  exp: (ad, r, s) => ({ inputs: [normal(ad, r, s)], f: ad.exp }),
  log: (ad, r, s) => ({ inputs: [positive(ad, r, s)], f: ad.log }),
  sqrt: (ad, r, s) => ({ inputs: [positive(ad, r, s)], f: ad.sqrt }),
  abs: (ad, r, s) => ({ inputs: [awayFromZero(ad, r, s)], f: ad.abs }),
  tanh: (ad, r, s) => ({ inputs: [normal(ad, r, s)], f: ad.tanh }),
  sigmoid: (ad, r, s) => ({ inputs: [clamped(ad, r, s, 4, 8)], f: ad.sigmoid }),
  relu: (ad, r, s) => ({ inputs: [awayFromZero(ad, r, s)], f: ad.relu }),
  leakyRelu: (ad, r, s) => ({ inputs: [awayFromZero(ad, r, s)], f: (x) => ad.leakyRelu(x, 0.2) }),
  softplus: (ad, r, s) => ({ inputs: [normal(ad, r, s, 5)], f: ad.softplus }),
  gelu: (ad, r, s) => ({ inputs: [normal(ad, r, s, 3)], f: (x) => ad.gelu(x) }),
  geluTanh: (ad, r, s) => ({ inputs: [normal(ad, r, s, 3)], f: (x) => ad.gelu(x, { approximate: "tanh" }) }),
  matmul: (ad, r, s) => {
    const [m, k, n] = [s[0] ?? 2, s[1] ?? 3, s[2] ?? 2];
    const transA = r.uniform() < 0.5;
    const transB = r.uniform() < 0.5;
    return {
      inputs: [normal(ad, r, transA ? [k, m] : [m, k]), normal(ad, r, transB ? [n, k] : [k, n])],
      f: (a, b) => ad.matmul(a, b, { transA, transB }),
    };
  },
  sum: (ad, r, s) => {
    const axes = someAxes(r, s);
    const keep = r.uniform() < 0.5;
    return { inputs: [normal(ad, r, s)], f: (x) => ad.sum(x, axes, keep) };
  },
  max: (ad, r, s) => {
    const axes = someAxes(r, s);
    const keep = r.uniform() < 0.5;
    return { inputs: [distinct(ad, r, s)], f: (x) => ad.max(x, axes.length > 0 ? axes : undefined, keep) };
  },
  logsumexp: (ad, r, s) => {
    const axis = r.int(s.length);
    return { inputs: [normal(ad, r, s, 3)], f: (x) => ad.logsumexp(x, axis) };
  },
  logSoftmax: (ad, r, s) => {
    const axis = r.int(s.length);
    return { inputs: [normal(ad, r, s, 3)], f: (x) => ad.logSoftmax(x, axis) };
  },
  reshape: (ad, r, s) => ({ inputs: [normal(ad, r, s)], f: (x) => ad.reshape(x, [-1]) }),
  permute: (ad, r, s) => {
    const p = Array.from(r.permutation(s.length));
    return { inputs: [normal(ad, r, s)], f: (x) => ad.permute(x, p) };
  },
  slice: (ad, r, s) => {
    const starts = s.map((d) => r.int(d));
    const ends = s.map((d, i) => (starts[i] as number) + 1 + r.int(d - (starts[i] as number)));
    return { inputs: [normal(ad, r, s)], f: (x) => ad.slice(x, starts, ends) };
  },
  concat: (ad, r, s) => {
    const axis = r.int(s.length);
    const other = s.slice();
    other[axis] = 1 + r.int(3);
    return { inputs: [normal(ad, r, s), normal(ad, r, other)], f: (a, b) => ad.concat([a, b, a], axis) };
  },
  gather: (ad, r, s) => {
    const axis = r.int(s.length);
    const shape = s.slice();
    shape[axis] = 1 + r.int(3);
    const index = Array.from({ length: sizeOf(shape) }, () => r.int(s[axis] as number));
    return { inputs: [normal(ad, r, s)], f: (x) => ad.gather(x, axis, index, shape) };
  },
  conv2d: (ad, r) => {
    const groups = 1 + r.int(3);
    const cin = groups * (1 + r.int(2));
    const cout = groups * (1 + r.int(2));
    const [kh, kw] = [1 + r.int(3), 1 + r.int(3)];
    const opts = {
      stride: [1 + r.int(3), 1 + r.int(3)] as const,
      padding: [r.int(3), r.int(3)] as const,
      dilation: [1 + r.int(2), 1 + r.int(2)] as const,
      groups,
    };
    // Just large enough for one output (smaller than the dilated kernel where the padding allows), plus 0–4.
    const least = (k: number, d: number, p: number): number => Math.max(1, (k - 1) * d + 1 - 2 * p);
    const h = least(kh, opts.dilation[0], opts.padding[0]) + r.int(5);
    const w = least(kw, opts.dilation[1], opts.padding[1]) + r.int(5);
    return {
      inputs: [
        normal(ad, r, [1 + r.int(3), cin, h, w]),
        normal(ad, r, [cout, cin / groups, kh, kw]),
        normal(ad, r, [cout]),
      ],
      f: (x, wt, b) => ad.conv2d(x, wt, b ?? null, opts),
    };
  },
  maxPool2d: (ad, r, s) => {
    const k = 1 + r.int(3);
    const opts = { kernelSize: k, stride: 1 + r.int(2), padding: r.int(Math.floor(k / 2) + 1) };
    return {
      inputs: [distinct(ad, r, [1 + r.int(2), 1 + r.int(2), k + (s[0] ?? 1), k + 1])],
      f: (x) => ad.maxPool2d(x, opts),
    };
  },
  avgPool2d: (ad, r, s) => {
    const k = 1 + r.int(3);
    const opts = {
      kernelSize: [k, 2] as const,
      stride: [1 + r.int(2), 1] as const,
      padding: [r.int(Math.floor(k / 2) + 1), 1] as const,
      countIncludePad: r.uniform() < 0.5,
    };
    return { inputs: [normal(ad, r, [1 + r.int(2), 2, k + (s[0] ?? 1), k + 2])], f: (x) => ad.avgPool2d(x, opts) };
  },
  dropout: (ad, r, s) => {
    const seed = r.nextUint32();
    // The mask must be the same in every evaluation of f: a fresh generator from a fixed seed each time.
    return { inputs: [normal(ad, r, s)], f: (x) => ad.dropout(x, 0.4, new Rng(seed)) };
  },
};

/** The primitives with a derivative law (all of autodiff's rule table). */
export const derivativeRuleNames: readonly OpName[] = Object.keys(cases) as OpName[];

const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 });

/**
 * Per-rule notes on the inputs. Saturation: where f(x) ≈ 1 but f′(x) ≪ 1 (sigmoid for x ≫ 0), central
 * differences lose ε·|f|/(h·|f′|) relative accuracy (≈ 2e-6 at x = 12 with h = 1.2e-5): a limit of
 * finite differences, not of the rule, so such inputs are clamped.
 */
const inputNotes: Partial<Record<OpName, string>> = {
  sigmoid:
    "x ~ N(0, 16) clamped to |x| ≤ 8, where σ′ ≥ 3e-4 keeps the finite-difference rounding ε·σ/(h·σ′) below 1e-7",
  softplus: "x ~ N(0, 25)",
  gelu: "x ~ N(0, 9)",
  geluTanh: "x ~ N(0, 9)",
  logsumexp: "x ~ N(0, 9), random axis",
  logSoftmax: "x ~ N(0, 9), random axis",
  div: "divisor |b| ≥ 0.5",
  pow: "base in [0.5, ∞), exponent N(0, 1)",
  log: "x ∈ [0.5, ∞)",
  sqrt: "x ∈ [0.5, ∞)",
  abs: "|x| ≥ 0.1",
  relu: "|x| ≥ 0.1",
  leakyRelu: "|x| ≥ 0.1, slope 0.2",
  maximum: "operands at least 0.1 apart",
  minimum: "operands at least 0.1 apart",
  max: "distinct values at spacing ≥ 0.05, random axes",
  maxPool2d: "distinct values at spacing ≥ 0.05, kernel 1–3, stride 1–2, padding",
  avgPool2d: "kernel k×2, stride, padding, count_include_pad both ways",
  conv2d:
    "N 1–3, groups 1–3 with 1–2 channels per group in and out, kernel 1–3 × 1–3, stride 1–3, padding 0–2, dilation 1–2 on both axes, bias; inputs just large enough for one output plus 0–4 rows and columns",
  matmul: "all four transpose combinations",
  dropout: "p = 0.4 with a fixed mask per case",
};

/** Rules whose case costs clearly more than an elementwise op get fewer runs at a given depth. */
const runScale: Partial<Record<OpName, number>> = { conv2d: 0.25, maxPool2d: 0.5, avgPool2d: 0.5, matmul: 0.5 };

const RTOL = 1e-6;

function ruleLaw(op: OpName): Law {
  const build = cases[op];
  return defineLaw({
    id: `autodiff.rule.${op}`,
    title: `∇${op} = central finite differences`,
    statement: `for L(x) = ⟨r, ${op}(x)⟩ with a fixed random r: the reverse-mode ∇L = J_${op}ᵀ·r equals (L(x + hⱼeⱼ) − L(x − hⱼeⱼ))/(2hⱼ) for every input element j`,
    source:
      'Reverse-mode differentiation (Griewank & Walther, "Evaluating Derivatives", 2008, ch. 3); the derivative table rules.ts; check as torch.autograd.gradcheck (fast mode: one random projection)',
    generator: `float64 inputs of rank 1–3 with sizes 1–4 (broadcast second operands where the op broadcasts)${inputNotes[op] !== undefined ? `; ${inputNotes[op]}` : ""}; shrinking works on the shape and the seed`,
    tolerance: `gradcheck's relative error max_j |∇ⱼ − ∇ⱼ^num| / max(‖∇‖∞, ‖∇^num‖∞, 1e-8) ≤ 1e-6 with hⱼ = 1e-6·max(1, |xⱼ|)`,
    why: "Central differences have truncation error O(h²·|f‴|) ≈ 1e-12 and rounding error O(ε·|L|/h) ≈ 1e-10 relative; 1e-6 leaves four orders of margin for the curvature of the sampled points, while a wrong rule (a missing factor, a sign, an off-by-one index) is off by O(1).",
    runScale: runScale[op] ?? 1,
    arbitrary: fc
      .tuple(seedArb, shapeArb)
      .map(([seed, shape]) => labelled({ seed, shape }, `{ seed: ${seed}, shape: [${shape.join(", ")}] }`)),
    measure(impl, c) {
      const { inputs, f } = build(impl.autodiff, new Rng(c.seed), c.shape);
      const report = impl.autodiff.gradcheck(f, inputs);
      return { error: report.maxRelError, tolerance: RTOL, note: report.message };
    },
  });
}

type BinaryOpName = "add" | "sub" | "mul" | "div" | "maximum";
const broadcastOps: readonly BinaryOpName[] = ["add", "sub", "mul", "div", "maximum"];

/** Two shapes that broadcast together: from one output shape, drop leading axes and set some axes to 1, independently. */
const broadcastPairArb = fc
  .tuple(shapeArb, fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.nat(3), fc.nat(3))
  .map(([out, ones, dropA, dropB]) => {
    const a = out.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(dropA, out.length - 1));
    const b = out.map((d, i) => (ones[i + 3] ? 1 : d)).slice(Math.min(dropB, out.length - 1));
    return [a, b] as const;
  });

const sameShape = (x: readonly number[], y: readonly number[]): boolean =>
  x.length === y.length && x.every((d, i) => d === y[i]);

/**
 * The reduction of a broadcast gradient: for y = a ∘ b with broadcast shapes, ∂L/∂a and ∂L/∂b come back
 * in a's and b's own shapes (summed over the broadcast axes) and equal finite differences.
 */
const broadcastGradientLaw = defineLaw({
  id: "autodiff.broadcast.gradient",
  title: "binary gradients reduce to the operands' shapes and equal finite differences",
  statement:
    "for y = a ∘ b (∘ ∈ {+, −, ×, ÷, max}) with a, b of any two NumPy-broadcastable shapes: y has the broadcast shape, ∂Σy/∂a has a's shape and ∂Σy/∂b has b's (the broadcast axes summed out), and ∇⟨r, a ∘ b⟩ equals central finite differences",
  source:
    "NumPy broadcasting rules; the gradient of a broadcast is the sum over the broadcast axes (its adjoint); rules.ts's stride-0 accumulators",
  generator:
    "an output shape of rank 1–3, sizes 1–4; each operand drops 0–3 leading axes and sets each axis to 1 with probability ½, independently; float64 N(0, 1) operands, divisor and max's second operand |b| ≥ 0.5",
  tolerance:
    "shapes exactly equal; gradcheck's relative error ≤ 1e-6 as in the per-rule laws (max is checked for shapes only: with broadcast operands it has near-ties, where finite differences straddle the kink)",
  why: "A missing reduction over a broadcast axis leaves a gradient of the wrong shape or off by the broadcast factor, an O(1) error; 1e-6 is the per-rule laws' finite-difference margin.",
  runScale: 0.6,
  arbitrary: fc
    .tuple(seedArb, broadcastPairArb, fc.constantFrom(...broadcastOps))
    .map(([seed, [sa, sb], op]) =>
      labelled({ seed, sa, sb, op }, `{ seed: ${seed}, op: ${op}, a: [${sa.join(", ")}], b: [${sb.join(", ")}] }`),
    ),
  measure(impl, c) {
    const ad = impl.autodiff;
    const r = new Rng(c.seed);
    const op = ad[c.op];
    const a = c.op === "div" ? awayFromZero(ad, r, c.sa, 0.5) : normal(ad, r, c.sa);
    const b = c.op === "div" || c.op === "maximum" ? awayFromZero(ad, r, c.sb, 0.5) : normal(ad, r, c.sb);
    const y = op(a, b);
    ad.sum(y).backward();
    const shapes =
      sameShape(y.shape, ad.broadcastShapes("law", c.sa, c.sb)) &&
      sameShape(a.grad?.shape ?? [], c.sa) &&
      sameShape(b.grad?.shape ?? [], c.sb);
    if (!shapes) {
      const note = `y ${JSON.stringify(y.shape)}, ∂a ${JSON.stringify(a.grad?.shape)}, ∂b ${JSON.stringify(b.grad?.shape)}`;
      return { error: Number.POSITIVE_INFINITY, tolerance: RTOL, note };
    }
    if (c.op === "maximum") return { error: 0, tolerance: RTOL };
    a.grad = null;
    b.grad = null;
    const report = ad.gradcheck(op, [a, b]);
    return { error: report.maxRelError, tolerance: RTOL, note: report.message };
  },
});

// ---- conv2d forward and im2col ---------------------------------------------------------------------

const EPS = 2 ** -52;

/** Geometries wider than the nn capture law's: groups to 3, stride to 3, padding to 2, 0–4 extra. */
const convArb = conv2dConfigArb({ maxGroups: 3, maxStride: 3, maxPadding: 2, maxExtra: 4 }).map((c) =>
  labelled(c, JSON.stringify(c)),
);
const convGenerator =
  "float64 N(0, 1) input, weight and bias; N 1–3, groups 1–3 with 1–2 channels per group in and out, kernel 1–3 × 1–3, stride 1–3, padding 0–2, dilation 1–2, bias or not; the input just large enough for one output position (smaller than the dilated kernel where the padding allows) plus 0–4 rows and columns";

const convParams = (c: Conv2dConfig) => ({
  stride: c.stride,
  padding: c.padding,
  dilation: c.dilation,
  groups: c.groups,
});

/**
 * The textbook convolution, seven nested loops and no im2col: y[n, o, i, j] = b_o + Σ_{c, p, q}
 * x[n, g·C_g + c, i·s_h − p_h + p·d_h, j·s_w − p_w + q·d_w] · w[o, c, p, q] (zero outside the input),
 * and the magnitude of the same sum with every term in absolute value.
 */
function directConv(
  c: Conv2dConfig,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
): { ref: Float64Array; mag: Float64Array; shape: number[] } {
  const [kh, kw] = c.kernel;
  const ho = Math.floor((c.h + 2 * c.padding[0] - c.dilation[0] * (kh - 1) - 1) / c.stride[0]) + 1;
  const wo = Math.floor((c.w + 2 * c.padding[1] - c.dilation[1] * (kw - 1) - 1) / c.stride[1]) + 1;
  const cg = c.inChannels / c.groups;
  const og = c.outChannels / c.groups;
  const ref = new Float64Array(c.n * c.outChannels * ho * wo);
  const mag = new Float64Array(ref.length);
  for (let n = 0; n < c.n; n++)
    for (let o = 0; o < c.outChannels; o++)
      for (let oh = 0; oh < ho; oh++)
        for (let ow = 0; ow < wo; ow++) {
          const grp = Math.floor(o / og);
          let s = b === null ? 0 : (b[o] as number);
          let m = Math.abs(s);
          for (let ci = 0; ci < cg; ci++)
            for (let i = 0; i < kh; i++)
              for (let j = 0; j < kw; j++) {
                const ih = oh * c.stride[0] - c.padding[0] + i * c.dilation[0];
                const iw = ow * c.stride[1] - c.padding[1] + j * c.dilation[1];
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                const t =
                  (x[((n * c.inChannels + grp * cg + ci) * c.h + ih) * c.w + iw] as number) *
                  (w[((o * cg + ci) * kh + i) * kw + j] as number);
                s += t;
                m += Math.abs(t);
              }
          ref[((n * c.outChannels + o) * ho + oh) * wo + ow] = s;
          mag[((n * c.outChannels + o) * ho + oh) * wo + ow] = m;
        }
  return { ref, mag, shape: [c.n, c.outChannels, ho, wo] };
}

/** A law on the conv geometries: `check` gets the implementation's autodiff and the case's generator. */
function convLaw(
  spec: Omit<LawSpec<Conv2dConfig>, "arbitrary" | "runScale" | "measure"> & {
    check(ad: Autodiff, c: Conv2dConfig, r: Rng): Measurement;
  },
): Law {
  const { check, ...description } = spec;
  return defineLaw({
    ...description,
    runScale: 0.5,
    arbitrary: convArb,
    measure: (impl, c) => check(impl.autodiff, c, new Rng(c.seed)),
  });
}

const convDirect = convLaw({
  id: "autodiff.conv2d.direct",
  title: "conv2d equals the direct convolution (stride, padding, dilation, groups)",
  statement:
    "conv2d(x, w, b)[n, o, i, j] = b_o + Σ_{c < C_in/G, p < k_h, q < k_w} x[n, g·C_in/G + c, i·s_h − p_h + p·d_h, j·s_w − p_w + q·d_w] · w[o, c, p, q] with g = ⌊o/(C_out/G)⌋, x zero outside the input; output H_out = ⌊(H + 2p_h − d_h(k_h − 1) − 1)/s_h⌋ + 1 (likewise W_out)",
  source:
    "PyTorch's Conv2d definition (cross-correlation, NCHW, weight C_out × C_in/G × k_h × k_w); Chellapilla et al. (2006) for im2col + gemm; MATH.md §6",
  generator: convGenerator,
  tolerance: "shape exact; max |y − y_ref| / Σ|terms| ≤ 4·(K + 2)·ε with K = (C_in/G)·k_h·k_w + 1",
  why: "Both sides sum the same K products in different orders (gemm blocks, the naive loop), so the difference is at most γ_K·Σ|terms| (Higham §3.1); a wrong offset, stride, dilation or group is an O(1) error.",
  check(ad, c, r): Measurement {
    const [kh, kw] = c.kernel;
    const x = ad.tensor(r.fillNormal(new Float64Array(c.n * c.inChannels * c.h * c.w)), [c.n, c.inChannels, c.h, c.w], {
      dtype: "float64",
    });
    const wShape = [c.outChannels, c.inChannels / c.groups, kh, kw];
    const w = ad.tensor(r.fillNormal(new Float64Array(sizeOf(wShape))), wShape, { dtype: "float64" });
    const b = c.bias
      ? ad.tensor(r.fillNormal(new Float64Array(c.outChannels)), [c.outChannels], { dtype: "float64" })
      : null;
    const y = ad.conv2d(x, w, b, convParams(c));
    const { ref, mag, shape } = directConv(c, x.data, w.data, b?.data ?? null);
    const tolerance = 4 * ((c.inChannels / c.groups) * kh * kw + 3) * EPS;
    if (y.shape.length !== 4 || y.shape.some((d, i) => d !== shape[i])) {
      return {
        error: Number.POSITIVE_INFINITY,
        tolerance,
        note: `shape [${y.shape.join(", ")}], expected [${shape.join(", ")}]`,
      };
    }
    return { error: maxEntrywise(y.data, ref, mag, Number.MIN_VALUE / EPS), tolerance };
  },
});

const im2colAdjoint = convLaw({
  id: "autodiff.im2col.adjoint",
  title: "col2im is the adjoint of im2col: ⟨im2col(x), P⟩ = ⟨x, col2im(P)⟩",
  statement:
    "for every geometry, input x and patch matrix P: ⟨im2col(x), P⟩ = ⟨x, col2im(P)⟩, i.e. col2im = im2colᵀ (it scatter-adds each patch entry back to the pixel it was read from, zero padding dropped) — what makes conv2d's input gradient col2im(∂L/∂patches) correct",
  source: "Chellapilla et al. (2006) §2 (unfolding for convolution); adjoint of a linear map (⟨Ax, y⟩ = ⟨x, Aᵀy⟩)",
  generator: `${convGenerator}; P N(0, 1) of im2col's output size`,
  tolerance: "|⟨im2col(x), P⟩ − ⟨x, col2im(P)⟩| / Σ_i |im2col(x)_i·P_i| ≤ 4·(L + 2)·ε, L the number of patch entries",
  why: "Both inner products sum the same L products x_j·P_i (each patch entry is one read of one pixel), in different orders; the difference is at most γ_L times the sum of their magnitudes. A patch entry read from or written to the wrong pixel, or a padding entry not dropped, is an O(1) error.",
  check(ad, c, r): Measurement {
    const g = ad.conv2dGeometry([c.n, c.inChannels, c.h, c.w], c.kernel, convParams(c));
    const x = r.fillNormal(new Float64Array(c.n * c.inChannels * c.h * c.w));
    const p = r.fillNormal(new Float64Array(ad.patchesLength(g)));
    const px = ad.im2col(x, g);
    const xp = ad.col2im(p, g);
    let lhs = 0;
    let mag = 0;
    for (let i = 0; i < p.length; i++) {
      lhs += (px[i] as number) * (p[i] as number);
      mag += Math.abs((px[i] as number) * (p[i] as number));
    }
    let rhs = 0;
    for (let i = 0; i < x.length; i++) rhs += (x[i] as number) * (xp[i] as number);
    const d = Math.abs(lhs - rhs);
    return {
      error: mag > 0 ? d / mag : d,
      tolerance: 4 * (p.length + 2) * EPS,
      note: `⟨im2col(x), P⟩ = ${lhs}, ⟨x, col2im(P)⟩ = ${rhs}`,
    };
  },
});

export const autodiffLaws: readonly Law[] = [
  ...derivativeRuleNames.map(ruleLaw),
  broadcastGradientLaw,
  convDirect,
  im2colAdjoint,
];
