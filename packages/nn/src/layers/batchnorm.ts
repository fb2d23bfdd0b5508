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
 * Empty batch (m = 0) in train mode: the output is empty and NO state changes (running statistics
 * and num_batches_tracked are kept), as PyTorch's batch_norm, which returns early on an empty input;
 * updating would write 0/0 = NaN into the running statistics for good.
 * Options are checked at construction as PyTorch's ranges: eps ≥ 0 finite, momentum in [0, 1].
 * Cost: O(m·C) per pass, a handful of elementwise ops.
 */
import { add, assertTensor, div, mean, mul, reshape, sqrt, sub, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { allocate, type FloatArray } from "@ekfac-ts/linalg";
import { Module, type Parameter } from "../module.ts";
import type { LayerInit } from "./linear.ts";

export interface BatchNormOptions extends Pick<LayerInit, "dtype"> {
  /** Default 0.1 (PyTorch). */
  readonly momentum?: number;
  /** Default 1e-5. */
  readonly eps?: number;
  /** Learnable γ, β (default true). */
  readonly affine?: boolean;
}

abstract class BatchNorm extends Module {
  readonly momentum: number;
  readonly eps: number;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: FloatArray;
  readonly runningVar: FloatArray;
  /** Number of train-mode batches seen (PyTorch's num_batches_tracked), kept as a float buffer. */
  readonly batchesTracked: FloatArray;

  constructor(
    readonly features: number,
    options: BatchNormOptions,
    private readonly rank: 2 | 4,
  ) {
    super();
    if (!Number.isInteger(features) || features < 1)
      throw new RangeError(`BatchNorm: features must be a positive integer (got ${features})`);
    this.momentum = options.momentum ?? 0.1;
    this.eps = options.eps ?? 1e-5;
    if (typeof this.momentum !== "number" || !(this.momentum >= 0 && this.momentum <= 1))
      throw new RangeError(`BatchNorm: momentum must be in [0, 1] (got ${String(this.momentum)})`);
    if (typeof this.eps !== "number" || !(this.eps >= 0 && Number.isFinite(this.eps)))
      throw new RangeError(`BatchNorm: eps must be a finite number ≥ 0 (got ${String(this.eps)})`);
    const dtype = options.dtype ?? "float32";
    const affine = options.affine ?? true;
    this.weight = affine
      ? this.registerParameter("weight", allocate(features, dtype, "BatchNorm").fill(1), [features])
      : null;
    this.bias = affine ? this.registerParameter("bias", allocate(features, dtype), [features]) : null;
    this.runningMean = this.registerBuffer("running_mean", allocate(features, dtype));
    this.runningVar = this.registerBuffer("running_var", allocate(features, dtype).fill(1));
    this.batchesTracked = this.registerBuffer("num_batches_tracked", allocate(1, dtype), []);
  }

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
      y = add(mul(y, reshape(this.weight.tensor, bshape)), reshape(this.bias.tensor, bshape));
    }
    return y;
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
