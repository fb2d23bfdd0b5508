/**
 * The diagonal fallback for a parameter no other block covers (an embedding table, a layer scale, any
 * tensor the model lists without capture): D ← ρ D + (1 − ρ)·N·ḡ², Δ = ∇ ⊘ (D + ε), where ḡ is the
 * gradient of the MEAN training loss over the batch of N examples (the only signal available without
 * per-example capture) and N is the batch size of the same step's captured statistics.
 *
 * What it estimates, honestly: with per-example gradients ∇ℓ_n, E[N·ḡ²] = E[(∇ℓ_n)²] + (N − 1)(E∇ℓ_n)²
 * (elementwise). So N·ḡ² is an unbiased estimate of the EMPIRICAL Fisher's diagonal only where the
 * expected gradient is zero (near a stationary point); elsewhere it is biased upward by (N − 1)(E∇ℓ_n)²,
 * which makes the step smaller, not larger. It never sees the sampled targets of the true Fisher (the
 * sampled pass fires only the capture hooks), so it is an empirical-Fisher estimate whatever `fisher`
 * the optimizer uses. Without per-example gradients no unbiased estimator of diag F exists from one
 * minibatch gradient; the alternative is an explicit first-order rule (`otherParameters: "first-order"`).
 *
 * Source: the diagonal approximation of the Fisher with the mean-gradient estimator above (its bias
 * derived here from E[x̄²] = Var(x)/N + (E x)²); on the empirical Fisher's limits see Kunstner, Balles
 * & Hennig, "Limitations of the empirical Fisher approximation", NeurIPS 2019. Same moving average as
 * the Kronecker factors. Cost O(P) per update and per precondition; no allocation.
 */
import { checkOptions, optionKeys } from "@ekfac-ts/linalg";
import { checkDecay } from "../internal/checks.ts";
import { BasisFreeBlock } from "./block.ts";

/** The fallback's plain-data state: the diagonal estimate and the updates folded into it. */
export type ParameterDiagonalState = {
  /** The diagonal estimate, one entry per parameter entry. */
  D: Float64Array;
  /** Gradients folded into D since it (re)started. */
  updates: number;
};

/** The batch this block reads: the mean gradient (in float64) and the number of examples behind it. */
export interface MeanGradientBatch {
  /** The gradient of the mean loss (float64, the parameter's own layout). */
  readonly grad: Float64Array;
  /** N, the number of examples behind the mean gradient. */
  readonly batchSize: number;
}

/** Options of `ParameterDiagonalFisher`. */
type ParameterDiagonalOptions = {
  /** Moving-average decay ρ of D (0 = current gradient only). Default 0.95. */
  readonly decay?: number;
};

/** The names `ParameterDiagonalFisher` reads (checked at compile time against its options' type). */
const PARAMETER_DIAGONAL_KEYS = optionKeys<ParameterDiagonalOptions>()(["decay"]);

/**
 * The diagonal fallback for a parameter no other block covers: D ← ρ D + (1 − ρ)·N·ḡ², Δ = ∇ ⊘ (D + ε). An
 * empirical-Fisher estimate biased upward away from stationary points (see the file header).
 */
export class ParameterDiagonalFisher extends BasisFreeBlock<ParameterDiagonalState, MeanGradientBatch> {
  readonly kind = "ParameterDiagonal";
  readonly size: number;
  /** Moving-average decay ρ of D. */
  readonly decay: number;
  state: ParameterDiagonalState;

  constructor(size: number, options: ParameterDiagonalOptions = {}) {
    super();
    const fn = "ParameterDiagonalFisher";
    if (!(typeof size === "number" && Number.isInteger(size) && size >= 1))
      throw new RangeError(`${fn}: size must be a positive integer (got ${size})`);
    this.size = size;
    checkOptions(fn, "options", options, PARAMETER_DIAGONAL_KEYS);
    this.decay = options.decay ?? 0.95;
    checkDecay(fn, "options.decay", this.decay);
    this.state = this.initState();
  }

  initState(): ParameterDiagonalState {
    return { D: new Float64Array(this.size), updates: 0 };
  }

  /** D ← ρ D + (1 − ρ)·N·ḡ² (the first update takes the batch). */
  updateStatistics(b: MeanGradientBatch): boolean {
    const st = this.state;
    const rho = st.updates === 0 ? 0 : this.decay;
    const w = (1 - rho) * b.batchSize;
    const g = b.grad;
    for (let i = 0; i < this.size; i++) {
      const x = g[i] as number;
      st.D[i] = rho * (st.D[i] as number) + w * x * x;
    }
    st.updates++;
    return true;
  }

  precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    this.checkPrecondition("ParameterDiagonalFisher.precondition", grad, out, damping);
    const d = this.state.D;
    for (let i = 0; i < this.size; i++) out[i] = (grad[i] as number) / ((d[i] as number) + damping);
    return out;
  }

  denseApproximation(): Float64Array {
    const p = this.size;
    const out = new Float64Array(p * p);
    for (let i = 0; i < p; i++) out[i * p + i] = this.state.D[i] as number;
    return out;
  }
}
