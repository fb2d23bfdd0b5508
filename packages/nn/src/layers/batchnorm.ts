/**
 * Batch normalisation (Ioffe & Szegedy 2015, Algorithm 1) with PyTorch's conventions:
 *
 * Train mode, per feature/channel c over the m = N (1d) or N·H·W (2d) values of the batch:
 *   μ = (1/m) Σ x,  σ²_B = (1/m) Σ (x − μ)²   (biased, used to normalise),
 *   y = γ·(x − μ)/√(σ²_B + ε) + β,
 *   running_mean ← (1 − momentum)·running_mean + momentum·μ,
 *   running_var  ← (1 − momentum)·running_var  + momentum·σ²_B·m/(m − 1)   (UNBIASED, as PyTorch),
 * with momentum 0.1 and ε = 1e-5 by default; running stats start at 0 and 1.
 * Eval mode: y = γ·(x − running_mean)/√(running_var + ε) + β (running stats are constants).
 * The train-mode forward is a composite of autodiff primitives (mean, sub, mul, sqrt, div), so its
 * gradient — including the paths through μ and σ²_B — is autodiff's; the running-stat update is done
 * on plain arrays and is not differentiated. Deviation: with m = 1 the unbiased variance is undefined;
 * the running variance then takes σ²_B (= 0) rather than NaN.
 *
 * Scale-and-shift capture (the `ScaleShiftLayer` of ekfac's capture interface): with capture on and
 * learnable γ, β, the forward copies x̂ (the normalised input, before γ and β) as `(N·T) × C` rows
 * `n·T + t` (T = H·W for 2d, 1 for 1d) and a hook on y stores `g = N·∂L/∂y` in the same layout, so
 * `∂L/∂γ_c = (1/N) Σ_{n,t} g[n,t,c]·x̂[n,t,c]` and `∂L/∂β_c = (1/N) Σ_{n,t} g[n,t,c]` (γ multiplies x̂
 * directly, so these hold in train mode too, where x̂ itself depends on the whole batch). Fisher
 * modes and pass counting as for Linear (see `internal/capture.ts`).
 * Empty batch (m = 0) in train mode: the output is empty and NO state changes (running statistics
 * and num_batches_tracked are kept), as PyTorch's batch_norm, which returns early on an empty input;
 * updating would write 0/0 = NaN into the running statistics for good.
 * Options are checked at construction: momentum in [0, 1] (PyTorch's range) and eps > 0 finite —
 * stricter than PyTorch, which accepts eps = 0 and then returns 0/0 = NaN for a channel that is
 * constant over the batch (always so for a batch of one example in train mode); found by the fuzz suite.
 * Cost: O(m·C) per pass, a handful of elementwise ops; capture adds O(m·C) copies.
 */
import { add, assertTensor, div, mean, mul, reshape, sqrt, sub, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { allocate, checkFlag, checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import { CaptureSite } from "../internal/capture.ts";
import { checkDtype } from "../internal/checks.ts";
import type { LayerInit } from "../internal/layer.ts";
import { gatherOutputGradInto } from "../internal/patches.ts";
import {
  Module,
  type Parameter,
  type ParameterRef,
  type ScaleShiftLayer,
  type ScaleShiftStatistics,
} from "../module.ts";

/** Options of {@link BatchNorm1d} and {@link BatchNorm2d} (PyTorch's defaults). */
export interface BatchNormOptions extends Pick<LayerInit, "dtype"> {
  /** Default 0.1 (PyTorch). */
  readonly momentum?: number;
  /** Default 1e-5. */
  readonly eps?: number;
  /** Learnable γ, β (default true). */
  readonly affine?: boolean;
}

/** The keys of {@link BatchNormOptions} (checked against the interface both ways at compile time). */
const BATCH_NORM_OPTIONS = optionKeys<BatchNormOptions>()(["dtype", "momentum", "eps", "affine"]);

abstract class BatchNorm extends Module {
  /** Weight of the newest batch in the running statistics. */
  readonly momentum: number;
  /** ε, added to the variance before the square root. */
  readonly eps: number;
  /** γ, the learnable scale per feature (null without `affine`). */
  readonly weight: Parameter | null;
  /** β, the learnable shift per feature (null without `affine`). */
  readonly bias: Parameter | null;
  /** Running mean per feature, used in eval mode (buffer `running_mean`). */
  readonly runningMean: FloatArray;
  /** Running unbiased variance per feature, used in eval mode (buffer `running_var`). */
  readonly runningVar: FloatArray;
  /** Number of train-mode batches seen (PyTorch's num_batches_tracked), kept as a float buffer. */
  readonly batchesTracked: FloatArray;
  /** The capture interface's layer kind (a per-channel scale-and-shift layer). */
  readonly kind = "scale-shift" as const;
  private readonly site: CaptureSite<"xhat">;

  constructor(
    /** C, the features (1d) or channels (2d). */
    readonly features: number,
    options: BatchNormOptions,
    private readonly rank: 2 | 4,
  ) {
    super();
    const fn = rank === 2 ? "BatchNorm1d" : "BatchNorm2d";
    if (!Number.isInteger(features) || features < 1)
      throw new RangeError(
        `${fn}: ${rank === 2 ? "features" : "channels"} must be a positive integer (got ${features})`,
      );
    checkOptions(fn, "options", options, BATCH_NORM_OPTIONS);
    checkFlag(fn, "options.affine", options.affine);
    const dtype = checkDtype(fn, "options.dtype", options.dtype);
    this.momentum = options.momentum ?? 0.1;
    this.eps = options.eps ?? 1e-5;
    if (typeof this.momentum !== "number" || !(this.momentum >= 0 && this.momentum <= 1))
      throw new RangeError(`${fn}: options.momentum must be in [0, 1] (got ${String(this.momentum)})`);
    if (typeof this.eps !== "number" || !(this.eps > 0 && Number.isFinite(this.eps)))
      throw new RangeError(`${fn}: options.eps must be a finite number > 0 (got ${String(this.eps)})`);
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter("weight", allocate(features, dtype, fn).fill(1), [features]) : null;
    this.bias = affine ? this.registerParameter("bias", allocate(features, dtype), [features]) : null;
    this.runningMean = this.registerBuffer("running_mean", allocate(features, dtype));
    this.runningVar = this.registerBuffer("running_var", allocate(features, dtype).fill(1), [features], 0);
    this.batchesTracked = this.registerBuffer("num_batches_tracked", allocate(1, dtype), [], 0);
    this.site = new CaptureSite("xhat", 1, features, features);
  }

  /** C, the number of channels (γ and β have C entries each). */
  get channels(): number {
    return this.features;
  }

  /** γ (listed as a scale-shift layer only when affine). */
  get scale(): ParameterRef {
    if (this.weight === null) throw new RangeError(`BatchNorm(${this.path || "root"}): scale: affine is false`);
    return this.weight;
  }

  /** β as a parameter view, or null without an affine transform. */
  get shift(): ParameterRef | null {
    return this.bias;
  }

  /** x̂ and g of the last capturing pass (null when capture is off or before the pass completed). */
  get statistics(): ScaleShiftStatistics | null {
    return this.site.statistics;
  }

  override scaleShiftLayers(): readonly ScaleShiftLayer[] {
    return this.weight === null ? [] : [this];
  }

  protected override captureChanged(on: boolean): void {
    this.site.request = this.captureRequest;
    if (!on) this.site.clear();
  }

  /** Normalises per feature with the batch statistics (train mode) or the running ones (eval mode). */
  forward(x: Tensor): Tensor {
    assertTensor(`BatchNorm${this.rank === 2 ? "1d" : "2d"}`, "x", x);
    const C = this.features;
    if (x.ndim !== this.rank || x.shape[1] !== C) {
      const want = this.rank === 2 ? `N × ${C}` : `N × ${C} × H × W`;
      throw new RangeError(
        `BatchNorm${this.rank === 2 ? "1d" : "2d"}: input must be ${want} (got [${x.shape.join(", ")}])`,
      );
    }
    const axes = this.rank === 2 ? [0] : [0, 2, 3];
    const bshape = this.rank === 2 ? [1, C] : [1, C, 1, 1];
    let y: Tensor;
    if (this.training) {
      const m = x.size / C;
      const mu = mean(x, axes, true);
      const d = sub(x, mu);
      const v = mean(mul(d, d), axes, true);
      y = div(d, sqrt(add(v, this.eps)));
      if (m > 0) this.updateRunning(mu.data, v.data, m);
    } else {
      const rm = wrap(this.runningMean, bshape);
      const rv = wrap(this.runningVar, bshape);
      y = div(sub(x, rm), sqrt(add(rv, this.eps)));
    }
    if (this.weight !== null && this.bias !== null) {
      const xhat = y;
      y = add(mul(y, reshape(this.weight.tensor, bshape)), reshape(this.bias.tensor, bshape));
      if (this.capturesThisPass) this.captureXhat(xhat, y);
    }
    return y;
  }

  private captureXhat(xhat: Tensor, y: Tensor): void {
    const n = xhat.shape[0] as number;
    const T = xhat.size / (n * this.features);
    // NCHW → rows n·T + t, columns c: the same reordering as an output gradient (scale 1).
    gatherOutputGradInto(this.site.inputs(n, T, xhat.dtype), xhat.data, n, this.features, T, 1, 1);
    this.site.attach(y);
  }

  private updateRunning(mu: FloatArray, v: FloatArray, m: number): void {
    const k = this.momentum;
    const unbias = m > 1 ? m / (m - 1) : 1;
    for (let c = 0; c < this.features; c++) {
      this.runningMean[c] = (1 - k) * (this.runningMean[c] as number) + k * (mu[c] as number);
      this.runningVar[c] = (1 - k) * (this.runningVar[c] as number) + k * (v[c] as number) * unbias;
    }
    this.batchesTracked[0] = (this.batchesTracked[0] as number) + 1;
  }
}

/** BatchNorm over `N × C` inputs (statistics over the batch). */
export class BatchNorm1d extends BatchNorm {
  constructor(features: number, options: BatchNormOptions = {}) {
    super(features, options, 2);
  }
}

/** BatchNorm over `N × C × H × W` inputs (statistics over batch and positions, per channel). */
export class BatchNorm2d extends BatchNorm {
  constructor(channels: number, options: BatchNormOptions = {}) {
    super(channels, options, 4);
  }
}
