/**
 * The structural interface through which ekfac consumes a model: plain arrays and sizes, no classes.
 *
 * ekfac depends on linalg alone. Any framework that can hand over, per layer, the homogeneous inputs
 * `ā` and the per-example output gradients `g` of the last forward/backward pass can use KFAC and
 * EKFAC; `@ekfac-ts/nn` implements these interfaces (its Linear, Conv2d and BatchNorm layers, its
 * losses and its modules).
 *
 * Conventions (MATH.md §1 and §6):
 * - Dense layer `s = W a + b`, `W` is `outDim × inDim`. `ā = [a; 1]` when `hasBias`, else `a`, so each
 *   row of `a` below has `aDim = inDim + (hasBias ? 1 : 0)` entries.
 * - `g_n = ∂ℓ_n/∂s_n` is the PER-EXAMPLE signal: reverse mode on the mean loss yields `g_n / N`, and the
 *   producer multiplies by `N` before handing it over.
 * - Conv2d: one row per (example, output position), example-major (row `n·T + t`); `a` rows are the
 *   patches in the flattened-kernel order `(c_in, kh, kw)` (+ the trailing 1), `g` rows the `C_out`
 *   output gradients at that position (again scaled by `N`). The per-example weight gradient is the
 *   sum over positions `∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ`.
 * - Grouped conv (`groups > 1`): group `k` sees input channels `k·C_in/groups …` and produces output
 *   channels `k·C_out/groups …`; its statistics are block `k` of `a` (shape `groups × rows × aDim`) and
 *   of `g` (`groups × rows × outDim/groups`), and it is an independent Kronecker block.
 * - The combined parameter `W̄ = [W | b]` is `outDim × aDim` (per group for conv), flattened row-major:
 *   `vec(W̄)[i·aDim + j] = W̄[i, j]`, so `vec(g āᵀ) = g ⊗ ā` and `F ≈ G ⊗ A`.
 * - Which Fisher: the optimizer asks for one (`CaptureRequest.fisher`), the producer states which one
 *   its g realise (`fisher` on every statistics object) and numbers its captured passes (`pass`), so
 *   the consumer can refuse a mismatched or stale batch instead of trusting it silently.
 * - BatchNorm-style layers (`ScaleShiftLayer`): y = γ·x̂ + β per channel; the per-example gradients are
 *   ∂ℓ_e/∂γ_c = Σ_t g[e,t,c]·x̂[e,t,c] and ∂ℓ_e/∂β_c = Σ_t g[e,t,c].
 */
import type { FloatArray } from "@ekfac-ts/linalg";

/** Which Fisher the captured g realise. */
export type FisherMode = "empirical" | "true" | "curvature-prop" | "exact";

/** What the optimizer asks the model to capture on the following passes. */
export interface CaptureRequest {
  /** "empirical": g of the training loss itself. "true": g of the loss against targets sampled from the
   *  model's predictive distribution (categorical / Bernoulli / Gaussian). "curvature-prop": the same
   *  true Fisher from random-sign combinations of the output Fisher's square-root columns (one pass,
   *  lower variance on confident predictions; MATH.md §2). "exact": for heads with few
   *  classes, every class c weighted by the model's probability p_c (kfac-jax's exact Fisher). */
  readonly fisher: FisherMode;
  /** Seed of the producer's target sampler for the next captured pass (the optimizer passes a fresh
   *  seed every step, baseSeed + step, so runs are reproducible). */
  readonly seed: number;
  /** Optional: names of dense layers whose weight gradient the producer may leave unformed on these
   *  passes, because the optimizer forms the step from the captured rows (EKFAC's shared rows,
   *  curvature/kronecker-block.ts): the weight's `ParameterRef.gradFromRows` then says so. A producer
   *  may ignore it. Never sent in "exact" mode. */
  readonly deferWeightGradients?: ReadonlySet<string> | null;
}

/** Per-layer statistics of the last forward/backward pass with capture on. */
export interface LayerStatistics {
  /** Number of (pseudo-)examples E. "exact" mode presents N examples × C classes as E = N·C
   *  pseudo-examples (rows example-major: e = n·C + c), ā replicated per class and
   *  g_{(n,c)} = sqrt(C·p_{n,c}) · ∂ℓ_n(y=c)/∂s_n, so that every block formula written for an ordinary
   *  batch (A = (1/E)Σ āāᵀ, G = (1/E)Σ ggᵀ, S* = (1/E)Σ (…)²) yields the exact Fisher's factors
   *  without any change in the blocks. */
  readonly batchSize: number;
  /** T, output positions per example (1 for dense layers). */
  readonly positions: number;
  /** `groups × (E·T) × aDim` homogeneous inputs ā, row-major. */
  readonly a: FloatArray;
  /** `groups × (E·T) × (outDim/groups)` per-example output gradients g, scaled by N. */
  readonly g: FloatArray;
  /** Which Fisher these g realise — the producer's statement. The optimizer throws if it differs from
   *  the mode it requested (e.g. "true" was requested but the loss was not one that can sample). */
  readonly fisher: FisherMode;
  /** Counter of captured passes (increments each time new statistics are captured). The optimizer
   *  remembers the last pass it consumed per layer and throws on reuse (stale statistics) unless the
   *  user opted in (`reuseStatistics: true`). */
  readonly pass: number;
  /** Optional: the training loss's own per-example output gradients g_L = N·∂L/∂s (layout of `g` over
   *  the N real examples, `groups × (N·T) × (outDim/groups)`), when `g` realise a sampled Fisher
   *  ("true", "curvature-prop") and the producer saw the loss's backward after its Fisher pass; null or
   *  absent otherwise (and always in "exact" mode). EKFAC forms the step's rotated gradient from them
   *  and S*'s rotated inputs where cheaper, after checking that they reproduce the gradient it is
   *  given (curvature/kronecker-block.ts, "Shared rows"); nothing else reads them. */
  readonly lossG?: FloatArray | null;
}

/** A view of one parameter tensor: its values and its gradient from the last backward pass. */
export interface ParameterRef {
  /** The parameter's name (the model's `path.to.param` naming), used in state, reports and errors. */
  readonly name: string;
  /** The parameter values, flat (row-major); updated in place by optimizers. */
  readonly value: FloatArray;
  /** The gradient of the mean loss, same length as `value`, or null when none was computed. */
  readonly grad: FloatArray | null;
  /** Optional, a dense layer's weight only: true while its gradient has not been formed and is exactly
   *  (1/N) Σ_n r_n ā_nᵀ over the weight's columns, with r the layer's `statistics.lossG` (or `g` when
   *  that is null) and ā its `statistics.a` — the producer's answer to `deferWeightGradients`. Reading
   *  `grad` forms it (the product the optimizer skips when it rotates the gradient from those rows). */
  readonly gradFromRows?: boolean;
}

/** Anything that lists its parameters (a model): what `new Optimizer(transform, source)` accepts. */
export interface ParameterSource {
  /** Every trainable parameter, in a stable order (the optimizer's state follows this order). */
  parameters(): readonly ParameterRef[];
}

/** A layer whose curvature KFAC and EKFAC approximate. */
export interface CurvatureLayer {
  /** The layer's name, unique in the model (keys its block in the optimizer state). */
  readonly name: string;
  /** Dense (`s = W a + b`) or 2-D convolution (one row of statistics per example and output position). */
  readonly kind: "dense" | "conv2d";
  /** dout (dense) or C_out (conv). */
  readonly outDim: number;
  /** din (dense) or (C_in/groups)·kh·kw (conv), without the bias column. */
  readonly inDim: number;
  /** Whether the layer has a bias; if so `ā = [a; 1]` and `aDim = inDim + 1`. */
  readonly hasBias: boolean;
  /** 1 for dense layers. */
  readonly groups: number;
  /** `outDim × inDim` row-major (conv: `C_out × (C_in/groups)·kh·kw`, PyTorch's weight layout). */
  readonly weight: ParameterRef;
  /** `outDim` entries, or null without a bias. */
  readonly bias: ParameterRef | null;
  /** Statistics of the last pass with capture on, or null if none was captured. */
  readonly statistics: LayerStatistics | null;
}

/** BatchNorm-style per-channel scale γ and shift β (y = γ·x̂ + β). */
export interface ScaleShiftStatistics {
  /** N examples (E pseudo-examples in "exact" mode, as above). */
  readonly batchSize: number;
  /** T positions per example (H·W for BatchNorm2d, 1 for BatchNorm1d). */
  readonly positions: number;
  /** `(E·T) × C` normalised inputs x̂, row-major, example-major rows (row e·T + t). */
  readonly xhat: FloatArray;
  /** `(E·T) × C` output gradients g = N·∂L/∂y (same Fisher conventions as LayerStatistics.g). */
  readonly g: FloatArray;
  /** Which Fisher these g realise (as in `LayerStatistics.fisher`). */
  readonly fisher: FisherMode;
  /** Counter of captured passes (as in `LayerStatistics.pass`). */
  readonly pass: number;
}

/** A BatchNorm-style layer: per-channel scale (and shift), with its captured statistics. */
export interface ScaleShiftLayer {
  /** The layer's name, unique in the model. */
  readonly name: string;
  /** Tells scale-and-shift layers apart from `CurvatureLayer`s. */
  readonly kind: "scale-shift";
  /** C, the number of channels (entries of γ and β). */
  readonly channels: number;
  /** C values (γ). */
  readonly scale: ParameterRef;
  /** C values (β) or null. */
  readonly shift: ParameterRef | null;
  /** Statistics of the last pass with capture on, or null if none was captured. */
  readonly statistics: ScaleShiftStatistics | null;
}

/** A model as ekfac sees it: its curvature layers and every parameter (including theirs). */
export interface CurvatureModel {
  /** The layers to precondition with Kronecker-factored curvature, in a stable order. */
  curvatureLayers(): readonly CurvatureLayer[];
  /** Optional: BatchNorm-style layers with per-channel scale-and-shift curvature. */
  scaleShiftLayers?(): readonly ScaleShiftLayer[];
  /** Every trainable parameter, in a stable order, including the curvature layers' own. */
  parameters(): readonly ParameterRef[];
  /** Turn capture on or off for the following passes. `request` omitted keeps the current request
   *  (initially { fisher: "empirical", seed: 0 }). Turning capture OFF clears every layer's statistics
   *  to null (so nothing stale can be read). */
  setCapture(on: boolean, request?: CaptureRequest): void;
}

/** The shape of one curvature layer, as the blocks need it (a subset of {@link CurvatureLayer}). */
export type LayerShape = Pick<CurvatureLayer, "kind" | "outDim" | "inDim" | "hasBias" | "groups">;

/** The numeric part of `LayerStatistics`: what the curvature blocks read (no provenance fields). */
export type LayerBatch = Pick<LayerStatistics, "batchSize" | "positions" | "a" | "g" | "lossG">;

/** The numeric part of `ScaleShiftStatistics`. */
export type ScaleShiftBatch = Pick<ScaleShiftStatistics, "batchSize" | "positions" | "xhat" | "g">;

/** A curvature layer whose statistics carry no provenance (what influence functions read). */
export type BatchLayer = Omit<CurvatureLayer, "statistics"> & {
  /** Statistics of the last pass with capture on, or null if none was captured. */
  readonly statistics: LayerBatch | null;
};

/**
 * The looser model influence functions accept: layers with plain batches. Every `CurvatureModel` is
 * one; they ask for the empirical Fisher's g (the training loss's own gradients), as kronfluence does.
 */
export interface BatchCaptureModel {
  /** The layers whose curvature the influence preconditioner approximates, in a stable order. */
  curvatureLayers(): readonly BatchLayer[];
  /** Every trainable parameter, in a stable order. */
  parameters(): readonly ParameterRef[];
  /** Turn capture on or off for the following passes (as in `CurvatureModel.setCapture`). */
  setCapture(on: boolean, request?: CaptureRequest): void;
}
