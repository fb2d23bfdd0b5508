/**
 * Kronecker-factored curvature of one dense or conv2d layer: KFAC / KFC and EKFAC.
 *
 * Conventions (MATH.md §1, §6; capture.ts): W̄ = [W | b] is outDim × aDim, flattened row-major, so
 * vec(g āᵀ) = g ⊗ ā and the blocks approximate F ≈ G ⊗ A. A grouped conv is `groups` independent
 * blocks (rows k·gDim… of W̄), i.e. a block-diagonal approximation.
 *
 * Factors (Martens & Grosse 2015 eq. (1)/§3; Grosse & Martens 2016 §3.1 for conv), R = N·T rows:
 *   A = (1/N) Σ_n Σ_t ā_{n,t} ā_{n,t}ᵀ            (summed over positions)
 *   G = (1/N) Σ_n (1/T) Σ_t g_{n,t} g_{n,t}ᵀ       (averaged over positions)
 * This is KFC's normalisation (MATH.md §6): with T = 1 both are the dense KFAC factors. Moving
 * averages over steps: X ← ρ X + (1 − ρ) X_batch (the first update takes X_batch; ρ = 0 keeps only
 * the current minibatch, as the official EKFAC code does).
 *
 * Eigenbasis (George et al. 2018 §3.1): A = U_A diag(λ_A) U_Aᵀ, G = U_G diag(λ_G) U_Gᵀ, Q = U_G ⊗ U_A.
 * Refreshed by `updateBasis` (every T_kfe steps, the optimizer decides). Guarded: on no-convergence or
 * non-finite output the previous basis is kept and the failure counted; before any successful
 * decomposition the basis is the identity with λ = diag(factor).
 *
 * Scalings S (gDim × aDim per group), the preconditioner being Q diag(vec S) Qᵀ:
 * - "kfac": S_kfac[i,j] = λ_G[i] λ_A[j], i.e. exactly G ⊗ A at the last refresh.
 * - "ekfac": S = moving average of S* = (1/N) Σ_n (U_Gᵀ ∇_n U_A)² (George et al. Algorithm 1; see
 *   scaling.ts), re-estimated from scratch after every basis change (never reused across bases), or
 *   the "ra" variant S ← α S + (1−α) N (U_Gᵀ ∇ U_A)² from the minibatch gradient (MATH.md §8).
 *
 * Update (MATH.md §7; George et al. eq. (11)): Δ = U_G [ (U_Gᵀ ∇ U_A) ⊘ (S + ε) ] U_Aᵀ.
 * KFAC with factored Tikhonov damping (Martens & Grosse §6.3): Δ = (G + (√ε/π) I)⁻¹ ∇ (A + π√ε I)⁻¹,
 * π = sqrt((tr A / aDim) / (tr G / gDim)), computed in the same eigenbasis as
 * (U_Gᵀ ∇ U_A) ⊘ ((λ_G + √ε/π)(λ_A + π√ε)ᵀ) (exact, since A + cI shares A's eigenvectors). π = 1
 * when a trace is 0.
 *
 * Cost per step and group (a = aDim, g = gDim, R = N·T): factors R(a² + g²) (two products);
 * precondition 2ga(a + g) (four products to rotate in and out); S* see scaling.ts; eigendecompositions
 * O(a³ + g³) every T_kfe steps. Workspaces are allocated at first use and grow to the largest batch;
 * after that, `updateFactors`, `updateScaling` and `precondition` allocate nothing.
 */
import { gemmStrided } from "@ekfac-ts/linalg";
import type { LayerStatistics } from "../capture.ts";
import { asFloat64, type BlockDims, checkShape, checkStatistics, ensure, type LayerShape } from "../internal/stats.ts";
import { symmetricEigenInto } from "../internal/sym-eigen.ts";
import {
  chooseScalingStrategy,
  type ScalingStrategy,
  type ScalingWorkspace,
  scalingInto,
  scalingRowsSize,
} from "./scaling.ts";

export type KroneckerApproximation = "kfac" | "ekfac";

/** How KFAC damps: exactly in the eigenbasis ((G ⊗ A) + εI) or by factored Tikhonov with π. */
export type KfacDamping = "eigenbasis" | "factored-tikhonov";

export interface KroneckerBlockOptions {
  /** Moving-average decay ρ of the factors A, G (0 = current minibatch only). Default 0.95. */
  readonly factorDecay?: number;
  /** Moving-average decay of EKFAC's scaling S* (0 = current minibatch only). Default 0.95. */
  readonly scalingDecay?: number;
  /** EKFAC scaling source: "batch" (per-example S*) or "ra" (running average of N (U_Gᵀ∇U_A)²). Default "batch". */
  readonly scaling?: "batch" | "ra";
  /** KFAC damping rule. Default "eigenbasis". Ignored by EKFAC (always S + ε). */
  readonly kfacDamping?: KfacDamping;
  /** Force a strategy for S* (tests); default: the cheapest by multiply-add count. */
  readonly scalingStrategy?: ScalingStrategy;
  /** Iteration cap handed to linalg's eigh. */
  readonly maxEigIterations?: number;
}

export interface BasisUpdate {
  /** Eigendecompositions that succeeded (2 per group when all is well). */
  readonly succeeded: number;
  /** Eigendecompositions that failed; the previous basis of that factor was kept. */
  readonly failed: number;
}

function checkDecay(fn: string, name: string, v: number): void {
  if (typeof v !== "number" || !(v >= 0 && v < 1)) {
    throw new RangeError(`${fn}: ${name} must be a number in [0, 1) (got ${String(v)})`);
  }
}

export function checkDamping(fn: string, damping: number): void {
  if (typeof damping !== "number") throw new TypeError(`${fn}: damping must be a number (got ${typeof damping})`);
  if (!(damping > 0) || !Number.isFinite(damping)) {
    throw new RangeError(`${fn}: damping must be a finite number > 0 (got ${damping})`);
  }
}

/** Kronecker-factored curvature of one layer. Use the named subclasses below. */
export class KroneckerBlock {
  readonly approximation: KroneckerApproximation;
  readonly shape: LayerShape;
  readonly dims: BlockDims;
  readonly factorDecay: number;
  readonly scalingDecay: number;
  readonly scalingMode: "batch" | "ra";
  readonly kfacDamping: KfacDamping;
  /** Factors, groups × a² and groups × g², row-major. */
  readonly A: Float64Array;
  readonly G: Float64Array;
  /** Eigenvectors (as columns) and eigenvalues (ascending) of the factors at the last refresh. */
  readonly uA: Float64Array;
  readonly lambdaA: Float64Array;
  readonly uG: Float64Array;
  readonly lambdaG: Float64Array;
  /** EKFAC scaling (groups × g × a); unused by KFAC. */
  readonly S: Float64Array;
  /** Number of factor updates, basis refreshes, scaling updates since the last basis change. */
  factorUpdates = 0;
  basisRefreshes = 0;
  basisFailures = 0;
  scalingUpdates = 0;
  /** N of the last statistics seen (used by the "ra" scaling). */
  lastBatchSize = 0;
  private readonly forcedStrategy: ScalingStrategy | undefined;
  private readonly maxEigIterations: number | undefined;
  private hasBasis = false;
  // Error-message prefixes, built once so that the per-step paths build no strings.
  private readonly fnFactors: string;
  private readonly fnScaling: string;
  private readonly fnPrecondition: string;
  // Workspaces (grow at first use; never shrink).
  private wsA: Float64Array = new Float64Array(0);
  private wsG: Float64Array = new Float64Array(0);
  private scalingWs: ScalingWorkspace = { rows: new Float64Array(0), m1: new Float64Array(0), m2: new Float64Array(0) };
  private sBatch: Float64Array = new Float64Array(0);
  private rot1: Float64Array = new Float64Array(0);
  private rot2: Float64Array = new Float64Array(0);

  constructor(
    fn: string,
    approximation: KroneckerApproximation,
    shape: LayerShape,
    options: KroneckerBlockOptions = {},
  ) {
    this.dims = checkShape(fn, shape);
    this.shape = {
      kind: shape.kind,
      outDim: shape.outDim,
      inDim: shape.inDim,
      hasBias: shape.hasBias,
      groups: shape.groups,
    };
    this.approximation = approximation;
    this.factorDecay = options.factorDecay ?? 0.95;
    this.scalingDecay = options.scalingDecay ?? 0.95;
    checkDecay(fn, "options.factorDecay", this.factorDecay);
    checkDecay(fn, "options.scalingDecay", this.scalingDecay);
    this.scalingMode = options.scaling ?? "batch";
    if (this.scalingMode !== "batch" && this.scalingMode !== "ra") {
      throw new TypeError(`${fn}: options.scaling must be "batch" or "ra" (got ${String(this.scalingMode)})`);
    }
    this.kfacDamping = options.kfacDamping ?? "eigenbasis";
    if (this.kfacDamping !== "eigenbasis" && this.kfacDamping !== "factored-tikhonov") {
      throw new TypeError(
        `${fn}: options.kfacDamping must be "eigenbasis" or "factored-tikhonov" (got ${String(this.kfacDamping)})`,
      );
    }
    this.forcedStrategy = options.scalingStrategy;
    this.fnFactors = `${fn}.updateFactors`;
    this.fnScaling = `${fn}.updateScaling`;
    this.fnPrecondition = `${fn}.precondition`;
    this.maxEigIterations = options.maxEigIterations;
    const { aDim: a, gDim: g, groups } = this.dims;
    this.A = new Float64Array(groups * a * a);
    this.G = new Float64Array(groups * g * g);
    this.uA = new Float64Array(groups * a * a);
    this.uG = new Float64Array(groups * g * g);
    this.lambdaA = new Float64Array(groups * a);
    this.lambdaG = new Float64Array(groups * g);
    this.S = new Float64Array(groups * g * a);
    this.setIdentityBasis();
  }

  private setIdentityBasis(): void {
    const { aDim: a, gDim: g, groups } = this.dims;
    this.uA.fill(0);
    this.uG.fill(0);
    for (let k = 0; k < groups; k++) {
      for (let i = 0; i < a; i++) this.uA[k * a * a + i * a + i] = 1;
      for (let i = 0; i < g; i++) this.uG[k * g * g + i * g + i] = 1;
    }
  }

  /** Whether `updateBasis` has succeeded at least once for every factor. */
  get basisReady(): boolean {
    return this.hasBasis;
  }

  /** Checks statistics against this layer (TypeError/RangeError), without touching any state. */
  checkStatistics(fn: string, stats: LayerStatistics): void {
    checkStatistics(fn, this.shape.kind, this.dims, stats);
  }

  /** A ← ρA + (1−ρ)A_batch, G ← ρG + (1−ρ)G_batch (KFC normalisation, see header). */
  updateFactors(stats: LayerStatistics): void {
    const rows = checkStatistics(this.fnFactors, this.shape.kind, this.dims, stats);
    const { aDim: a, gDim: g, groups } = this.dims;
    const n = stats.batchSize;
    const t = stats.positions;
    const [aData, gData] = this.float64Statistics(stats, rows);
    const rho = this.factorUpdates === 0 ? 0 : this.factorDecay;
    for (let k = 0; k < groups; k++) {
      gemmStrided(
        true,
        false,
        a,
        a,
        rows,
        (1 - rho) / n,
        aData,
        k * rows * a,
        a,
        aData,
        k * rows * a,
        a,
        rho,
        this.A,
        k * a * a,
        a,
      );
      gemmStrided(
        true,
        false,
        g,
        g,
        rows,
        (1 - rho) / (n * t),
        gData,
        k * rows * g,
        g,
        gData,
        k * rows * g,
        g,
        rho,
        this.G,
        k * g * g,
        g,
      );
    }
    this.factorUpdates++;
    this.lastBatchSize = n;
  }

  private float64Statistics(stats: LayerStatistics, rows: number): [Float64Array, Float64Array] {
    const { aDim: a, gDim: g, groups } = this.dims;
    if (!(stats.a instanceof Float64Array)) this.wsA = ensure(this.wsA, groups * rows * a);
    if (!(stats.g instanceof Float64Array)) this.wsG = ensure(this.wsG, groups * rows * g);
    return [asFloat64(stats.a, this.wsA), asFloat64(stats.g, this.wsG)];
  }

  /**
   * Eigendecomposes A and G (guarded, see header). A failed factor keeps its previous basis; any change
   * marks the EKFAC scaling stale so that the next `updateScaling` starts afresh in the new basis.
   */
  updateBasis(): BasisUpdate {
    const { aDim: a, gDim: g, groups } = this.dims;
    let succeeded = 0;
    let failed = 0;
    const opts = this.maxEigIterations !== undefined ? { maxIterations: this.maxEigIterations } : {};
    for (let k = 0; k < groups; k++) {
      if (symmetricEigenInto(this.A, k * a * a, a, this.uA, k * a * a, this.lambdaA, k * a, opts)) succeeded++;
      else {
        failed++;
        if (!this.hasBasis)
          for (let i = 0; i < a; i++) this.lambdaA[k * a + i] = Math.max(0, this.A[k * a * a + i * a + i] as number);
      }
      if (symmetricEigenInto(this.G, k * g * g, g, this.uG, k * g * g, this.lambdaG, k * g, opts)) succeeded++;
      else {
        failed++;
        if (!this.hasBasis)
          for (let i = 0; i < g; i++) this.lambdaG[k * g + i] = Math.max(0, this.G[k * g * g + i * g + i] as number);
      }
    }
    if (failed === 0) this.hasBasis = true;
    this.basisRefreshes++;
    this.basisFailures += failed;
    if (succeeded > 0) this.scalingUpdates = 0;
    return { succeeded, failed };
  }

  /** The scaling strategy used for statistics with N examples and T positions. */
  strategyFor(n: number, t: number): ScalingStrategy {
    return this.forcedStrategy ?? chooseScalingStrategy(n, t, this.dims.aDim, this.dims.gDim, false);
  }

  /**
   * EKFAC: S ← ρ_S S + (1 − ρ_S) S* with S* from these statistics in the current basis; the first
   * update after a basis change overwrites S. No-op for KFAC.
   */
  updateScaling(stats: LayerStatistics): void {
    const rows = checkStatistics(this.fnScaling, this.shape.kind, this.dims, stats);
    if (this.approximation !== "ekfac") return;
    const { aDim: a, gDim: g, groups } = this.dims;
    const n = stats.batchSize;
    const t = stats.positions;
    const [aData, gData] = this.float64Statistics(stats, rows);
    const strategy = this.strategyFor(n, t);
    this.ensureScalingWorkspace(strategy, n, t);
    const rho = this.scalingUpdates === 0 ? 0 : this.scalingDecay;
    const ga = g * a;
    for (let k = 0; k < groups; k++) {
      scalingInto(
        this.sBatch,
        0,
        aData,
        k * rows * a,
        gData,
        k * rows * g,
        n,
        t,
        a,
        g,
        this.uA,
        k * a * a,
        this.uG,
        k * g * g,
        strategy,
        this.scalingWs,
      );
      const off = k * ga;
      for (let i = 0; i < ga; i++)
        this.S[off + i] = rho * (this.S[off + i] as number) + (1 - rho) * (this.sBatch[i] as number);
    }
    this.scalingUpdates++;
    this.lastBatchSize = n;
  }

  private ensureScalingWorkspace(strategy: ScalingStrategy, n: number, t: number): void {
    const { aDim: a, gDim: g } = this.dims;
    const ws = this.scalingWs;
    ws.rows = ensure(ws.rows, scalingRowsSize(strategy, n, t, a, g));
    ws.m1 = ensure(ws.m1, g * a);
    ws.m2 = ensure(ws.m2, g * a);
    this.sBatch = ensure(this.sBatch, g * a);
  }

  /** π of factored Tikhonov damping for group k (Martens & Grosse §6.3), from the eigenvalues. */
  pi(k: number): number {
    const { aDim: a, gDim: g } = this.dims;
    let trA = 0;
    let trG = 0;
    for (let i = 0; i < a; i++) trA += this.lambdaA[k * a + i] as number;
    for (let i = 0; i < g; i++) trG += this.lambdaG[k * g + i] as number;
    if (!(trA > 0) || !(trG > 0)) return 1;
    return Math.sqrt(trA / a / (trG / g));
  }

  /**
   * out = Q diag(vec S + ε)⁻¹ Qᵀ grad per group (see header for KFAC's two damping rules).
   * `grad` and `out` are groups × gDim × aDim row-major (W̄'s layout); they may be the same array.
   * With `raUpdate` (EKFAC "ra"), the rotated gradient first updates S ← α S + (1−α) N (U_Gᵀ∇U_A)².
   */
  precondition(grad: Float64Array, out: Float64Array, damping: number, raUpdate = false): Float64Array {
    const fn = this.fnPrecondition;
    const { aDim: a, gDim: g, groups, size } = this.dims;
    if (grad.length !== size || out.length !== size) {
      throw new RangeError(
        `${fn}: grad and out must have outDim·aDim = ${size} elements (got ${grad.length}, ${out.length})`,
      );
    }
    checkDamping(fn, damping);
    const ga = g * a;
    this.rot1 = ensure(this.rot1, ga);
    this.rot2 = ensure(this.rot2, ga);
    const r1 = this.rot1;
    const r2 = this.rot2;
    const ekfac = this.approximation === "ekfac";
    const tikhonov = !ekfac && this.kfacDamping === "factored-tikhonov";
    const sqrtEps = Math.sqrt(damping);
    for (let k = 0; k < groups; k++) {
      const off = k * ga;
      gemmStrided(true, false, g, a, g, 1, this.uG, k * g * g, g, grad, off, a, 0, r1, 0, a);
      gemmStrided(false, false, g, a, a, 1, r1, 0, a, this.uA, k * a * a, a, 0, r2, 0, a);
      if (ekfac) {
        if (raUpdate) {
          const alpha = this.scalingUpdates === 0 ? 0 : this.scalingDecay;
          const nb = this.lastBatchSize;
          for (let i = 0; i < ga; i++) {
            const v = r2[i] as number;
            this.S[off + i] = alpha * (this.S[off + i] as number) + (1 - alpha) * nb * v * v;
          }
        }
        for (let i = 0; i < ga; i++) r2[i] = (r2[i] as number) / ((this.S[off + i] as number) + damping);
      } else {
        const la = k * a;
        const lg = k * g;
        const p = tikhonov ? this.pi(k) : 1;
        const cG = tikhonov ? sqrtEps / p : 0;
        const cA = tikhonov ? p * sqrtEps : 0;
        const add = tikhonov ? 0 : damping;
        for (let i = 0; i < g; i++) {
          const gi = (this.lambdaG[lg + i] as number) + cG;
          for (let j = 0; j < a; j++) {
            r2[i * a + j] = (r2[i * a + j] as number) / (gi * ((this.lambdaA[la + j] as number) + cA) + add);
          }
        }
      }
      gemmStrided(false, false, g, a, g, 1, this.uG, k * g * g, g, r2, 0, a, 0, r1, 0, a);
      gemmStrided(false, true, g, a, a, 1, r1, 0, a, this.uA, k * a * a, a, 0, out, off, a);
    }
    if (ekfac && raUpdate) this.scalingUpdates++;
    return out;
  }

  /**
   * The scaling in the eigenbasis, groups × g × a: S for EKFAC, λ_G λ_Aᵀ for KFAC (undamped).
   * Allocates; for diagnostics and tests.
   */
  eigenScaling(): Float64Array {
    const { aDim: a, gDim: g, groups } = this.dims;
    if (this.approximation === "ekfac") return this.S.slice();
    const s = new Float64Array(groups * g * a);
    for (let k = 0; k < groups; k++) {
      for (let i = 0; i < g; i++) {
        for (let j = 0; j < a; j++)
          s[k * g * a + i * a + j] = (this.lambdaG[k * g + i] as number) * (this.lambdaA[k * a + j] as number);
      }
    }
    return s;
  }

  /**
   * The P × P matrix this block stands for, Q diag(vec S) Qᵀ (block-diagonal over groups), built
   * naively: the reference the property tests compare with. P = outDim·aDim. Allocates O(P²).
   */
  denseApproximation(): Float64Array {
    const { aDim: a, gDim: g, groups, size: p } = this.dims;
    const s = this.eigenScaling();
    const out = new Float64Array(p * p);
    const ga = g * a;
    const q = new Float64Array(ga * ga); // Q = U_G ⊗ U_A for one group: Q[(i,j),(k,l)] = uG[i,k] uA[j,l]
    for (let k = 0; k < groups; k++) {
      for (let i = 0; i < g; i++) {
        for (let j = 0; j < a; j++) {
          for (let c = 0; c < g; c++) {
            for (let d = 0; d < a; d++) {
              q[(i * a + j) * ga + c * a + d] =
                (this.uG[k * g * g + i * g + c] as number) * (this.uA[k * a * a + j * a + d] as number);
            }
          }
        }
      }
      const base = k * ga;
      for (let r = 0; r < ga; r++) {
        for (let c = 0; c < ga; c++) {
          let acc = 0;
          for (let m = 0; m < ga; m++)
            acc += (q[r * ga + m] as number) * (s[base + m] as number) * (q[c * ga + m] as number);
          out[(base + r) * p + base + c] = acc;
        }
      }
    }
    return out;
  }

  /** Copies of the mutable state (for state.ts). */
  exportState(): { arrays: Record<string, Float64Array>; json: Record<string, number | boolean> } {
    return {
      arrays: {
        A: this.A.slice(),
        G: this.G.slice(),
        uA: this.uA.slice(),
        uG: this.uG.slice(),
        lambdaA: this.lambdaA.slice(),
        lambdaG: this.lambdaG.slice(),
        S: this.S.slice(),
      },
      json: {
        factorUpdates: this.factorUpdates,
        basisRefreshes: this.basisRefreshes,
        basisFailures: this.basisFailures,
        scalingUpdates: this.scalingUpdates,
        lastBatchSize: this.lastBatchSize,
        hasBasis: this.hasBasis,
      },
    };
  }

  importState(fn: string, arrays: Record<string, Float64Array | undefined>, json: Record<string, unknown>): void {
    for (const key of ["A", "G", "uA", "uG", "lambdaA", "lambdaG", "S"] as const) {
      const src = arrays[key];
      const dst = this[key];
      if (!(src instanceof Float64Array) || src.length !== dst.length) {
        throw new RangeError(
          `${fn}: array ${key} must be a Float64Array of length ${dst.length} (got ${src?.length ?? "none"})`,
        );
      }
      dst.set(src);
    }
    const num = (k: string): number => {
      const v = json[k];
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
        throw new TypeError(`${fn}: ${k} must be a non-negative integer (got ${String(v)})`);
      return v;
    };
    this.factorUpdates = num("factorUpdates");
    this.basisRefreshes = num("basisRefreshes");
    this.basisFailures = num("basisFailures");
    this.scalingUpdates = num("scalingUpdates");
    this.lastBatchSize = num("lastBatchSize");
    if (typeof json.hasBasis !== "boolean") throw new TypeError(`${fn}: hasBasis must be a boolean`);
    this.hasBasis = json.hasBasis;
  }
}

/** KFAC for a dense layer: F ≈ G ⊗ A (Martens & Grosse 2015). */
export class DenseKroneckerFactored extends KroneckerBlock {
  constructor(shape: Omit<LayerShape, "kind" | "groups">, options: KroneckerBlockOptions = {}) {
    super("DenseKroneckerFactored", "kfac", { ...shape, kind: "dense", groups: 1 }, options);
  }
}

/** EKFAC for a dense layer: F ≈ (U_G ⊗ U_A) diag(S*) (U_G ⊗ U_A)ᵀ (George et al. 2018). */
export class DenseEigenCorrected extends KroneckerBlock {
  constructor(shape: Omit<LayerShape, "kind" | "groups">, options: KroneckerBlockOptions = {}) {
    super("DenseEigenCorrected", "ekfac", { ...shape, kind: "dense", groups: 1 }, options);
  }
}

/** KFC for a conv2d layer (Grosse & Martens 2016), factors normalised as in the header. */
export class Conv2dKroneckerFactored extends KroneckerBlock {
  constructor(shape: Omit<LayerShape, "kind">, options: KroneckerBlockOptions = {}) {
    super("Conv2dKroneckerFactored", "kfac", { ...shape, kind: "conv2d" }, options);
  }
}

/** EKFAC for a conv2d layer: KFC's eigenbasis with the per-example scaling S*. */
export class Conv2dEigenCorrected extends KroneckerBlock {
  constructor(shape: Omit<LayerShape, "kind">, options: KroneckerBlockOptions = {}) {
    super("Conv2dEigenCorrected", "ekfac", { ...shape, kind: "conv2d" }, options);
  }
}
