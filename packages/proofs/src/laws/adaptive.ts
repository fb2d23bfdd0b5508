/**
 * Laws of the self-tuning step (Martens & Grosse 2015, §6.4 and §7): the quadratic model evaluated from
 * captured statistics equals the dense model with F formed from explicit per-example gradients, across
 * layers; and the (α, μ) of the 2×2 solve is a stationary point of that model.
 */
import type { LayerBatch, LayerShape, QuadraticTerms } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { labelled, seedArb } from "../arbitraries.ts";
import { defineLaw, type Law, type Measurement } from "../law.ts";

const EPS = 2 ** -52;

interface NetLayer {
  readonly shape: LayerShape;
  readonly stats: LayerBatch;
  readonly dir: Float64Array;
  readonly prev: Float64Array;
  readonly grad: Float64Array;
}

interface NetCase {
  readonly layers: readonly NetLayer[];
  readonly n: number;
  readonly lambda: number;
  readonly alpha: number;
  readonly momentum: number;
}

function layer(rng: Rng, shape: LayerShape, n: number, t: number, gScale: number): NetLayer {
  const aDim = shape.inDim + (shape.hasBias ? 1 : 0);
  const gDim = shape.outDim / shape.groups;
  const rows = n * t;
  const a = new Float64Array(shape.groups * rows * aDim);
  const g = new Float64Array(shape.groups * rows * gDim);
  for (let r = 0; r < shape.groups * rows; r++) {
    for (let j = 0; j < shape.inDim; j++) a[r * aDim + j] = rng.normal();
    if (shape.hasBias) a[r * aDim + shape.inDim] = 1;
    for (let i = 0; i < gDim; i++) g[r * gDim + i] = gScale * rng.normal();
  }
  const p = shape.outDim * aDim;
  const vec = () => rng.fillNormal(new Float64Array(p));
  return { shape, stats: { batchSize: n, positions: t, a, g }, dir: vec(), prev: vec(), grad: vec() };
}

/** A dense layer followed by a (grouped) conv layer or a second dense layer, one batch of N examples. */
const netArb: fc.Arbitrary<NetCase> = fc
  .record({
    seed: seedArb,
    n: fc.integer({ min: 1, max: 12 }),
    out1: fc.integer({ min: 1, max: 5 }),
    in1: fc.integer({ min: 1, max: 5 }),
    out2: fc.integer({ min: 1, max: 4 }),
    groups: fc.integer({ min: 1, max: 2 }),
    t: fc.integer({ min: 1, max: 4 }),
    conv: fc.boolean(),
    bias: fc.boolean(),
    logG: fc.integer({ min: -4, max: 4 }),
    lambda: fc.oneof(fc.constant(0), fc.double({ min: 1e-4, max: 10, noNaN: true })),
    // On a grid of 0.01 (0 included): subnormal coefficients would only measure underflow.
    alpha: fc.integer({ min: -300, max: 300 }).map((k) => k / 100),
    momentum: fc.integer({ min: -300, max: 300 }).map((k) => k / 100),
  })
  .map((c) => {
    const rng = new Rng(c.seed);
    const first = layer(
      rng,
      { kind: "dense", outDim: c.out1, inDim: c.in1, hasBias: c.bias, groups: 1 },
      c.n,
      1,
      10 ** c.logG,
    );
    const second = c.conv
      ? layer(
          rng,
          { kind: "conv2d", outDim: c.groups * c.out2, inDim: c.out1, hasBias: !c.bias, groups: c.groups },
          c.n,
          c.t,
          10 ** c.logG,
        )
      : layer(rng, { kind: "dense", outDim: c.out2, inDim: c.out1, hasBias: !c.bias, groups: 1 }, c.n, 1, 10 ** c.logG);
    const label =
      `{ seed: ${c.seed}, N: ${c.n}, layer1: dense ${c.out1}×${c.in1}, layer2: ${c.conv ? `conv2d groups ${c.groups} T ${c.t}` : "dense"} ` +
      `${c.groups * c.out2}×${c.out1}, g·10^${c.logG}, λ: ${c.lambda}, α: ${c.alpha}, μ: ${c.momentum} }`;
    return labelled({ layers: [first, second], n: c.n, lambda: c.lambda, alpha: c.alpha, momentum: c.momentum }, label);
  });

const modelLaw = defineLaw({
  id: "ekfac.quadratic-model.dense",
  title: "quadratic model from captured ā, g = dense ∇ᵀδ + ½δᵀ(F + λI)δ, cross-layer terms included",
  statement:
    "for δ = αΔ + μδ₀ over two layers, M(δ) from Σₙ (Σ_layers Σ_t gₙₜᵀ V āₙₜ)² / N equals ∇ᵀδ + ½δᵀ(F + λI)δ with F = (1/N) Σₙ vₙvₙᵀ, vₙ the whole network's per-example gradient",
  source:
    "Martens & Grosse (2015) §6.4 (M with the exact F) and §7 (the 2×2 model over Δ and δ₀); the capture conventions of packages/ekfac/src/capture.ts",
  generator:
    "dense (1–5 × 1–5) then dense (1–4 outputs) or grouped conv2d (groups ∈ {1, 2}, 1–4 outputs per group, T ∈ [1, 4]) sharing N ∈ [1, 12] examples; g scaled by 10^k, k ∈ [−4, 4]; λ ∈ {0} ∪ [1e-4, 10]; α, μ ∈ [−3, 3] on a 0.01 grid",
  tolerance: "|M − M_ref| ≤ 8·(T·a + P)·ε·(|∇|ᵀ|δ| + (1/N) Σₙ mₙ² + λ‖δ‖²), mₙ = Σ |g||δ||ā| the magnitude of vₙᵀδ",
  why: "Both sides sum the same products in different orders; each inner product of K ≤ T·a + P terms is accurate to K·ε times its magnitude (Higham §3.1), and squaring doubles the relative error of dₙ at most.",
  runScale: 0.5,
  arbitrary: netArb,
  measure(impl, c): Measurement {
    const ws = new impl.ekfac.QuadraticModelWorkspace().begin(c.n);
    for (const l of c.layers) ws.addLayer(l.shape, l.stats, l.dir, l.prev, l.grad);
    const got = impl.ekfac.quadraticModelValue(ws.terms(), c.lambda, c.alpha, c.momentum);
    // Reference: explicit per-example gradients of the whole network, F applied as (1/N) Σ (vₙᵀδ)².
    let lin = 0;
    let linMag = 0;
    let norm2 = 0;
    let p = 0;
    let maxRow = 0;
    const dn = new Float64Array(c.n);
    const mn = new Float64Array(c.n);
    for (const l of c.layers) {
      const v = impl.ekfac.perExampleGradients(l.shape, l.stats);
      const pl = l.dir.length;
      p += pl;
      maxRow = Math.max(maxRow, l.stats.positions * (l.shape.inDim + 1));
      const delta = l.dir.map((x, i) => c.alpha * x + c.momentum * (l.prev[i] as number));
      for (let i = 0; i < pl; i++) {
        lin += (l.grad[i] as number) * (delta[i] as number);
        linMag += Math.abs((l.grad[i] as number) * (delta[i] as number));
        norm2 += (delta[i] as number) ** 2;
      }
      for (let e = 0; e < c.n; e++) {
        for (let i = 0; i < pl; i++) dn[e] = (dn[e] as number) + (v[e * pl + i] as number) * (delta[i] as number);
      }
      // mₙ from the magnitudes of the products that vₙ was built from: Σ_t |g| |δ| |ā| per example.
      const { a, g, positions: t } = l.stats;
      const aDim = l.shape.inDim + (l.shape.hasBias ? 1 : 0);
      const gDim = l.shape.outDim / l.shape.groups;
      const rows = c.n * t;
      for (let k = 0; k < l.shape.groups; k++) {
        for (let r = 0; r < rows; r++) {
          const e = Math.floor(r / t);
          for (let i = 0; i < gDim; i++) {
            const gi = Math.abs(g[(k * rows + r) * gDim + i] as number);
            for (let j = 0; j < aDim; j++) {
              const dij = Math.abs(delta[(k * gDim + i) * aDim + j] as number);
              mn[e] = (mn[e] as number) + gi * dij * Math.abs(a[(k * rows + r) * aDim + j] as number);
            }
          }
        }
      }
    }
    let quad = 0;
    let quadMag = 0;
    for (let e = 0; e < c.n; e++) {
      quad += (dn[e] as number) ** 2 / c.n;
      quadMag += (mn[e] as number) ** 2 / c.n;
    }
    const want = lin + 0.5 * (quad + c.lambda * norm2);
    const scale = linMag + quadMag + c.lambda * norm2;
    return { error: Math.abs(got - want), tolerance: 8 * (maxRow + p) * EPS * scale + Number.MIN_VALUE };
  },
});

interface SolveCase {
  readonly terms: QuadraticTerms;
  readonly lambda: number;
}

/** Terms of a P-dimensional problem with F = BᵀB/m (singular for m < P) and directions of scale 10^k. */
const solveArb: fc.Arbitrary<SolveCase> = fc
  .record({
    seed: seedArb,
    p: fc.integer({ min: 1, max: 8 }),
    m: fc.integer({ min: 1, max: 8 }),
    logScale: fc.integer({ min: -6, max: 6 }),
    lambda: fc.oneof(fc.constant(0), fc.double({ min: 1e-6, max: 10, noNaN: true })),
  })
  .map((c) => {
    const rng = new Rng(c.seed);
    const b = rng.fillNormal(new Float64Array(c.m * c.p));
    const x = rng.fillNormal(new Float64Array(c.p)).map((v) => v * 10 ** c.logScale);
    const y = rng.fillNormal(new Float64Array(c.p));
    const g = rng.fillNormal(new Float64Array(c.p));
    const dot = (u: Float64Array, w: Float64Array) => u.reduce((s, ui, i) => s + ui * (w[i] as number), 0);
    const bx = new Float64Array(c.m);
    const by = new Float64Array(c.m);
    for (let r = 0; r < c.m; r++) {
      for (let i = 0; i < c.p; i++) {
        bx[r] = (bx[r] as number) + (b[r * c.p + i] as number) * (x[i] as number);
        by[r] = (by[r] as number) + (b[r * c.p + i] as number) * (y[i] as number);
      }
    }
    const terms: QuadraticTerms = {
      batchSize: c.m,
      curvature11: dot(bx, bx) / c.m,
      curvature12: dot(bx, by) / c.m,
      curvature22: dot(by, by) / c.m,
      inner11: dot(x, x),
      inner12: dot(x, y),
      inner22: dot(y, y),
      linear1: dot(g, x),
      linear2: dot(g, y),
    };
    return labelled({ terms, lambda: c.lambda }, JSON.stringify(c));
  });

const solveLaw = defineLaw({
  id: "ekfac.quadratic-step.stationary",
  title: "the (α, μ) solve is a stationary point of M (or α alone minimises it along Δ)",
  statement:
    "with C = [[ΔᵀFΔ, ΔᵀFδ₀], [δ₀ᵀFΔ, δ₀ᵀFδ₀]] + λ[[‖Δ‖², Δᵀδ₀], [δ₀ᵀΔ, ‖δ₀‖²]] and b = (∇ᵀΔ, ∇ᵀδ₀): status joint ⇒ C(α, μ)ᵀ + b = 0; status alpha-only ⇒ μ = 0 and C₁₁α + b₁ = 0",
  source:
    "Martens & Grosse (2015) §7 (the 2×2 system for α and μ) and §6.4 (α alone); kfac-jax's adaptive learning rate and momentum",
  generator:
    "P ∈ [1, 8], F = BᵀB/m with m ∈ [1, 8] rows (singular when m < P), Δ scaled by 10^k (k ∈ [−6, 6]), λ ∈ {0} ∪ [1e-6, 10]",
  tolerance: "|(C x + b)ᵢ| ≤ 64·ε·κ·Σⱼ |Cᵢⱼ xⱼ| + |bᵢ|, κ = C₁₁C₂₂ / det C (1 for α alone)",
  why: "The solve equilibrates C to unit diagonal and applies Cramer's rule; its forward error is O(ε·κ) normwise, so the residual is O(ε·κ) relative to the magnitudes of the products.",
  arbitrary: solveArb,
  measure(impl, c): Measurement {
    const t = c.terms;
    const r = impl.ekfac.solveQuadraticStep(t, c.lambda);
    if (r.status === "fallback") return { error: 0, tolerance: 1 };
    const c11 = t.curvature11 + c.lambda * t.inner11;
    const c12 = t.curvature12 + c.lambda * t.inner12;
    const c22 = t.curvature22 + c.lambda * t.inner22;
    const joint = r.status === "joint";
    const kappa = joint ? (c11 * c22) / (c11 * c22 - c12 * c12) : 1;
    const r1 = Math.abs(c11 * r.alpha + c12 * r.momentum + t.linear1);
    const m1 = Math.abs(c11 * r.alpha) + Math.abs(c12 * r.momentum) + Math.abs(t.linear1);
    let ratio = r1 / (64 * EPS * kappa * m1 + Number.MIN_VALUE);
    if (joint) {
      const r2 = Math.abs(c12 * r.alpha + c22 * r.momentum + t.linear2);
      const m2 = Math.abs(c12 * r.alpha) + Math.abs(c22 * r.momentum) + Math.abs(t.linear2);
      ratio = Math.max(ratio, r2 / (64 * EPS * kappa * m2 + Number.MIN_VALUE));
    } else if (r.momentum !== 0) {
      ratio = Number.POSITIVE_INFINITY;
    }
    return { error: ratio, tolerance: 1 };
  },
});

export const adaptiveLaws: readonly Law[] = [modelLaw, solveLaw];
