/**
 * Curvature of a BatchNorm-style per-channel scale and shift (y = γ·x̂ + β): the exact Fisher block of
 * (γ_c, β_c) for each channel, a full 2×2 matrix per channel (1×1 without a shift), channels
 * independent (kfac-jax's `ScaleAndShiftFull` block, per channel; Grosse & Martens 2016 treat these
 * parameters with a diagonal or full block likewise).
 *
 * Per example e (capture.ts): v_{e,c} = (Σ_t g[e,t,c]·x̂[e,t,c], Σ_t g[e,t,c]) = (∂ℓ_e/∂γ_c, ∂ℓ_e/∂β_c),
 *   F_c = (1/E) Σ_e v_{e,c} v_{e,c}ᵀ,   moving average F_c ← ρ F_c + (1 − ρ) F_c,batch (the first update
 *   takes the batch), and Δ_c = (F_c + εI)⁻¹ ∇_c by the closed-form 2×2 inverse.
 * Which Fisher (true, empirical, exact) is the producer's g, as for every block.
 *
 * Layout: the block's vector is [γ_0 … γ_{C−1}, β_0 … β_{C−1}] (the scale parameter, then the shift).
 * Deviation: none; the block is exact within the channel, cross-channel terms are dropped.
 * Cost per update O(E·T·C), per precondition O(C); no allocation after construction.
 */

import { checkOptions, optionKeys } from "@ekfac-ts/linalg";
import type { ScaleShiftBatch } from "../capture.ts";
import { checkDecay } from "../internal/checks.ts";
import { BasisFreeBlock } from "./block.ts";

/** Per channel the k×k matrix F_c (k = 2 with a shift, 1 without), row-major, channel-major. */
export type ScaleShiftState = {
  /** C matrices F_c of k×k entries (k = 2 with a shift, else 1). */
  F: Float64Array;
  /** Statistics batches folded into F since it (re)started. */
  updates: number;
};

/** Options of `ScaleShiftBlock`. */
export interface ScaleShiftOptions {
  /** Moving-average decay ρ of F (0 = current minibatch only). Default 0.95. */
  readonly decay?: number;
}

/** The names `ScaleShiftBlock` reads: every key of `ScaleShiftOptions` (checked at compile time). */
const SCALE_SHIFT_KEYS = optionKeys<ScaleShiftOptions>()(["decay"]);

function isPositiveInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1;
}

/**
 * The exact per-channel Fisher block of a BatchNorm-style scale γ and shift β (2×2 per channel, 1×1 without a
 * shift): Δ_c = (F_c + εI)⁻¹ ∇_c. Cross-channel terms are dropped.
 */
export class ScaleShiftBlock extends BasisFreeBlock<ScaleShiftState, ScaleShiftBatch> {
  readonly kind = "ScaleAndShift";
  /** C, the number of channels. */
  readonly channels: number;
  /** Whether the layer has a shift β (the block's vector is [γ; β], else [γ]). */
  readonly hasShift: boolean;
  readonly size: number;
  /** Moving-average decay ρ of F. */
  readonly decay: number;
  state: ScaleShiftState;
  private readonly k: number;

  constructor(channels: number, hasShift: boolean, options: ScaleShiftOptions = {}) {
    super();
    const fn = "ScaleShiftBlock";
    if (!isPositiveInt(channels)) throw new RangeError(`${fn}: channels must be a positive integer (got ${channels})`);
    if (typeof hasShift !== "boolean") throw new TypeError(`${fn}: hasShift must be a boolean`);
    checkOptions(fn, "options", options, SCALE_SHIFT_KEYS);
    this.decay = options.decay ?? 0.95;
    checkDecay(fn, "options.decay", this.decay);
    this.channels = channels;
    this.hasShift = hasShift;
    this.k = hasShift ? 2 : 1;
    this.size = channels * this.k;
    this.state = this.initState();
  }

  initState(): ScaleShiftState {
    return { F: new Float64Array(this.channels * this.k * this.k), updates: 0 };
  }

  /** Throws unless `b` has the sizes of this block's statistics; returns rows = E·T. */
  checkStatistics(fn: string, b: ScaleShiftBatch): number {
    if (b === null || typeof b !== "object") throw new TypeError(`${fn}: statistics must be an object`);
    if (!isPositiveInt(b.batchSize))
      throw new RangeError(`${fn}: statistics.batchSize must be a positive integer (got ${b.batchSize})`);
    if (!isPositiveInt(b.positions))
      throw new RangeError(`${fn}: statistics.positions must be a positive integer (got ${b.positions})`);
    const want = b.batchSize * b.positions * this.channels;
    for (const key of ["xhat", "g"] as const) {
      const x = b[key];
      if (!(x instanceof Float32Array || x instanceof Float64Array))
        throw new TypeError(`${fn}: statistics.${key} must be a Float32Array or Float64Array`);
      if (x.length !== want) {
        throw new RangeError(
          `${fn}: statistics.${key} has length ${x.length}, expected E·T·C = ${b.batchSize}·${b.positions}·${this.channels} = ${want}`,
        );
      }
    }
    return b.batchSize * b.positions;
  }

  /** F_c ← ρ F_c + (1 − ρ)(1/E) Σ_e v_{e,c} v_{e,c}ᵀ (see header). */
  updateStatistics(b: ScaleShiftBatch): boolean {
    this.checkStatistics("ScaleShiftBlock.updateStatistics", b);
    const { batchSize: e, positions: t, xhat, g } = b;
    const c = this.channels;
    const st = this.state;
    const rho = st.updates === 0 ? 0 : this.decay;
    const w = (1 - rho) / e;
    for (let ch = 0; ch < c; ch++) {
      let sgg = 0;
      let sgb = 0;
      let sbb = 0;
      for (let n = 0; n < e; n++) {
        let vg = 0;
        let vb = 0;
        for (let p = 0; p < t; p++) {
          const i = (n * t + p) * c + ch;
          const gi = g[i] as number;
          vg += gi * (xhat[i] as number);
          vb += gi;
        }
        sgg += vg * vg;
        sgb += vg * vb;
        sbb += vb * vb;
      }
      if (this.k === 1) st.F[ch] = rho * (st.F[ch] as number) + w * sgg;
      else {
        const o = 4 * ch;
        st.F[o] = rho * (st.F[o] as number) + w * sgg;
        st.F[o + 1] = rho * (st.F[o + 1] as number) + w * sgb;
        st.F[o + 2] = rho * (st.F[o + 2] as number) + w * sgb;
        st.F[o + 3] = rho * (st.F[o + 3] as number) + w * sbb;
      }
    }
    st.updates++;
    return true;
  }

  /** out_c = (F_c + εI)⁻¹ grad_c per channel; `out` may be `grad`. */
  precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    this.checkPrecondition("ScaleShiftBlock.precondition", grad, out, damping);
    const c = this.channels;
    const f = this.state.F;
    if (this.k === 1) {
      for (let ch = 0; ch < c; ch++) out[ch] = (grad[ch] as number) / ((f[ch] as number) + damping);
      return out;
    }
    for (let ch = 0; ch < c; ch++) {
      const o = 4 * ch;
      const a = (f[o] as number) + damping;
      const b = f[o + 1] as number;
      const cc = f[o + 2] as number;
      const d = (f[o + 3] as number) + damping;
      const gg = grad[ch] as number;
      const gb = grad[c + ch] as number;
      const det = a * d - b * cc;
      out[ch] = (d * gg - b * gb) / det;
      out[c + ch] = (a * gb - cc * gg) / det;
    }
    return out;
  }

  denseApproximation(): Float64Array {
    const p = this.size;
    const c = this.channels;
    const out = new Float64Array(p * p);
    const f = this.state.F;
    for (let ch = 0; ch < c; ch++) {
      if (this.k === 1) {
        out[ch * p + ch] = f[ch] as number;
        continue;
      }
      const o = 4 * ch;
      out[ch * p + ch] = f[o] as number;
      out[ch * p + c + ch] = f[o + 1] as number;
      out[(c + ch) * p + ch] = f[o + 2] as number;
      out[(c + ch) * p + c + ch] = f[o + 3] as number;
    }
    return out;
  }
}
