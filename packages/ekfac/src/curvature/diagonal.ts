/**
 * Diagonal Fisher of one dense or conv2d layer: D = diag(F) = (1/N) Σ_n vec(∇_n)², ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ.
 *
 * It is EKFAC's scaling in the identity basis (scaling.ts with U_A = I, U_G = I): for dense layers the
 * one-product form D = (1/N)(g∘g)ᵀ(ā∘ā). Empirical or true Fisher depending on the g the producer
 * captured (see fisher-mode in index docs). Moving average over steps as for the Kronecker factors.
 * Update: Δ = ∇ ⊘ (D + ε). Cost per step: N·T·g·a for D (T = 1) and g·a for the update; no allocation
 * after warm-up. A grouped conv keeps only its within-group diagonal (cross-group entries are not
 * parameters of the same block, but the diagonal of F is complete: a diagonal has no cross terms).
 */

import { checkOptions, optionKeys } from "@ekfac-ts/linalg";
import type { LayerBatch, LayerShape } from "../capture.ts";
import { checkDecay } from "../internal/checks.ts";
import { asFloat64, checkShape, checkStatistics, ensure, layerShape } from "../internal/stats.ts";
import { BasisFreeBlock, type BlockDims } from "./block.ts";
import { chooseScalingStrategy, type ScalingWorkspace, scalingInto, scalingRowsSize } from "./scaling.ts";

/** Options of `DiagonalFisher`. */
export interface DiagonalFisherOptions {
  /** Moving-average decay of D (0 = current minibatch only). Default 0.95. */
  readonly decay?: number;
}

/** The names `DiagonalFisher` reads: every key of `DiagonalFisherOptions` (checked at compile time). */
const DIAGONAL_FISHER_KEYS = optionKeys<DiagonalFisherOptions>()(["decay"]);

/** diag(F) in W̄'s row-major layout (groups × gDim × aDim), and the updates folded into it. */
export type DiagonalState = {
  /** diag(F), groups × gDim × aDim. */
  D: Float64Array;
  /** Statistics batches folded into D since it (re)started. */
  updates: number;
};

/**
 * The diagonal Fisher of one dense or conv2d layer (EKFAC's scaling in the identity basis): Δ = ∇ ⊘ (D + ε).
 */
export class DiagonalFisher extends BasisFreeBlock<DiagonalState, LayerBatch> {
  readonly kind = "Diagonal";
  /** The layer's shape (a copy of the constructor's argument). */
  readonly shape: LayerShape;
  /** aDim, gDim and groups derived from the shape. */
  readonly dims: BlockDims;
  readonly size: number;
  /** Moving-average decay of D. */
  readonly decay: number;
  state: DiagonalState;
  private wsA: Float64Array = new Float64Array(0);
  private wsG: Float64Array = new Float64Array(0);
  private ws: ScalingWorkspace = { rows: new Float64Array(0), m1: new Float64Array(0), m2: new Float64Array(0) };
  private batch: Float64Array = new Float64Array(0);

  constructor(shape: LayerShape, options: DiagonalFisherOptions = {}) {
    super();
    this.dims = checkShape("DiagonalFisher", shape);
    this.shape = layerShape(shape);
    checkOptions("DiagonalFisher", "options", options, DIAGONAL_FISHER_KEYS);
    this.decay = options.decay ?? 0.95;
    checkDecay("DiagonalFisher", "options.decay", this.decay);
    this.size = this.dims.size;
    this.state = this.initState();
  }

  initState(): DiagonalState {
    return { D: new Float64Array(this.dims.size), updates: 0 };
  }

  /** diag(F) in W̄'s layout (the live state array). */
  get D(): Float64Array {
    return this.state.D;
  }
  /** Statistics batches folded into D since it (re)started. */
  get updates(): number {
    return this.state.updates;
  }

  /** Checks statistics against this layer (TypeError/RangeError), without touching any state. */
  checkStatistics(fn: string, stats: LayerBatch): void {
    checkStatistics(fn, this.shape.kind, this.dims, stats);
  }

  updateStatistics(stats: LayerBatch): boolean {
    this.update(stats);
    return true;
  }
  /** D ← ρ D + (1 − ρ) D_batch (the first update takes D_batch). */
  update(stats: LayerBatch): void {
    const rows = checkStatistics("DiagonalFisher.update", this.shape.kind, this.dims, stats);
    const { aDim: a, gDim: g, groups } = this.dims;
    const n = stats.batchSize;
    const t = stats.positions;
    if (!(stats.a instanceof Float64Array)) this.wsA = ensure(this.wsA, groups * rows * a);
    if (!(stats.g instanceof Float64Array)) this.wsG = ensure(this.wsG, groups * rows * g);
    const aData = asFloat64(stats.a, this.wsA);
    const gData = asFloat64(stats.g, this.wsG);
    const strategy = chooseScalingStrategy(n, t, a, g, true);
    this.ws.rows = ensure(this.ws.rows, scalingRowsSize(strategy, n, t, a, g));
    this.ws.m1 = ensure(this.ws.m1, g * a);
    this.ws.m2 = ensure(this.ws.m2, g * a);
    this.batch = ensure(this.batch, g * a);
    const st = this.state;
    const rho = st.updates === 0 ? 0 : this.decay;
    const ga = g * a;
    for (let k = 0; k < groups; k++) {
      scalingInto(this.batch, 0, aData, k * rows * a, gData, k * rows * g, n, t, a, g, null, null, strategy, this.ws);
      for (let i = 0; i < ga; i++)
        st.D[k * ga + i] = rho * (st.D[k * ga + i] as number) + (1 - rho) * (this.batch[i] as number);
    }
    st.updates++;
  }

  /** out = grad ⊘ (D + ε); `out` may be `grad`. */
  precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    this.checkPrecondition("DiagonalFisher.precondition", grad, out, damping, "outDim·aDim = ");
    const size = this.size;
    const d = this.state.D;
    for (let i = 0; i < size; i++) out[i] = (grad[i] as number) / ((d[i] as number) + damping);
    return out;
  }

  /** diag(D) as a dense P × P matrix (tests and diagnostics). */
  denseApproximation(): Float64Array {
    const p = this.dims.size;
    const out = new Float64Array(p * p);
    for (let i = 0; i < p; i++) out[i * p + i] = this.state.D[i] as number;
    return out;
  }
}
