/**
 * The curvature optimizers: KFAC (Martens & Grosse 2015; KFC for conv, Grosse & Martens 2016), EKFAC
 * (George et al. 2018, Algorithm 1) and the diagonal Fisher, as one schedule around curvature blocks.
 *
 * One `step()` (k = number of steps taken so far, skipped steps not counted):
 *   1. guard: if any gradient or captured statistic is non-finite, change nothing, count a skipped
 *      step and return (never a NaN step);
 *   2. every `factorsEvery` steps: A ← ρA + (1−ρ)A_batch, G likewise (kronecker-block.ts);
 *   3. every `basisEvery` = T_kfe steps (and at k = 0): eigendecompose A, G (guarded: a failure keeps
 *      the previous basis and is counted in `stats.basisFailures`);
 *   4. EKFAC: every `scalingEvery` = T_s steps, and always right after a new basis: S ← moving average
 *      of S* (per-example statistics); with `scaling: "ra"` the steps between bases update S from the
 *      minibatch gradient instead. Diagonal: D from the statistics every `scalingEvery` steps.
 *   5. Δ_l = (F̂_l + εI)⁻¹ ∇_l for curvature layers; the raw gradient for every other parameter;
 *   6. optional KL-clipping: Δ ← ν Δ, ν = min(1, sqrt(κ / (η² Σ Δᵀ∇))) (kl-clip.ts);
 *   7. the first-order chain (default: `chain(traceMomentum({momentum}), scaleByLearningRate(η))`,
 *      from ./optim) turns Δ into the increment, added to the parameters in place.
 *
 * Cost per step: see kronecker-block.ts (factors R(a²+g²), precondition 2ga(a+g) per layer) plus the
 * amortised O(a³ + g³) eigendecompositions every T_kfe steps. After the first step (warm-up) a step
 * allocates no buffers except inside the eigendecompositions.
 *
 * Deviation from the papers: KFAC's inverses are taken in the eigenbasis (exact damping or factored
 * Tikhonov with π; see kronecker-block.ts), which is mathematically the same as explicit inverses.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { type AdapterOptions, CurvatureAdapter, type CurvatureApproximation, type FisherMode } from "./adapter.ts";
import type { CurvatureModel, LayerStatistics } from "./capture.ts";
import { DiagonalFisher } from "./curvature/diagonal.ts";
import { klClipScale } from "./curvature/kl-clip.ts";
import { checkDamping, type KfacDamping, KroneckerBlock } from "./curvature/kronecker-block.ts";
import { allFinite } from "./internal/stats.ts";
import { scaleByLearningRate, traceMomentum } from "./optim/basic.ts";
import { chain, type GradientTransformation, type StateValue } from "./optim/transform.ts";

export interface CurvatureOptimizerOptions {
  /** η > 0. */
  readonly learningRate: number;
  /** ε > 0, added to the curvature (see kronecker-block.ts for KFAC's factored variant). Default 1e-3. */
  readonly damping?: number;
  /** Heavy-ball momentum μ ∈ [0, 1) of the default first-order chain. Default 0.9. */
  readonly momentum?: number;
  /** Steps between factor updates. Default 1. */
  readonly factorsEvery?: number;
  /** T_kfe: steps between eigendecompositions (KFAC: between inverses). Default 20. */
  readonly basisEvery?: number;
  /** T_s: steps between EKFAC scaling (or diagonal) re-estimates. Default 1. */
  readonly scalingEvery?: number;
  /** Factor moving-average decay. Default 0.95. */
  readonly factorDecay?: number;
  /** EKFAC scaling / diagonal moving-average decay. Default 0.95. */
  readonly scalingDecay?: number;
  /** EKFAC: "batch" (per-example S*) or "ra" (running average of the minibatch gradient). Default "batch". */
  readonly scaling?: "batch" | "ra";
  /** KFAC damping rule. Default "eigenbasis". */
  readonly kfacDamping?: KfacDamping;
  /** κ of KL-clipping, or null for none. Default null. */
  readonly klClip?: number | null;
  /** Replaces the default first-order chain (momentum, learning rate); must end with the learning rate. */
  readonly firstOrder?: GradientTransformation;
  /** Which Fisher the captured g realise (see adapter.ts). Default "empirical". */
  readonly fisher?: FisherMode;
}

export interface CurvatureStats {
  /** Steps applied. */
  steps: number;
  /** Steps skipped because a gradient or statistic was not finite. */
  skippedSteps: number;
  /** Basis refreshes attempted (per optimizer step, not per layer). */
  basisRefreshes: number;
  /** Factor eigendecompositions that failed (the previous basis was kept). */
  basisFailures: number;
  /** KL-clipping factor ν of the last applied step (1 without clipping). */
  lastKlScale: number;
}

export interface StepReport {
  readonly skipped: boolean;
  readonly basisRefreshed: boolean;
  readonly basisFailures: number;
  readonly klScale: number;
}

function checkEvery(fn: string, name: string, v: number): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`${fn}: ${name} must be an integer ≥ 1 (got ${String(v)})`);
  }
}

export class CurvatureOptimizer {
  readonly adapter: CurvatureAdapter;
  readonly approximation: CurvatureApproximation;
  readonly learningRate: number;
  readonly damping: number;
  readonly factorsEvery: number;
  readonly basisEvery: number;
  readonly scalingEvery: number;
  readonly scalingMode: "batch" | "ra";
  readonly klClip: number | null;
  readonly firstOrder: GradientTransformation;
  /** The first-order chain's state (plain data; see optim/transform.ts). */
  readonly firstOrderState: StateValue;
  /** Direction buffers, one per parameter, shaped and typed like the parameter. */
  readonly directions: readonly FloatArray[];
  readonly stats: CurvatureStats = { steps: 0, skippedSteps: 0, basisRefreshes: 0, basisFailures: 0, lastKlScale: 1 };
  private readonly values: readonly FloatArray[];
  private readonly gradList: (FloatArray | null)[];
  private readonly fnStep: string;

  constructor(
    fnName: string,
    model: CurvatureModel,
    approximation: CurvatureApproximation,
    options: CurvatureOptimizerOptions,
  ) {
    const fn = fnName;
    if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be an object`);
    if (
      typeof options.learningRate !== "number" ||
      !(options.learningRate > 0) ||
      !Number.isFinite(options.learningRate)
    ) {
      throw new RangeError(
        `${fn}: options.learningRate must be a finite number > 0 (got ${String(options.learningRate)})`,
      );
    }
    this.learningRate = options.learningRate;
    this.damping = options.damping ?? 1e-3;
    checkDamping(fn, this.damping);
    this.factorsEvery = options.factorsEvery ?? 1;
    this.basisEvery = options.basisEvery ?? 20;
    this.scalingEvery = options.scalingEvery ?? 1;
    checkEvery(fn, "options.factorsEvery", this.factorsEvery);
    checkEvery(fn, "options.basisEvery (T_kfe)", this.basisEvery);
    checkEvery(fn, "options.scalingEvery (T_s)", this.scalingEvery);
    this.scalingMode = options.scaling ?? "batch";
    this.klClip = options.klClip ?? null;
    if (this.klClip !== null && !(typeof this.klClip === "number" && this.klClip > 0 && Number.isFinite(this.klClip))) {
      throw new RangeError(`${fn}: options.klClip must be a finite number > 0 or null (got ${String(this.klClip)})`);
    }
    const momentum = options.momentum ?? 0.9;
    const block = {
      ...(options.factorDecay !== undefined ? { factorDecay: options.factorDecay } : {}),
      ...(options.scalingDecay !== undefined ? { scalingDecay: options.scalingDecay } : {}),
      ...(options.scaling !== undefined ? { scaling: options.scaling } : {}),
      ...(options.kfacDamping !== undefined ? { kfacDamping: options.kfacDamping } : {}),
    };
    const adapterOptions: AdapterOptions = {
      approximation,
      block,
      ...(options.scalingDecay !== undefined ? { diagonalDecay: options.scalingDecay } : {}),
      ...(options.fisher !== undefined ? { fisher: options.fisher } : {}),
    };
    this.adapter = new CurvatureAdapter(model, adapterOptions);
    this.approximation = approximation;
    this.fnStep = `${fnName}.step`;
    this.values = this.adapter.parameters.map((p) => p.value);
    this.directions = this.values.map((v) =>
      v instanceof Float64Array ? new Float64Array(v.length) : new Float32Array(v.length),
    );
    this.firstOrder =
      options.firstOrder ??
      (momentum > 0
        ? chain(traceMomentum({ momentum }), scaleByLearningRate(this.learningRate))
        : chain(scaleByLearningRate(this.learningRate)));
    this.firstOrderState = this.firstOrder.init(this.values);
    this.gradList = this.values.map(() => null);
  }

  /** Whether the next step reads captured statistics (turn capture on for its forward/backward pass). */
  get wantsStatistics(): boolean {
    return this.needsStatistics(this.stats.steps);
  }

  private needsStatistics(k: number): boolean {
    const updateScaling = k % this.scalingEvery === 0;
    if (this.approximation === "diagonal") return updateScaling;
    const refresh = k % this.basisEvery === 0;
    const ekfacBatch = this.approximation === "ekfac" && this.scalingMode === "batch" && updateScaling;
    return k % this.factorsEvery === 0 || refresh || ekfacBatch;
  }

  private statisticsOf(fn: string, l: (typeof this.adapter.layers)[number]): LayerStatistics {
    const s = l.layer.statistics;
    if (s === null) {
      throw new Error(
        `${fn}: layer ${l.layer.name} has no captured statistics (call model.setCapture(true) before this step's forward pass)`,
      );
    }
    return s;
  }

  /** One optimizer step from the gradients and statistics of the last forward/backward pass. */
  step(): StepReport {
    const fn = this.fnStep;
    const k = this.stats.steps;
    const params = this.adapter.parameters;
    const updateFactors = k % this.factorsEvery === 0;
    const refresh = k % this.basisEvery === 0;
    const updateScaling = k % this.scalingEvery === 0;
    const needStats = this.needsStatistics(k);

    // 1. guard: everything finite, statistics present and well-shaped (shape errors throw).
    let finite = true;
    for (const p of params) if (p.grad !== null && !allFinite(p.grad)) finite = false;
    if (needStats) {
      for (const l of this.adapter.layers) {
        const s = this.statisticsOf(fn, l);
        if (l.block instanceof KroneckerBlock) l.block.checkStatistics(fn, s);
        if (!allFinite(s.a) || !allFinite(s.g)) finite = false;
      }
    }
    if (!finite) {
      this.stats.skippedSteps++;
      return { skipped: true, basisRefreshed: false, basisFailures: 0, klScale: 0 };
    }

    // 2–4. curvature statistics.
    let failures = 0;
    for (const l of this.adapter.layers) {
      const b = l.block;
      if (b instanceof DiagonalFisher) {
        if (updateScaling) b.update(this.statisticsOf(fn, l));
        continue;
      }
      if (updateFactors) b.updateFactors(this.statisticsOf(fn, l));
      if (refresh) failures += b.updateBasis().failed;
      if (b.approximation === "ekfac" && (refresh || (updateScaling && this.scalingMode === "batch"))) {
        b.updateScaling(this.statisticsOf(fn, l));
      }
    }
    if (refresh) this.stats.basisRefreshes++;
    this.stats.basisFailures += failures;

    // 5. directions: the gradients, preconditioned in place where a curvature block owns them.
    for (let i = 0; i < params.length; i++) {
      const g = params[i]?.grad ?? null;
      const d = this.directions[i] as FloatArray;
      if (g === null) d.fill(0);
      else d.set(g);
    }
    const ra = this.approximation === "ekfac" && this.scalingMode === "ra" && !refresh && updateScaling;
    this.adapter.precondition(this.directions, this.damping, ra);

    // 6. KL-clipping.
    let nu = 1;
    if (this.klClip !== null) {
      for (let i = 0; i < params.length; i++) this.gradList[i] = params[i]?.grad ?? null;
      nu = klClipScale(this.directions, this.gradList, this.learningRate, this.klClip);
      if (nu !== 1) for (const d of this.directions) for (let i = 0; i < d.length; i++) d[i] = nu * (d[i] as number);
    }

    // 7. first-order chain and the update θ ← θ + u.
    this.firstOrder.update(this.directions, this.firstOrderState, this.values);
    for (let i = 0; i < this.values.length; i++) {
      const v = this.values[i] as FloatArray;
      const d = this.directions[i] as FloatArray;
      for (let j = 0; j < v.length; j++) v[j] = (v[j] as number) + (d[j] as number);
    }
    this.stats.steps++;
    this.stats.lastKlScale = nu;
    return { skipped: false, basisRefreshed: refresh, basisFailures: failures, klScale: nu };
  }
}

/**
 * KFAC (KFC for conv2d layers): F ≈ G ⊗ A per layer, inverted through the eigenbasis with exact
 * (`kfacDamping: "eigenbasis"`, default) or factored Tikhonov damping; `basisEvery` plays T_inv.
 */
export function kfac(model: CurvatureModel, options: CurvatureOptimizerOptions): CurvatureOptimizer {
  return new CurvatureOptimizer("kfac", model, "kfac", options);
}

/** Diagonal-Fisher preconditioning Δ = ∇ ⊘ (diag F + ε) of the curvature layers (a baseline). */
export function diagonalFisher(model: CurvatureModel, options: CurvatureOptimizerOptions): CurvatureOptimizer {
  return new CurvatureOptimizer("diagonalFisher", model, "diagonal", options);
}
