/**
 * The local quadratic model of the loss along two directions, evaluated from the captured statistics,
 * and the choice of learning rate α and momentum μ that minimises it.
 *
 *   M(δ) = ∇ᵀδ + ½ δᵀ(F + (λ + η) I) δ,     δ = α Δ + μ δ₀
 *
 * Source: Martens & Grosse 2015, "Optimizing Neural Networks with Kronecker-factored Approximate
 * Curvature", §6.4 (re-scaling the proposal by the exact F: α* = −∇ᵀΔ / (ΔᵀFΔ + (λ+η)‖Δ‖²)) and §7
 * (momentum: the 2×2 system for (α, μ) over the proposal Δ and the previous update δ₀); kfac-jax's
 * adaptive learning rate and momentum (`use_adaptive_learning_rate`, `use_adaptive_momentum`, and its
 * `fixed_coefficients` when the user sets one of them). η is an L2 coefficient that is part of the
 * objective (M&G's weight-decay term), λ the adaptive damping.
 *
 * Fisher terms without an extra backward pass. The producer hands over, per layer, ā rows and g rows
 * scaled by N (capture.ts), so g_{n,t} = ∂ℓ_n/∂s_{n,t} of the n-th example's OWN loss ℓ_n (the mean loss
 * is L = (1/N) Σ ℓ_n) and its per-example gradient is ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ (outDim × aDim, W̄ = [W|b]).
 * For a direction V (W̄-shaped per layer, one block per group for grouped conv):
 *
 *   d_n(V) = ∇ℓ_nᵀ v = Σ_layers Σ_groups Σ_t g_{n,t}ᵀ V ā_{n,t}                (conventions of capture.ts)
 *   vᵀFv = (1/N) Σ_n d_n(V)²,   ΔᵀFδ₀ = (1/N) Σ_n d_n(Δ) d_n(δ₀)
 *
 * with F = (1/N) Σ_n ∇ℓ_n ∇ℓ_nᵀ the Fisher of the whole network. The per-example directional derivatives
 * are summed over every layer BEFORE they are squared, so the cross-layer blocks of F (which KFAC and
 * EKFAC drop) are in the model — this is the "exact F" of §6.4 restricted to the minibatch. Had g not
 * been scaled by N, every F term would come out N² too small. BatchNorm-style scale and shift
 * (`addScaleShift`) enter the same sums: their per-example gradients (Σ_t g x̂, Σ_t g) per channel are
 * known from the captured rows.
 *
 * Deviations:
 * - M&G evaluate vᵀFv as (Jv)ᵀ F_R (Jv) with forward-mode products and the output-distribution Fisher
 *   F_R. Here the Fisher is the one the captured g realise: the empirical Fisher for the training loss's
 *   g, an unbiased one-sample Monte Carlo estimate for the true Fisher (sampled targets), and the exact
 *   one for "exact"-mode captures (E = N·C pseudo-examples with g weighted by √(C·p): the same formula
 *   with N replaced by E). ∇ is the training loss's own gradient, supplied by the caller, never
 *   derived from g (in true-Fisher mode g belongs to the sampled loss).
 * - Parameters without captured per-example statistics (`addParameter`) contribute their linear and
 *   (λ+η)‖·‖² terms but no Fisher curvature: the model is then optimistic along them, and the
 *   Levenberg–Marquardt rule (adaptive-damping.ts) is what corrects for it.
 * - The 2×2 system is solved after diagonal equilibration (C̃ = D C D, D = diag(1/√C₁₁, 1/√C₂₂)), and
 *   it counts as singular when 1 − r² ≤ 1e-10 with r = C₁₂/√(C₁₁C₂₂) (Δ and δ₀ parallel in the
 *   (F + λ + η) metric to ~5 digits): α and μ would then cancel each other and be pure rounding, so
 *   the step falls back to α alone, which loses nothing (δ₀ adds no new direction).
 *
 * Cost per layer and direction: N·T·outDim·aDim multiply-adds (one gemm Ā Vᵀ per group, like the
 * layer's forward pass) plus N·T·outDim for the row dots and O(outDim·aDim) for the inner products;
 * a scale-and-shift layer costs N·T·C per direction; the solve is O(1). After the first call at the
 * largest sizes nothing is allocated.
 */
import { type FloatArray, gemmStrided } from "@ekfac-ts/linalg";
import type { LayerBatch, LayerShape, ScaleShiftBatch } from "../capture.ts";
import { checkFinite, checkNonNegative } from "../internal/checks.ts";
import { asFloat64, checkShape, checkStatistics, ensure } from "../internal/stats.ts";
import type { BlockDims } from "./block.ts";

/**
 * The terms of M along Δ (index 1) and δ₀ (index 2), summed over every layer and parameter added:
 * `curvatureIJ` the Fisher part (vᵢᵀ F vⱼ), `innerIJ` the Euclidean part (vᵢᵀ vⱼ), `linearI` = ∇ᵀvᵢ.
 * The damped Gram is C = curvature + (λ + η)·inner.
 */
export interface QuadraticTerms {
  /** N (or E pseudo-examples) of the statistics the Fisher terms come from; 0 when none were added. */
  readonly batchSize: number;
  /** Δᵀ F Δ. */
  readonly curvature11: number;
  /** Δᵀ F δ₀. */
  readonly curvature12: number;
  /** δ₀ᵀ F δ₀. */
  readonly curvature22: number;
  /** Δᵀ Δ. */
  readonly inner11: number;
  /** Δᵀ δ₀. */
  readonly inner12: number;
  /** δ₀ᵀ δ₀. */
  readonly inner22: number;
  /** ∇ᵀ Δ. */
  readonly linear1: number;
  /** ∇ᵀ δ₀. */
  readonly linear2: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Accumulates the quadratic-model terms over the layers of one step: `begin(N)`, then `addLayer` for
 * each curvature layer and `addParameter` for any other parameter, then `terms()`. Directions are in
 * the W̄ = [W | b] layout (outDim × aDim row-major, groups stacked by output row); `previous` = null
 * stands for δ₀ = 0 (the first step, or no momentum).
 */
export class QuadraticModelWorkspace {
  private dDir: Float64Array = new Float64Array(0);
  private dPrev: Float64Array = new Float64Array(0);
  private aWs: Float64Array = new Float64Array(0);
  private gWs: Float64Array = new Float64Array(0);
  private vWs: Float64Array = new Float64Array(0);
  private uWs: Float64Array = new Float64Array(0);
  private rWs: Float64Array = new Float64Array(0);
  private readonly sums: Mutable<QuadraticTerms> = {
    batchSize: 0,
    curvature11: 0,
    curvature12: 0,
    curvature22: 0,
    inner11: 0,
    inner12: 0,
    inner22: 0,
    linear1: 0,
    linear2: 0,
  };
  private n = 0;
  private hasFisher = false;

  /** Starts a new evaluation for statistics of `batchSize` examples; clears every accumulated term. */
  begin(batchSize: number): this {
    if (typeof batchSize !== "number" || !Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`QuadraticModelWorkspace.begin: batchSize must be a positive integer (got ${batchSize})`);
    }
    this.n = batchSize;
    this.hasFisher = false;
    this.dDir = ensure(this.dDir, batchSize);
    this.dPrev = ensure(this.dPrev, batchSize);
    this.dDir.fill(0, 0, batchSize);
    this.dPrev.fill(0, 0, batchSize);
    const s = this.sums;
    s.batchSize = 0;
    s.curvature11 = s.curvature12 = s.curvature22 = 0;
    s.inner11 = s.inner12 = s.inner22 = 0;
    s.linear1 = s.linear2 = 0;
    return this;
  }

  /**
   * Adds one curvature layer: its per-example directional derivatives (into the running per-example
   * sums, so cross-layer terms are kept), its inner products and its linear terms. `direction`,
   * `previous` and `gradient` have outDim·aDim entries (W̄ layout).
   */
  addLayer(
    shape: LayerShape,
    stats: LayerBatch,
    direction: FloatArray,
    previous: FloatArray | null,
    gradient: FloatArray,
  ): this {
    const fn = "QuadraticModelWorkspace.addLayer";
    const { dims, rows } = this.checkLayer(fn, shape, stats);
    this.checkVectors(fn, dims.size, direction, previous, gradient);
    this.layerDerivatives(dims, rows, stats, direction, previous, null);
    this.addInner(direction, previous, gradient);
    return this;
  }

  /**
   * `addLayer` for a layer whose gradient is (1/N) Σ_rows r ā ᵀ (per group; `lossRows` r in the layout
   * of `stats.g` over the N examples: the loss's own signals, ekfac's `ParameterRef.gradFromRows`):
   * the linear terms ∇ᵀΔ and ∇ᵀδ₀ come from the products Ā Vᵀ the directional derivatives form anyway,
   * (1/N) Σ_rows ⟨r, ā Vᵀ⟩, so ∇ itself is never needed. Cost over `addLayer`: N·T·gDim per direction.
   */
  addLayerFromRows(
    shape: LayerShape,
    stats: LayerBatch,
    lossRows: FloatArray,
    direction: FloatArray,
    previous: FloatArray | null,
  ): this {
    const fn = "QuadraticModelWorkspace.addLayerFromRows";
    const { dims, rows } = this.checkLayer(fn, shape, stats);
    if (!(lossRows instanceof Float32Array || lossRows instanceof Float64Array) || lossRows.length !== stats.g.length) {
      throw new RangeError(
        `${fn}: lossRows must be a Float32Array or Float64Array laid out as statistics.g (${stats.g.length} entries)`,
      );
    }
    this.checkVectors(fn, dims.size, direction, previous, null);
    this.layerDerivatives(dims, rows, stats, direction, previous, lossRows);
    this.addInner(direction, previous, null);
    return this;
  }

  /** A started evaluation, a valid layer shape and statistics of the `begin` batch size: the block's sizes. */
  private checkLayer(fn: string, shape: LayerShape, stats: LayerBatch): { dims: BlockDims; rows: number } {
    this.checkStarted(fn);
    const dims = checkShape(fn, shape);
    const rows = checkStatistics(fn, shape.kind, dims, stats);
    if (stats.batchSize !== this.n) {
      throw new RangeError(`${fn}: statistics.batchSize = ${stats.batchSize}, expected ${this.n} (as passed to begin)`);
    }
    return { dims, rows };
  }

  /** The layer's per-example directional derivatives; with `lossRows`, also its linear terms (see above). */
  private layerDerivatives(
    dims: BlockDims,
    rows: number,
    stats: LayerBatch,
    direction: FloatArray,
    previous: FloatArray | null,
    lossRows: FloatArray | null,
  ): void {
    const total = dims.groups * rows;
    this.aWs = ensure(this.aWs, total * dims.aDim);
    this.gWs = ensure(this.gWs, total * dims.gDim);
    this.vWs = ensure(this.vWs, dims.size);
    this.uWs = ensure(this.uWs, rows * dims.gDim);
    const a = asFloat64(stats.a, this.aWs);
    const g = asFloat64(stats.g, this.gWs);
    let r: Float64Array | null = null;
    if (lossRows !== null) {
      this.rWs = ensure(this.rWs, total * dims.gDim);
      r = asFloat64(lossRows, this.rWs);
    }
    const t = stats.positions;
    const s = this.sums;
    const l1 = directionalDerivatives(this.dDir, dims, t, rows, a, g, asFloat64(direction, this.vWs), this.uWs, r);
    if (r !== null) s.linear1 += l1 / stats.batchSize;
    if (previous !== null) {
      const l2 = directionalDerivatives(this.dPrev, dims, t, rows, a, g, asFloat64(previous, this.vWs), this.uWs, r);
      if (r !== null) s.linear2 += l2 / stats.batchSize;
    }
    this.hasFisher = true;
  }

  /**
   * Adds a BatchNorm-style scale (and shift) layer with C channels: d_n += Σ_t Σ_c g_{n,t,c}(V_γ[c]·x̂_{n,t,c}
   * + V_β[c]). Vectors are laid out [γ_0 … γ_{C−1}, β_0 … β_{C−1}] (C entries without a shift).
   * `stats.xhat`, `stats.g` are `(E·T) × C` rows (capture.ts). Cost per direction N·T·C.
   */
  addScaleShift(
    stats: ScaleShiftBatch,
    hasShift: boolean,
    direction: FloatArray,
    previous: FloatArray | null,
    gradient: FloatArray,
  ): this {
    const fn = "QuadraticModelWorkspace.addScaleShift";
    this.checkStarted(fn);
    if (stats === null || typeof stats !== "object") throw new TypeError(`${fn}: statistics must be an object`);
    if (typeof hasShift !== "boolean") throw new TypeError(`${fn}: hasShift must be a boolean`);
    for (const key of ["xhat", "g"] as const) {
      if (!(stats[key] instanceof Float32Array || stats[key] instanceof Float64Array)) {
        throw new TypeError(`${fn}: statistics.${key} must be a Float32Array or Float64Array`);
      }
    }
    if (stats.batchSize !== this.n) {
      throw new RangeError(`${fn}: statistics.batchSize = ${stats.batchSize}, expected ${this.n} (as passed to begin)`);
    }
    const t = stats.positions;
    if (typeof t !== "number" || !Number.isInteger(t) || t < 1) {
      throw new RangeError(`${fn}: statistics.positions must be a positive integer (got ${t})`);
    }
    const rows = this.n * t;
    const channels = stats.xhat.length / rows;
    if (!Number.isInteger(channels) || channels < 1 || stats.g.length !== stats.xhat.length) {
      throw new RangeError(
        `${fn}: statistics.xhat and statistics.g must both hold N·T·C = ${rows}·C entries (got ${stats.xhat.length} and ${stats.g.length})`,
      );
    }
    this.checkVectors(fn, channels * (hasShift ? 2 : 1), direction, previous, gradient);
    scaleShiftDerivatives(this.dDir, t, rows, channels, hasShift, stats.xhat, stats.g, direction);
    if (previous !== null)
      scaleShiftDerivatives(this.dPrev, t, rows, channels, hasShift, stats.xhat, stats.g, previous);
    this.hasFisher = true;
    this.addInner(direction, previous, gradient);
    return this;
  }

  /**
   * Adds a parameter without captured per-example statistics: linear and inner-product terms only (it
   * contributes no Fisher curvature; see the header).
   */
  addParameter(direction: FloatArray, previous: FloatArray | null, gradient: FloatArray): this {
    const fn = "QuadraticModelWorkspace.addParameter";
    this.checkStarted(fn);
    this.checkVectors(fn, direction?.length, direction, previous, gradient);
    this.addInner(direction, previous, gradient);
    return this;
  }

  /** The accumulated terms (a view that the next `begin` overwrites). */
  terms(): QuadraticTerms {
    const s = this.sums;
    const n = this.n;
    let c11 = 0;
    let c12 = 0;
    let c22 = 0;
    if (this.hasFisher) {
      for (let e = 0; e < n; e++) {
        const x = this.dDir[e] as number;
        const y = this.dPrev[e] as number;
        c11 += x * x;
        c12 += x * y;
        c22 += y * y;
      }
      c11 /= n;
      c12 /= n;
      c22 /= n;
    }
    s.batchSize = this.hasFisher ? n : 0;
    s.curvature11 = c11;
    s.curvature12 = c12;
    s.curvature22 = c22;
    return s;
  }

  private checkStarted(fn: string): void {
    if (this.n === 0) throw new TypeError(`${fn}: call begin(batchSize) first`);
  }

  private checkVectors(
    fn: string,
    size: number,
    direction: FloatArray,
    previous: FloatArray | null,
    gradient: FloatArray | null,
  ): void {
    if (!(direction instanceof Float32Array || direction instanceof Float64Array)) {
      throw new TypeError(`${fn}: direction must be a Float32Array or Float64Array`);
    }
    if (gradient !== null && !(gradient instanceof Float32Array || gradient instanceof Float64Array)) {
      throw new TypeError(`${fn}: gradient must be a Float32Array or Float64Array`);
    }
    if (previous !== null && !(previous instanceof Float32Array || previous instanceof Float64Array)) {
      throw new TypeError(`${fn}: previous must be a Float32Array, a Float64Array or null`);
    }
    if (direction.length !== size) {
      throw new RangeError(`${fn}: direction has length ${direction.length}, expected ${size}`);
    }
    if (previous !== null && previous.length !== size) {
      throw new RangeError(`${fn}: previous has length ${previous.length}, expected ${size}`);
    }
    if (gradient !== null && gradient.length !== size) {
      throw new RangeError(`${fn}: gradient has length ${gradient.length}, expected ${size}`);
    }
  }

  /** The inner products, and the linear terms unless `gradient` is null (then the caller adds them). */
  private addInner(direction: FloatArray, previous: FloatArray | null, gradient: FloatArray | null): void {
    const s = this.sums;
    let i11 = 0;
    let l1 = 0;
    for (let i = 0; i < direction.length; i++) {
      const x = direction[i] as number;
      i11 += x * x;
      if (gradient !== null) l1 += (gradient[i] as number) * x;
    }
    s.inner11 += i11;
    s.linear1 += l1;
    if (previous === null) return;
    let i12 = 0;
    let i22 = 0;
    let l2 = 0;
    for (let i = 0; i < previous.length; i++) {
      const x = direction[i] as number;
      const y = previous[i] as number;
      i12 += x * y;
      i22 += y * y;
      if (gradient !== null) l2 += (gradient[i] as number) * y;
    }
    s.inner12 += i12;
    s.inner22 += i22;
    s.linear2 += l2;
  }
}

/**
 * d[n] += Σ_groups Σ_t g_{n,t}ᵀ V_k ā_{n,t}: per group one product U = Ā_k V_kᵀ (rows × gDim), then a
 * row-wise dot with the g rows, summed over the T positions of each example. Returns Σ_rows ⟨r, u⟩ over
 * the `lossRows` r (0 without them). Trusts its caller.
 */
function directionalDerivatives(
  d: Float64Array,
  dims: BlockDims,
  positions: number,
  rows: number,
  a: Float64Array,
  g: Float64Array,
  v: Float64Array,
  u: Float64Array,
  lossRows: Float64Array | null,
): number {
  const { aDim, gDim, groups } = dims;
  let linear = 0;
  for (let k = 0; k < groups; k++) {
    gemmStrided(false, true, rows, gDim, aDim, 1, a, k * rows * aDim, aDim, v, k * gDim * aDim, aDim, 0, u, 0, gDim);
    const gBase = k * rows * gDim;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const gOff = gBase + r * gDim;
      const uOff = r * gDim;
      for (let i = 0; i < gDim; i++) s += (g[gOff + i] as number) * (u[uOff + i] as number);
      const e = (r / positions) | 0;
      d[e] = (d[e] as number) + s;
      if (lossRows !== null) {
        let l = 0;
        for (let i = 0; i < gDim; i++) l += (lossRows[gOff + i] as number) * (u[uOff + i] as number);
        linear += l;
      }
    }
  }
  return linear;
}

/** d[n] += Σ_t Σ_c g_{n,t,c}(v[c]·x̂_{n,t,c} + v[C + c]) (the shift term only with a shift). Trusts its caller. */
function scaleShiftDerivatives(
  d: Float64Array,
  positions: number,
  rows: number,
  channels: number,
  hasShift: boolean,
  xhat: FloatArray,
  g: FloatArray,
  v: FloatArray,
): void {
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const off = r * channels;
    for (let c = 0; c < channels; c++) {
      const shift = hasShift ? (v[channels + c] as number) : 0;
      s += (g[off + c] as number) * ((v[c] as number) * (xhat[off + c] as number) + shift);
    }
    const e = (r / positions) | 0;
    d[e] = (d[e] as number) + s;
  }
}

/** M(αΔ + μδ₀) = α∇ᵀΔ + μ∇ᵀδ₀ + ½[α²C₁₁ + 2αμC₁₂ + μ²C₂₂] with C = curvature + damping·inner. */
export function quadraticModelValue(terms: QuadraticTerms, damping: number, alpha: number, momentum: number): number {
  const c11 = terms.curvature11 + damping * terms.inner11;
  const c12 = terms.curvature12 + damping * terms.inner12;
  const c22 = terms.curvature22 + damping * terms.inner22;
  return (
    alpha * terms.linear1 +
    momentum * terms.linear2 +
    0.5 * (alpha * alpha * c11 + 2 * alpha * momentum * c12 + momentum * momentum * c22)
  );
}

/**
 * "joint": α and μ minimise M (or were fixed by the user) and δ₀ took part; "alpha-only": μ = 0 because
 * there is no δ₀ or the 2×2 Gram is not positive definite; "fallback": M has no positive curvature along
 * Δ (or a term is not finite), α = μ = 0, and the caller applies its fixed-rate rule instead.
 */
export type QuadraticStepStatus = "joint" | "alpha-only" | "fallback";

/** Why the solve ended as it did: "ok", or what pushed it to "alpha-only" or "fallback". */
export type QuadraticStepReason =
  | "ok"
  | "no-previous-update"
  | "gram-not-positive-definite"
  | "curvature-not-positive"
  | "non-finite";

/**
 * The solution of the (α, μ) problem for δ = αΔ + μδ₀ (Martens & Grosse 2015 §7), written by
 * `solveQuadraticStep`.
 */
export interface QuadraticStep {
  /** Which solve produced α and μ (see `QuadraticStepStatus`). */
  status: QuadraticStepStatus;
  /** Why a degraded status was chosen ("ok" when none was). */
  reason: QuadraticStepReason;
  /** Coefficient of Δ in δ = αΔ + μδ₀ (no sign is assumed: with Δ = F̂⁻¹∇, an ascent direction, α < 0). */
  alpha: number;
  /** Coefficient of δ₀. */
  momentum: number;
  /** M(δ) with λ + η: the value that was minimised. */
  dampedChange: number;
  /** M(δ) with η only (no λ term): the denominator of the reduction ratio ρ (M&G §6.5; kfac-jax's
   *  default `include_damping_in_quad_change=False`). Always ≤ dampedChange. */
  predictedChange: number;
}

/** Options of `solveQuadraticStep`. */
export interface QuadraticStepOptions {
  /** η ≥ 0, an L2 term of the objective: in the Gram and in `predictedChange` (default 0). */
  readonly l2?: number;
  /** Fix α instead of solving for it (kfac-jax's fixed coefficients). */
  readonly alpha?: number;
  /** Fix μ instead of solving for it (e.g. a constant momentum with an adaptive learning rate). */
  readonly momentum?: number;
}

/** 1 − r² at or below this counts as singular (see the header). */
const SINGULAR = 1e-10;

const noOptions: QuadraticStepOptions = {};

/** A fresh result record (pass it back as `out` to avoid the allocation on later steps). */
export function quadraticStep(): QuadraticStep {
  return { status: "fallback", reason: "ok", alpha: 0, momentum: 0, dampedChange: 0, predictedChange: 0 };
}

/** Fills `out`; a non-finite coefficient or model value turns any status into "fallback". */
function finish(
  out: QuadraticStep,
  terms: QuadraticTerms,
  damping: number,
  l2: number,
  status: QuadraticStepStatus,
  reason: QuadraticStepReason,
  alpha: number,
  momentum: number,
): QuadraticStep {
  const damped = quadraticModelValue(terms, damping + l2, alpha, momentum);
  const predicted = quadraticModelValue(terms, l2, alpha, momentum);
  const finite =
    Number.isFinite(alpha) && Number.isFinite(momentum) && Number.isFinite(damped) && Number.isFinite(predicted);
  const ok = status !== "fallback" && finite;
  out.status = ok ? status : "fallback";
  out.reason = ok || status === "fallback" ? reason : "non-finite";
  out.alpha = ok ? alpha : 0;
  out.momentum = ok ? momentum : 0;
  out.dampedChange = ok ? damped : 0;
  out.predictedChange = ok ? predicted : 0;
  return out;
}

/**
 * The (α, μ) minimising M(αΔ + μδ₀) with damping λ (and options.l2 = η), with the guards of the header:
 * no δ₀ → α only; Gram not positive definite → α only; C₁₁ ≤ 0 → "fallback". Never NaN: a non-finite
 * term or result is "fallback" with α = μ = 0. Writes into `out` and returns it.
 */
export function solveQuadraticStep(
  terms: QuadraticTerms,
  damping: number,
  options: QuadraticStepOptions = noOptions,
  out: QuadraticStep = quadraticStep(),
): QuadraticStep {
  const fn = "solveQuadraticStep";
  checkNonNegative(fn, "damping", damping);
  const l2 = options.l2 ?? 0;
  checkNonNegative(fn, "options.l2", l2);
  if (options.alpha !== undefined) checkFinite(fn, "options.alpha", options.alpha);
  if (options.momentum !== undefined) checkFinite(fn, "options.momentum", options.momentum);
  const lambda = damping + l2;
  const c11 = terms.curvature11 + lambda * terms.inner11;
  const c12 = terms.curvature12 + lambda * terms.inner12;
  const c22 = terms.curvature22 + lambda * terms.inner22;
  const b1 = terms.linear1;
  const b2 = terms.linear2;
  const noPrevious = terms.inner22 === 0 && terms.curvature22 === 0;
  const fixedAlpha = options.alpha;
  const fixedMomentum = noPrevious ? 0 : options.momentum;
  let status: QuadraticStepStatus = noPrevious ? "alpha-only" : "joint";
  let reason: QuadraticStepReason = noPrevious ? "no-previous-update" : "ok";
  let alpha = 0;
  let momentum = 0;
  // Each linear term on its own: a sum b₁ + b₂ could overflow for two finite terms and misreport them.
  if (
    !(
      Number.isFinite(c11) &&
      Number.isFinite(c12) &&
      Number.isFinite(c22) &&
      Number.isFinite(b1) &&
      Number.isFinite(b2)
    )
  ) {
    status = "fallback";
    reason = "non-finite";
  } else if (fixedAlpha !== undefined && fixedMomentum !== undefined) {
    alpha = fixedAlpha;
    momentum = fixedMomentum;
  } else if (fixedAlpha === undefined && !(c11 > 0)) {
    // α = −(b₁ + μC₁₂)/C₁₁ minimises M along Δ only when C₁₁ > 0.
    status = "fallback";
    reason = "curvature-not-positive";
  } else if (fixedMomentum !== undefined) {
    alpha = -(b1 + fixedMomentum * c12) / c11;
    momentum = fixedMomentum;
  } else if (fixedAlpha !== undefined) {
    // μ = −(b₂ + αC₁₂)/C₂₂ needs C₂₂ > 0; otherwise δ₀ is dropped.
    alpha = fixedAlpha;
    if (c22 > 0) momentum = -(b2 + fixedAlpha * c12) / c22;
    else {
      status = "alpha-only";
      reason = "gram-not-positive-definite";
    }
  } else {
    alpha = -b1 / c11;
    // Equilibrated solve: C̃ = D C D = [[1, r], [r, 1]], b̃ = D b, x = D x̃ (see the header).
    const s1 = Math.sqrt(c11);
    const s2 = Math.sqrt(c22);
    const r = c12 / s1 / s2;
    const det = 1 - r * r;
    const t1 = b1 / s1;
    const t2 = b2 / s2;
    const jointAlpha = -(t1 - r * t2) / det / s1;
    const jointMomentum = -(t2 - r * t1) / det / s2;
    // The joint minimum is never above the α-only one; if rounding says otherwise, keep the simpler step.
    if (
      c22 > 0 &&
      det > SINGULAR &&
      quadraticModelValue(terms, lambda, jointAlpha, jointMomentum) <= quadraticModelValue(terms, lambda, alpha, 0)
    ) {
      alpha = jointAlpha;
      momentum = jointMomentum;
    } else {
      status = "alpha-only";
      reason = "gram-not-positive-definite";
    }
  }
  return finish(out, terms, damping, l2, status, reason, alpha, momentum);
}
