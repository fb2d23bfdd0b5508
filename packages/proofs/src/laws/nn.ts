/**
 * Laws of @ekfac-ts/nn's curvature capture: the homogeneous inputs ā and the per-example signals
 * g = N·∂L/∂s that Linear and Conv2d capture reproduce the parameter gradients autodiff computes,
 * for the minibatch and for each example alone (MATH.md §1, §6).
 */
import type { Tensor } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import type { CurvatureLayer, Module } from "@ekfac-ts/nn";
import { type Conv2dConfig, conv2dConfigArb, type LinearConfig, labelled, linearConfigArb } from "../arbitraries.ts";
import type { Autodiff, Implementation } from "../impl.ts";
import { distance } from "../internal/dense.ts";
import { defineLaw, type Law, type Measurement, worstOf } from "../law.ts";

const EPS = 2 ** -52;

/** The flat row-major [W | b] gradient of a layer (outDim × aDim). */
function combinedGrad(layer: CurvatureLayer): Float64Array {
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  const out = new Float64Array(layer.outDim * aDim);
  const w = layer.weight.grad;
  const b = layer.bias?.grad ?? null;
  for (let o = 0; o < layer.outDim; o++) {
    for (let j = 0; j < layer.inDim; j++) out[o * aDim + j] = (w?.[o * layer.inDim + j] as number | undefined) ?? 0;
    if (layer.hasBias) out[o * aDim + layer.inDim] = (b?.[o] as number | undefined) ?? 0;
  }
  return out;
}

/**
 * From the captured statistics: Σ_t g_{n,t} ā_{n,t}ᵀ for example n, or (1/N) Σ_n of it for n < 0, as
 * [W | b] (group k fills rows k·gDim…); and the magnitude Σ ‖g‖·‖ā‖ over the same terms.
 */
function fromStatistics(layer: CurvatureLayer, n: number): { grad: Float64Array; scale: number } {
  const s = layer.statistics;
  if (s === null) return { grad: new Float64Array(0), scale: 0 };
  const groups = layer.groups;
  const og = layer.outDim / groups;
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  const rows = s.batchSize * s.positions;
  const out = new Float64Array(layer.outDim * aDim);
  const r0 = n < 0 ? 0 : n * s.positions;
  const r1 = n < 0 ? rows : (n + 1) * s.positions;
  let scale = 0;
  for (let k = 0; k < groups; k++) {
    for (let r = r0; r < r1; r++) {
      let gn = 0;
      let an = 0;
      for (let o = 0; o < og; o++) gn += (s.g[(k * rows + r) * og + o] as number) ** 2;
      for (let j = 0; j < aDim; j++) an += (s.a[(k * rows + r) * aDim + j] as number) ** 2;
      scale += Math.sqrt(gn * an);
      for (let o = 0; o < og; o++) {
        const gv = s.g[(k * rows + r) * og + o] as number;
        for (let j = 0; j < aDim; j++) {
          const idx = (k * og + o) * aDim + j;
          out[idx] = (out[idx] as number) + gv * (s.a[(k * rows + r) * aDim + j] as number);
        }
      }
    }
  }
  if (n < 0) {
    for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) / s.batchSize;
    scale /= s.batchSize;
  }
  return { grad: out, scale };
}

/** L = (1/N) Σ_n ℓ_n with ℓ_n = Σ r_n ∘ tanh(s_n): a nonlinear loss whose per-example terms are separable. */
function meanLoss(ad: Autodiff, y: Tensor, r: Tensor): Tensor {
  const axes = y.shape.map((_, i) => i).slice(1);
  return ad.mean(ad.sum(ad.mul(ad.tanh(y), r), axes));
}

function row(ad: Autodiff, t: Tensor, n: number): Tensor {
  const per = t.size / (t.shape[0] as number);
  return ad.tensor(t.data.slice(n * per, (n + 1) * per) as Float64Array, [1, ...t.shape.slice(1)], {
    dtype: "float64",
  });
}

/** Both capture laws on one layer: the batch gradient and every per-example gradient. */
function captureLaws(
  ad: Autodiff,
  layer: Module & CurvatureLayer,
  x: Tensor,
  rng: Rng,
  positions: number,
): Measurement {
  const n = x.shape[0] as number;
  layer.setCapture(true);
  layer.zeroGrad();
  const y = layer.forward(x);
  const r = ad.tensor(rng.fillNormal(new Float64Array(y.size)), y.shape, { dtype: "float64" });
  meanLoss(ad, y, r).backward();
  if (layer.statistics === null)
    return { error: Number.POSITIVE_INFINITY, tolerance: 0, note: "no statistics captured" };
  const batch = fromStatistics(layer, -1);
  const tol = 8 * (n * positions + 4) * EPS;
  const rel = (d: number, s: number): number => (s > 0 ? d / s : d);
  const ms: Measurement[] = [
    { error: rel(distance(combinedGrad(layer), batch.grad), batch.scale), tolerance: tol, note: "∇W̄ = (1/N) Σ g āᵀ" },
  ];
  const perExample = Array.from({ length: n }, (_, e) => fromStatistics(layer, e));
  layer.setCapture(false);
  for (let e = 0; e < n; e++) {
    layer.zeroGrad();
    meanLoss(ad, layer.forward(row(ad, x, e)), row(ad, r, e)).backward();
    const p = perExample[e] as { grad: Float64Array; scale: number };
    ms.push({ error: rel(distance(combinedGrad(layer), p.grad), p.scale), tolerance: tol, note: `∇_${e} = Σ_t g āᵀ` });
  }
  return worstOf(...ms);
}

const captureTolerance =
  "‖∇̂ − ∇_stats‖_F / Σ‖g‖·‖ā‖ ≤ 8·(N·T + 4)·ε for the batch gradient (with 1/N) and for each example's own backward";
const captureWhy =
  "Both sides are sums of the same N·T outer products g·āᵀ in different orders (the layer's gemm, the naive loop), plus the scaling by 1/N and N; the summation error is at most γ_{NT}·Σ|g||ā| (Higham §3.1). A missing factor N on g, or a wrong row of ā, is an O(1) relative error.";

const linearCapture = defineLaw({
  id: "nn.capture.linear",
  title: "captured ā and g reproduce the gradients (Linear)",
  statement:
    "for s_n = W a_n + b, L = (1/N) Σ_n ℓ_n: ∇_W̄ L = (1/N) Σ_n g_n ā_nᵀ with g_n = N·∂L/∂s_n, ā_n = [a_n; 1]; and ∇_W̄ ℓ_n (a backward on example n alone) = g_n ā_nᵀ",
  source: "Martens & Grosse (2015) §2–3 (per-example gradient g āᵀ of a dense layer); MATH.md §1",
  generator:
    "float64 Linear with din, dout ∈ [1, 6], with or without bias, N ∈ [1, 6], N(0, 1) inputs, loss (1/N) Σ_n ⟨r_n, tanh(s_n)⟩ with random r",
  tolerance: captureTolerance,
  why: captureWhy,
  runScale: 0.5,
  arbitrary: linearConfigArb().map((c) => labelled(c, JSON.stringify(c))),
  measure(impl: Implementation, c: LinearConfig): Measurement {
    const ad = impl.autodiff;
    const layer = new impl.nn.Linear(c.inDim, c.outDim, { dtype: "float64", rng: c.seed, bias: c.bias });
    const rng = new Rng(c.seed + 1);
    const x = ad.tensor(rng.fillNormal(new Float64Array(c.n * c.inDim)), [c.n, c.inDim], { dtype: "float64" });
    return captureLaws(ad, layer, x, rng, 1);
  },
});

const convCapture = defineLaw({
  id: "nn.capture.conv2d",
  title: "captured patches and g reproduce the gradients (Conv2d, summed over positions)",
  statement:
    "for a conv layer with T output positions: ∇_W̄ L = (1/N) Σ_n Σ_t g_{n,t} ā_{n,t}ᵀ (ā = patch vector in kernel order, then 1), and ∇_W̄ ℓ_n = Σ_t g_{n,t} ā_{n,t}ᵀ; per group for grouped convolutions",
  source: "Grosse & Martens (2016) §3.1 (KFC: the conv gradient as a sum over spatial positions); MATH.md §6",
  generator:
    "float64 Conv2d with groups ∈ {1, 2}, 1–2 channels per group in and out, kernel 1–3 × 1–3, stride 1–2, padding 0–1, dilation 1–2, bias or not, N ∈ [1, 3], input just large enough for ≥ 1 output plus 0–3",
  tolerance: captureTolerance,
  why: captureWhy,
  runScale: 0.25,
  arbitrary: conv2dConfigArb().map((c) => labelled(c, JSON.stringify(c))),
  measure(impl: Implementation, c: Conv2dConfig): Measurement {
    const ad = impl.autodiff;
    const layer = new impl.nn.Conv2d(c.inChannels, c.outChannels, c.kernel, {
      stride: c.stride,
      padding: c.padding,
      dilation: c.dilation,
      groups: c.groups,
      bias: c.bias,
      dtype: "float64",
      rng: c.seed,
    });
    const rng = new Rng(c.seed + 1);
    const shape = [c.n, c.inChannels, c.h, c.w];
    const x = ad.tensor(rng.fillNormal(new Float64Array(c.n * c.inChannels * c.h * c.w)), shape, { dtype: "float64" });
    const ho = Math.floor((c.h + 2 * c.padding[0] - c.dilation[0] * (c.kernel[0] - 1) - 1) / c.stride[0]) + 1;
    const wo = Math.floor((c.w + 2 * c.padding[1] - c.dilation[1] * (c.kernel[1] - 1) - 1) / c.stride[1]) + 1;
    return captureLaws(ad, layer, x, rng, ho * wo);
  },
});

export const nnLaws: readonly Law[] = [linearCapture, convCapture];
