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
 * decomposition the basis is the identity with λ = diag(factor). Argument errors of the eigensolver
 * (RangeError/TypeError: a bug, not a numerical event) propagate. A factor holding NaN/±Inf (it can
 * only get there by overflow, since the optimizer refuses non-finite statistics) is reset to zero and
 * its moving average restarted, so the next statistics and refresh can succeed.
 *
 * Scalings S (gDim × aDim per group), the preconditioner being Q diag(vec S) Qᵀ:
 * - "kfac": S_kfac[i,j] = λ_G[i] λ_A[j], i.e. exactly G ⊗ A at the last refresh.
 * - "ekfac": S = moving average of S* = (1/N) Σ_n (U_Gᵀ ∇_n U_A)² (George et al. Algorithm 1; see
 *   scaling.ts), re-estimated from scratch after every basis change (never reused across bases), or
 *   the "ra" variant S ← α S + (1−α) N (U_Gᵀ ∇ U_A)² from the minibatch gradient (MATH.md §8,
 *   `updateScalingFromGradient`, N the size of THAT gradient's batch, passed by the caller).
 *
 * State: every array and counter lives in one plain-data record (`state`, `KroneckerState`), so the
 * optimizer saves and restores it through the one state format (optim/state.ts); the block object
 * only adds workspaces. `precondition` reads the state and writes `out`, nothing else.
 *
 * Update (MATH.md §7; George et al. eq. (11)): Δ = U_G [ (U_Gᵀ ∇ U_A) ⊘ (S + ε) ] U_Aᵀ.
 * KFAC with factored Tikhonov damping (Martens & Grosse §6.3): Δ = (G + (√ε/π) I)⁻¹ ∇ (A + π√ε I)⁻¹,
 * π = sqrt((tr A / aDim) / (tr G / gDim)), computed in the same eigenbasis as
 * (U_Gᵀ ∇ U_A) ⊘ ((λ_G + √ε/π)(λ_A + π√ε)ᵀ) (exact, since A + cI shares A's eigenvectors). π = 1
 * when a trace is 0.
 *
 * Precision (`precision`): the bases, factors, eigendecompositions and S are float64 state. With
 * "float32" the per-step rotations — the four products of `precondition` (and of "ra"'s rotate-in) and
 * EKFAC's rotated rows Ã = ā U_A, G̃ = g U_G with S*'s product — run on float32 copies of the bases
 * (rounded once per basis change: refresh, `bindState`, `stateRestored`) through linalg's float32 gemm
 * (WebAssembly SIMD when available); the division by S + ε reads the float64 S, and S* is folded into
 * S in float64. The factors' batch Gram matrices are formed in float32 too (syrk) and folded into the
 * float64 moving averages, so their rounding is float32's (≈ 1e-7 relative, against the
 * eigendecomposition's float64): far below the damping on any layer the laws cover, and the basis only
 * needs to be a good eigenbasis, not an exact one (EKFAC's S* is re-estimated in whatever basis it
 * gets). Every float32 operand the block forms itself stores entries below FLUSH32 = 2⁻⁶³ ≈ 1.1e-19 as
 * 0, and captured float32 statistics holding such entries are read through a flushed copy
 * (internal/stats.ts; the model's arrays are not modified), so no product of two operands is subnormal
 * (the CPU's slow path: the demo autoencoder's first layer ran ≈ 1.7× slower, a saturated last layer's
 * S* ≈ 3×): for the bases that moves a rotated vector by ≤ FLUSH32·n·‖x‖ (≤ 1e-15 relative for
 * n ≤ 10⁴), for the gradient and the intermediate rotations by ≤ FLUSH32·√(g·a) absolute, a step change
 * below 1e-19/ε per entry; for a statistics row ā or g, a change below FLUSH32 per entry, whose effect
 * on the factors and S* is below FLUSH32 times the row's other entries. Accuracy: law
 * ekfac.precondition.float32 (within 1e-4 relative of the float64 direction
 * when (max s + ε)/(min s + ε) ≤ 100; the error grows with that condition number, since the rounding
 * of Qᵀ∇ is divided by the smallest s + ε). Blocks default to "float64" (they also serve diagnostics,
 * influence and the laws); the optimizer's transform defaults to "float32".
 *
 * Shared rows (`gradientFromStatistics`, set by the optimizer for the empirical Fisher): when S* is
 * re-estimated on the step from rotated rows Ã = ā U_A, G̃ = g U_G and the captured g are the training
 * loss's, U_Gᵀ ∇ U_A = (1/N) G̃ᵀ Ã (scaling.ts, `chooseRotatedGradientSource`: R·g·a instead of
 * g·a·(a + g), chosen per layer). The next `precondition` uses it only if its gradient is the
 * statistics' own, ‖∇ − (1/N) gᵀā‖_F ≤ 1e-4 ‖∇‖_F — on small layers by forming D = (1/N) gᵀā
 * (R·g·a), on large ones on 8 fixed random directions V (Freivalds' check: ∇V against (1/N) gᵀ(āV),
 * 8·(R·a + R·g + g·a); scaling.ts `sharedRowsCheck` picks the cheaper, `isStatisticsGradient` states
 * what the probes miss) — so a gradient changed by an earlier transform, a
 * regulariser or reused statistics is rotated as usual, and an accepted one differs from the rotated ∇
 * by rounding (within the float32 budget of "Precision"). With a sampled Fisher ("true",
 * "curvature-prop") the captured g come from sampled targets, not the loss; if the producer also hands
 * over the loss's own signals g_L (`LayerStatistics.lossG`), S*'s Ã is still shared:
 * U_Gᵀ ∇ U_A = (1/N) (g_L U_G)ᵀ Ã, checked against D = (1/N) g_Lᵀ ā as above (R·g² more,
 * `chooseRotatedGradientSource` "from-loss-rows", chosen where it has fewer multiply-adds: the demo
 * autoencoder's first layer and both wide layers of a 784-1000-500-10 MLP at batch 250/256, where
 * the EKFAC step is 1–4 % and 3–13 % faster; packages/bench/src/examples/loss-rows.ts measures it).
 * A gradient the optimizer never formed (`ParameterRef.gradFromRows`, the producer's statement that it
 * IS (1/N) rᵀā of these rows) goes through `preconditionFromRows`, which skips the check; either way
 * a direction from the rows reports ⟨Δ, ∇⟩ as ⟨R ⊘ (S + ε), R⟩ (`fromRows`, `rowsDot`; optim/
 * curvature.ts, "Gradients formed from the rows").
 *
 * Cost per step and group (a = aDim, g = gDim, R = N·T): factors ≈ R(a² + g²)/2 (two syrk: one
 * triangle each, mirrored); precondition 2ga(a + g) (four products to rotate in and out); S* see scaling.ts; eigendecompositions
 * O(a³ + g³) every T_kfe steps. Deflation: coordinates whose factor row is exactly zero (inputs that
 * are 0 on every row, dead units) get unit eigenvectors (internal/sym-eigen.ts, MATH.md §9), and every
 * product with a basis goes through basis-rotation.ts, so a and g above become the active sizes m_A,
 * m_G in each rotation (and in the eigendecompositions); e.g. the demo autoencoder's first layer
 * refreshed on the bench's first batch of 250 digits has m_A = 544 of 785. The cost models of
 * scaling.ts count these sizes too (`strategyFor`, the rotated gradient's source: the largest m_A,
 * m_G of the groups; the full sizes before the first basis). Workspaces are allocated at first use and grow to the largest batch;
 * after that, `updateFactors`, `updateScaling` and `precondition` allocate nothing.
 */
import {
  checkFlag,
  checkOptions,
  convertRowsInto,
  decayInto,
  type FloatArray,
  foldLowerSymmetric,
  gemmStrided,
  optionKeys,
  quotientFlushedInto,
  quotientOuterFlushedInto,
  Rng,
  syrkStrided,
} from "@ekfac-ts/linalg";
import type { LayerBatch, LayerShape } from "../capture.ts";
import { checkChoice, checkCount, checkDecay, checkPositive } from "../internal/checks.ts";
import {
  allFinite,
  asFloat64,
  checkedDot,
  checkShape,
  checkStatistics,
  ensure,
  ensure32,
  FLUSH32,
  flushTiny32,
  layerShape,
  readFlushed32,
  roundFlushed32,
} from "../internal/stats.ts";
import { gramEigenInto, symmetricEigenInto } from "../internal/sym-eigen.ts";
import { BasisRotation } from "./basis-rotation.ts";
import { type BasisUpdate, type BlockDims, type CurvatureBlock, checkPlainState } from "./block.ts";
import {
  chooseRotatedGradientSource,
  chooseScalingStrategy,
  type ScalingStrategy,
  type ScalingWorkspace,
  SHARED_ROWS_PROBES,
  scalingInto,
  scalingRowsSize,
  sharedRowsCheck,
} from "./scaling.ts";

/** Random directions of the probed shared-rows check (`isStatisticsGradient`) and their seed. */
const PROBES = SHARED_ROWS_PROBES;
const PROBE_SEED = 0x5eed;

/** "kfac": the scaling is λ_G λ_Aᵀ (exactly G ⊗ A); "ekfac": the per-example scaling S* in the same basis. */
export type KroneckerApproximation = "kfac" | "ekfac";

/** How KFAC damps: exactly in the eigenbasis ((G ⊗ A) + εI) or by factored Tikhonov with π. */
export type KfacDamping = "eigenbasis" | "factored-tikhonov";

/** Arithmetic of the per-step rotations (see the header, "Precision"). */
export type RotationPrecision = "float32" | "float64";

/** Options of the Kronecker blocks (see the file header for the factors, basis and scalings). */
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
  /**
   * Arithmetic of the per-step rotations (precondition, S*'s rotated rows; see the header). Default
   * "float64" here, where blocks serve as measurement tools (diagnostics, influence, the laws); the
   * optimizer's curvature transform defaults to "float32" (CurvatureOptions.precision).
   */
  readonly precision?: RotationPrecision;
  /**
   * The captured g are the training loss's own (empirical Fisher), so the step's gradient may be
   * rotated from S*'s rotated rows where cheaper (see the header, "Shared rows"). Default false.
   * (Statistics that carry the loss's signals separately, `lossG`, are shared without this option.)
   */
  readonly gradientFromStatistics?: boolean;
}

/** The names the Kronecker blocks read: every key of `KroneckerBlockOptions` (checked at compile time). */
const KRONECKER_BLOCK_KEYS = optionKeys<KroneckerBlockOptions>()([
  "factorDecay",
  "scalingDecay",
  "scaling",
  "kfacDamping",
  "scalingStrategy",
  "maxEigIterations",
  "precision",
  "gradientFromStatistics",
]);

/** The sizes one group's rotations work in (`KroneckerBlock.rotationSizes`). */
export interface RotationSizes {
  /** aDim less the unit columns of U_A (input coordinates deflated at the last refresh). */
  readonly a: number;
  /** gDim less the unit columns of U_G (output coordinates deflated at the last refresh). */
  readonly g: number;
}

/** The plain-data state of a Kronecker block (see the header): arrays and integer counters. */
export type KroneckerState = {
  /** Factors, groups × a² and groups × g², row-major. */
  A: Float64Array;
  /** The output-gradient factor, groups × g² row-major (A above holds the input factor, groups × a²). */
  G: Float64Array;
  /** Eigenvectors (as columns) and eigenvalues (ascending) of the factors at the last refresh. */
  uA: Float64Array;
  /** Eigenvalues of A (ascending), groups × a. */
  lambdaA: Float64Array;
  /** Eigenvectors of G as columns, groups × g². */
  uG: Float64Array;
  /** Eigenvalues of G (ascending), groups × g. */
  lambdaG: Float64Array;
  /** EKFAC scaling (groups × g × a); zeros for KFAC. */
  S: Float64Array;
  /** Factor updates since the moving average (re)started. */
  factorUpdates: number;
  /** Basis refreshes attempted (every `refreshBasis` call; the numerical failures are also in `basisFailures`). */
  basisRefreshes: number;
  /** Eigendecompositions that failed numerically (the previous basis was kept). */
  basisFailures: number;
  /** Scaling updates since the last basis change (0: the next one overwrites S). */
  scalingUpdates: number;
  /** 1 once every factor has been decomposed successfully, else 0. */
  hasBasis: number;
};

const KRONECKER_COUNTERS = ["factorUpdates", "basisRefreshes", "basisFailures", "scalingUpdates", "hasBasis"] as const;

export type { BasisUpdate } from "./block.ts";

/** Kronecker-factored curvature of one layer. Use the named subclasses below. */
export class KroneckerBlock implements CurvatureBlock<KroneckerState> {
  readonly kind: string;
  /** KFAC (λ_G λ_Aᵀ) or EKFAC (S*) scaling. */
  readonly approximation: KroneckerApproximation;
  /** The layer's shape (a copy of the constructor's argument). */
  readonly shape: LayerShape;
  /** aDim, gDim and groups derived from the shape. */
  readonly dims: BlockDims;
  readonly size: number;
  /** Moving-average decay ρ of the factors A and G. */
  readonly factorDecay: number;
  /** Moving-average decay of EKFAC's scaling S*. */
  readonly scalingDecay: number;
  /**
   * Where EKFAC's scaling comes from: per-example S* ("batch") or the running average of N (U_Gᵀ∇U_A)² ("ra").
   */
  readonly scalingMode: "batch" | "ra";
  /** KFAC's damping rule (EKFAC always uses S + ε). */
  readonly kfacDamping: KfacDamping;
  /** Arithmetic of the per-step rotations ("float32": float32 copies of the float64 bases). */
  readonly precision: RotationPrecision;
  /** Whether the step's rotated gradient may come from S*'s rotated rows (empirical Fisher only). */
  readonly gradientFromStatistics: boolean;
  /** Directions whose rotated gradient came from S*'s rows (diagnostics and tests; not state). */
  sharedRotations = 0;
  /** The block's data (see `KroneckerState`); `bindState` swaps in a restored record. */
  state: KroneckerState;
  private readonly forcedStrategy: ScalingStrategy | undefined;
  /** The sizes the bases rotate in, as of the last `rotatedSizes()` (what the cost models count). */
  private rotatedA = 0;
  private rotatedG = 0;
  private readonly maxEigIterations: number | undefined;
  // Error-message prefixes, built once so that the per-step paths build no strings.
  private readonly fnFactors: string;
  private readonly fnScaling: string;
  private readonly fnPrecondition: string;
  private readonly fnNorms: string;
  // Workspaces (grow at first use; never shrink).
  private wsA: Float64Array = new Float64Array(0);
  private wsG: Float64Array = new Float64Array(0);
  private scalingWs: ScalingWorkspace = { rows: new Float64Array(0), m1: new Float64Array(0), m2: new Float64Array(0) };
  private sBatch: Float64Array = new Float64Array(0);
  private rot1: Float64Array = new Float64Array(0);
  private rot2: Float64Array = new Float64Array(0);
  // Float32 path: copies of the bases (valid while `basis32Fresh`), rotation and S* workspaces.
  private uA32: Float32Array = new Float32Array(0);
  private uG32: Float32Array = new Float32Array(0);
  private basis32Fresh = false;
  // Products with the bases, per group (basis-rotation.ts: a factor's zero coordinates are skipped):
  // on the float32 copies (valid with them) and on the state's float64 bases (valid while basis64Fresh).
  private rotA32: BasisRotation<Float32Array>[] = [];
  private rotG32: BasisRotation<Float32Array>[] = [];
  private rotA64: BasisRotation<Float64Array>[] = [];
  private rotG64: BasisRotation<Float64Array>[] = [];
  private basis64Fresh = false;
  private x32: Float32Array = new Float32Array(0);
  private r1f: Float32Array = new Float32Array(0);
  private r2f: Float32Array = new Float32Array(0);
  private wsA32: Float32Array = new Float32Array(0);
  private wsG32: Float32Array = new Float32Array(0);
  private sBatch32: Float32Array = new Float32Array(0);
  private factorA32: Float32Array = new Float32Array(0);
  private factorG32: Float32Array = new Float32Array(0);
  /**
   * The last factor update's rows (groups × rows × aDim, × gDim, float64) while A and G are exactly
   * that batch's Gram matrices (the update had ρ = 0) and the rows are few enough for the Gram route
   * of the refresh (internal/sym-eigen.ts, `gramEigenInto`); `gramRows` = 0 when they are not kept or
   * no longer describe the factors.
   */
  private gramA: Float64Array = new Float64Array(0);
  private gramG: Float64Array = new Float64Array(0);
  private gramRows = 0;
  private gramScaleA = 0;
  private gramScaleG = 0;
  // Shared rows: (1/N) G̃ᵀÃ and, per group, the check's (1/N) gᵀā ("exact") or (1/N) gᵀ(ā V)
  // ("probes"), valid for the next `precondition` only (with the loss's signals: G̃_L = g_L U_G of one
  // group in lossRows, g_L itself in lossG when copied). V: aDim × PROBES, fixed per block.
  private lossRows64: Float64Array = new Float64Array(0);
  private lossRows32: Float32Array = new Float32Array(0);
  private lossG64: Float64Array = new Float64Array(0);
  private lossG32: Float32Array = new Float32Array(0);
  private shared64: Float64Array = new Float64Array(0);
  private shared32: Float32Array = new Float32Array(0);
  private mean64: Float64Array = new Float64Array(0);
  private mean32: Float32Array = new Float32Array(0);
  private probed = false;
  private probe64: Float64Array = new Float64Array(0);
  private probe32: Float32Array = new Float32Array(0);
  private probeRows64: Float64Array = new Float64Array(0);
  private probeRows32: Float32Array = new Float32Array(0);
  private sharedProbe64: Float64Array = new Float64Array(0);
  private sharedProbe32: Float32Array = new Float32Array(0);
  private gradProbe: Float64Array = new Float64Array(0);
  private gradProbe32: Float32Array = new Float32Array(0);
  private sharedReady = false;
  // examplePreconditionedNorms: Ã, G̃ (then G̃∘G̃), W = 1 ⊘ (s + ε), products, ones, float32 rows widened.
  private normA: Float64Array = new Float64Array(0);
  private normG: Float64Array = new Float64Array(0);
  private normW: Float64Array = new Float64Array(0);
  private normM: Float64Array = new Float64Array(0);
  private normOnes: Float64Array = new Float64Array(0);
  private normRowsA: Float64Array = new Float64Array(0);
  private normRowsG: Float64Array = new Float64Array(0);
  private scalingWs32: ScalingWorkspace<Float32Array> = {
    rows: new Float32Array(0),
    m1: new Float32Array(0),
    m2: new Float32Array(0),
  };

  constructor(
    fn: string,
    approximation: KroneckerApproximation,
    shape: LayerShape,
    options: KroneckerBlockOptions = {},
  ) {
    this.dims = checkShape(fn, shape);
    this.size = this.dims.size;
    this.shape = layerShape(shape);
    this.approximation = checkChoice(fn, "approximation", approximation, ["kfac", "ekfac"], approximation);
    checkOptions(fn, "options", options, KRONECKER_BLOCK_KEYS);
    this.kind = `${shape.kind === "dense" ? "Dense" : "Conv2d"}${approximation === "kfac" ? "KroneckerFactored" : "EigenCorrected"}`;
    this.factorDecay = options.factorDecay ?? 0.95;
    this.scalingDecay = options.scalingDecay ?? 0.95;
    checkDecay(fn, "options.factorDecay", this.factorDecay);
    checkDecay(fn, "options.scalingDecay", this.scalingDecay);
    this.scalingMode = checkChoice(fn, "options.scaling", options.scaling, ["batch", "ra"], "batch");
    this.kfacDamping = checkChoice(
      fn,
      "options.kfacDamping",
      options.kfacDamping,
      ["eigenbasis", "factored-tikhonov"],
      "eigenbasis",
    );
    this.precision = checkChoice(fn, "options.precision", options.precision, ["float32", "float64"], "float64");
    checkFlag(fn, "options.gradientFromStatistics", options.gradientFromStatistics);
    this.gradientFromStatistics = options.gradientFromStatistics ?? false;
    const forced = options.scalingStrategy;
    this.forcedStrategy =
      forced === undefined
        ? undefined
        : checkChoice<ScalingStrategy>(
            fn,
            "options.scalingStrategy",
            forced,
            ["gram", "rotate-rows", "rotate-gradients"],
            forced,
          );
    this.fnFactors = `${fn}.updateFactors`;
    this.fnScaling = `${fn}.updateScaling`;
    this.fnPrecondition = `${fn}.precondition`;
    this.fnNorms = `${fn}.examplePreconditionedNorms`;
    if (options.maxEigIterations !== undefined) checkCount(fn, "options.maxEigIterations", options.maxEigIterations);
    this.maxEigIterations = options.maxEigIterations;
    this.state = this.initState();
  }

  /** A fresh state: zero factors, identity basis, counters 0. */
  initState(): KroneckerState {
    const { aDim: a, gDim: g, groups } = this.dims;
    const st: KroneckerState = {
      A: new Float64Array(groups * a * a),
      G: new Float64Array(groups * g * g),
      uA: new Float64Array(groups * a * a),
      lambdaA: new Float64Array(groups * a),
      uG: new Float64Array(groups * g * g),
      lambdaG: new Float64Array(groups * g),
      S: new Float64Array(groups * g * a),
      factorUpdates: 0,
      basisRefreshes: 0,
      basisFailures: 0,
      scalingUpdates: 0,
      hasBasis: 0,
    };
    setIdentity(st.uA, a, groups);
    setIdentity(st.uG, g, groups);
    return st;
  }

  /** Throws (RangeError/TypeError naming `fn` and the field) unless `st` is a valid state of this block. */
  checkState(fn: string, st: unknown): asserts st is KroneckerState {
    const ref = this.state as unknown as Record<string, unknown>;
    checkPlainState(fn, st, ref, KRONECKER_COUNTERS);
    const hb = (st as KroneckerState).hasBasis;
    if (hb !== 0 && hb !== 1) throw new RangeError(`${fn}: hasBasis must be 0 or 1 (got ${hb})`);
  }

  /** Uses `st` (checked) as this block's state from now on; no copy. */
  bindState(fn: string, st: KroneckerState): void {
    if (st === this.state) return;
    this.checkState(fn, st);
    this.state = st;
    this.basis32Fresh = false;
    this.basis64Fresh = false;
    this.sharedReady = false;
    this.gramRows = 0;
  }

  /**
   * CurvatureBlock: the state's arrays were overwritten in place; what the block keeps from the bases
   * (their float32 copies, the products' unit columns and compact blocks) is stale. Call it after
   * writing uA or uG by hand on a block that has already rotated.
   */
  stateRestored(): void {
    this.basis32Fresh = false;
    this.basis64Fresh = false;
    this.sharedReady = false;
    this.gramRows = 0;
  }

  /** The input factor A (groups × a², row-major; the live state array). */
  get A(): Float64Array {
    return this.state.A;
  }
  /** The output-gradient factor G (groups × g², row-major; the live state array). */
  get G(): Float64Array {
    return this.state.G;
  }
  /** Eigenvectors of A as columns at the last refresh (identity before the first). */
  get uA(): Float64Array {
    return this.state.uA;
  }
  /** Eigenvectors of G as columns at the last refresh (identity before the first). */
  get uG(): Float64Array {
    return this.state.uG;
  }
  /** Eigenvalues of A at the last refresh, ascending. */
  get lambdaA(): Float64Array {
    return this.state.lambdaA;
  }
  /** Eigenvalues of G at the last refresh, ascending. */
  get lambdaG(): Float64Array {
    return this.state.lambdaG;
  }
  /** EKFAC's scaling (groups × g × a) in the current basis; zeros for KFAC. */
  get S(): Float64Array {
    return this.state.S;
  }
  /** Factor updates since the moving average (re)started. */
  get factorUpdates(): number {
    return this.state.factorUpdates;
  }
  /** Basis refreshes attempted (every `refreshBasis` call; the numerical failures are also in `basisFailures`). */
  get basisRefreshes(): number {
    return this.state.basisRefreshes;
  }
  /** Eigendecompositions that failed numerically (the previous basis was kept). */
  get basisFailures(): number {
    return this.state.basisFailures;
  }
  /** Scaling updates since the last basis change. */
  get scalingUpdates(): number {
    return this.state.scalingUpdates;
  }

  /** Whether `updateBasis` has succeeded at least once for every factor. */
  get basisReady(): boolean {
    return this.state.hasBasis === 1;
  }

  /**
   * Per group, the sizes the rotations work in: aDim and gDim less the unit columns of the bases the
   * block's rotations use (float32 copies or float64; the coordinates whose factor row was exactly
   * zero at the refresh; basis-rotation.ts). Before any refresh the bases are the identity, all
   * units: 0 and 0. For reports and tests.
   */
  rotationSizes(): RotationSizes[] {
    // The products of the block's own precision (float32's copies are what its rotations use).
    if (this.precision === "float32") {
      this.float32Basis();
      return this.rotA32.map((r, k) => ({ a: r.m, g: this.rotation32(this.rotG32, k).m }));
    }
    this.float64Basis();
    return this.rotA64.map((r, k) => ({ a: r.m, g: this.rotation64(this.rotG64, k).m }));
  }

  /** Checks statistics against this layer (TypeError/RangeError), without touching any state. */
  checkStatistics(fn: string, stats: LayerBatch): void {
    checkStatistics(fn, this.shape.kind, this.dims, stats);
  }

  /** CurvatureBlock: the factors are this block's statistics. */
  updateStatistics(stats: LayerBatch): boolean {
    return this.updateFactors(stats);
  }

  /** CurvatureBlock: the eigenbasis. */
  refreshBasis(): BasisUpdate {
    return this.updateBasis();
  }

  /**
   * A ← ρA + (1−ρ)A_batch, G ← ρG + (1−ρ)G_batch (KFC normalisation, see header), the batch Gram
   * matrices by syrk (one triangle, mirrored: exactly symmetric, half of gemm's work). With "float32"
   * precision the batch products run in float32 and are folded into the float64 averages — unless one
   * of them is not finite (finite entries beyond ≈ 1e19 overflow float32): then nothing is folded and
   * the result is false (a caller refuses the step). The float64 products fold straight into the
   * averages; they overflow only for entries beyond ≈ 1e154, and a factor that does is reset by the
   * next `updateBasis`.
   */
  updateFactors(stats: LayerBatch): boolean {
    const rows = checkStatistics(this.fnFactors, this.shape.kind, this.dims, stats);
    const { aDim: a, gDim: g, groups } = this.dims;
    const n = stats.batchSize;
    const t = stats.positions;
    const st = this.state;
    const rho = st.factorUpdates === 0 ? 0 : this.factorDecay;
    if (this.precision === "float32") {
      const [aData, gData] = this.float32Statistics(stats, rows);
      // One workspace per factor, each exactly its groups' size: foldLowerSymmetric's wasm path copies
      // it whole. Every group's batch Gram first, so that an overflow anywhere folds nothing.
      this.factorA32 = ensure32(this.factorA32, groups * a * a);
      this.factorG32 = ensure32(this.factorG32, groups * g * g);
      const fa = this.factorA32;
      const fg = this.factorG32;
      for (let k = 0; k < groups; k++) {
        // syrk's lower triangle only (the upper one stays 0): foldLowerSymmetric reads it and writes
        // both triangles of the average.
        syrkStrided(true, a, rows, 1 / n, aData, k * rows * a, a, 0, fa, k * a * a, a, false);
        syrkStrided(true, g, rows, 1 / (n * t), gData, k * rows * g, g, 0, fg, k * g * g, g, false);
      }
      if (!allFinite(fa) || !allFinite(fg)) return false;
      this.keepGramRows(aData, gData, stats, rows, rho);
      for (let k = 0; k < groups; k++) {
        foldLowerSymmetric(st.A, k * a * a, fa, a, rho, k * a * a);
        foldLowerSymmetric(st.G, k * g * g, fg, g, rho, k * g * g);
      }
    } else {
      const [aData, gData] = this.float64Statistics(stats, rows);
      this.keepGramRows(aData, gData, stats, rows, rho);
      for (let k = 0; k < groups; k++) {
        syrkStrided(true, a, rows, (1 - rho) / n, aData, k * rows * a, a, rho, st.A, k * a * a, a);
        syrkStrided(true, g, rows, (1 - rho) / (n * t), gData, k * rows * g, g, rho, st.G, k * g * g, g);
      }
    }
    st.factorUpdates++;
    return true;
  }

  /**
   * Keeps the statistics' rows for the refresh's Gram route when this update makes A and G exactly
   * the batch's Gram matrices (ρ = 0) and the rows number at most half a factor's size (with more the
   * route saves nothing: `gramEigenInto`); forgets them otherwise. The rows are the ones the factors'
   * products read (float32: flushed, see `float32Statistics`), widened to float64.
   */
  private keepGramRows(aData: FloatArray, gData: FloatArray, stats: LayerBatch, rows: number, rho: number): void {
    const { aDim: a, gDim: g, groups } = this.dims;
    if (rho !== 0 || 2 * rows > Math.max(a, g)) {
      // Not kept: the buffers go too (KFAC's averaged factors keep no rows after their first update).
      this.gramRows = 0;
      if (this.gramA.length > 0) this.gramA = this.gramG = new Float64Array(0);
      return;
    }
    this.gramA = ensure(this.gramA, groups * rows * a);
    this.gramG = ensure(this.gramG, groups * rows * g);
    convertRowsInto(aData, 0, a, this.gramA, 0, a, groups * rows, a);
    convertRowsInto(gData, 0, g, this.gramG, 0, g, groups * rows, g);
    this.gramRows = rows;
    this.gramScaleA = 1 / stats.batchSize;
    this.gramScaleG = 1 / (stats.batchSize * stats.positions);
  }

  private float64Statistics(stats: LayerBatch, rows: number): [Float64Array, Float64Array] {
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
    const st = this.state;
    let succeeded = 0;
    let failed = 0;
    // A factor holding NaN/±Inf (overflow) cannot be decomposed: keep its previous basis, count the
    // failure, and restart the moving averages so that the next batch overwrites the factors.
    const badA = !allFinite(st.A);
    const badG = !allFinite(st.G);
    if (badA || badG) {
      if (badA) st.A.fill(0);
      if (badG) st.G.fill(0);
      st.factorUpdates = 0;
    }
    const opts = this.maxEigIterations !== undefined ? { maxIterations: this.maxEigIterations } : {};
    for (let k = 0; k < groups; k++) {
      if (!badA && this.factorEigenInto(st.A, this.gramA, k, a, this.gramScaleA, st.uA, st.lambdaA, opts)) succeeded++;
      else {
        failed++;
        if (st.hasBasis === 0)
          for (let i = 0; i < a; i++) st.lambdaA[k * a + i] = Math.max(0, st.A[k * a * a + i * a + i] as number);
      }
      if (!badG && this.factorEigenInto(st.G, this.gramG, k, g, this.gramScaleG, st.uG, st.lambdaG, opts)) succeeded++;
      else {
        failed++;
        if (st.hasBasis === 0)
          for (let i = 0; i < g; i++) st.lambdaG[k * g + i] = Math.max(0, st.G[k * g * g + i * g + i] as number);
      }
    }
    if (failed === 0) st.hasBasis = 1;
    this.basis32Fresh = false;
    this.basis64Fresh = false;
    this.sharedReady = false;
    st.basisRefreshes++;
    st.basisFailures += failed;
    if (succeeded > 0) st.scalingUpdates = 0;
    return { succeeded, failed };
  }

  /**
   * Group k's eigendecomposition of one factor (n × n at factor[k·n²…]) into u and λ: by the Gram
   * route from the kept rows when they describe the factor and are few enough (`gramEigenInto`,
   * MATH.md §9), else — or if that route fails — by `symmetricEigenInto` on the factor itself.
   */
  private factorEigenInto(
    factor: Float64Array,
    rowsData: Float64Array,
    k: number,
    n: number,
    scale: number,
    u: Float64Array,
    lambda: Float64Array,
    opts: { maxIterations?: number },
  ): boolean {
    const r = this.gramRows;
    if (r > 0 && gramEigenInto(rowsData, k * r * n, r, n, scale, u, k * n * n, lambda, k * n, opts) === true) {
      return true;
    }
    return symmetricEigenInto(factor, k * n * n, n, u, k * n * n, lambda, k * n, opts);
  }

  /**
   * The scaling strategy used for statistics with N examples and T positions: the one with the fewest
   * multiply-adds at the sizes the current bases rotate in (`rotatedSizes`).
   */
  strategyFor(n: number, t: number): ScalingStrategy {
    this.rotatedSizes();
    return (
      this.forcedStrategy ??
      chooseScalingStrategy(n, t, this.dims.aDim, this.dims.gDim, false, this.rotatedA, this.rotatedG)
    );
  }

  /**
   * Sets `rotatedA`, `rotatedG` to the largest sizes any group's bases rotate in (what the cost
   * models count; `rotationSizes()` reports them per group), without allocating; the full sizes
   * before the first basis (the placeholder identity would count as free).
   */
  private rotatedSizes(): void {
    this.rotatedA = this.dims.aDim;
    this.rotatedG = this.dims.gDim;
    if (this.state.hasBasis !== 1) return;
    let a = 0;
    let g = 0;
    if (this.precision === "float32") {
      this.float32Basis();
      for (let k = 0; k < this.dims.groups; k++) {
        a = Math.max(a, this.rotation32(this.rotA32, k).m);
        g = Math.max(g, this.rotation32(this.rotG32, k).m);
      }
    } else {
      this.float64Basis();
      for (let k = 0; k < this.dims.groups; k++) {
        a = Math.max(a, this.rotation64(this.rotA64, k).m);
        g = Math.max(g, this.rotation64(this.rotG64, k).m);
      }
    }
    this.rotatedA = a;
    this.rotatedG = g;
  }

  /**
   * EKFAC: S ← ρ_S S + (1 − ρ_S) S* with S* from these statistics in the current basis; the first
   * update after a basis change overwrites S (whatever it held). False, with S as it was and no shared
   * rows, when S* is not finite (finite statistics whose float32 squares overflow). No-op for KFAC.
   */
  updateScaling(stats: LayerBatch): boolean {
    const rows = checkStatistics(this.fnScaling, this.shape.kind, this.dims, stats);
    if (this.approximation !== "ekfac") return true;
    const { aDim: a, gDim: g, groups } = this.dims;
    const n = stats.batchSize;
    const t = stats.positions;
    const strategy = this.strategyFor(n, t);
    this.ensureScalingWorkspace(strategy, n, t);
    const st = this.state;
    const rho = st.scalingUpdates === 0 ? 0 : this.scalingDecay;
    const ga = g * a;
    const f32 = this.precision === "float32";
    const lossG = stats.lossG ?? null;
    const signals = this.gradientFromStatistics ? "statistics" : lossG !== null ? "loss" : "none";
    const source = chooseRotatedGradientSource(strategy, n, t, a, g, signals, this.rotatedA, this.rotatedG);
    const share = source !== "rotate";
    this.probed = share && sharedRowsCheck(n * t, a, g) === "probes";
    if (this.probed) this.ensureProbe(rows);
    if (share && f32) {
      this.shared32 = ensure32(this.shared32, groups * ga);
      if (this.probed) this.sharedProbe32 = ensure32(this.sharedProbe32, groups * g * PROBES);
      else this.mean32 = ensure32(this.mean32, groups * ga);
    } else if (share) {
      this.shared64 = ensure(this.shared64, groups * ga);
      if (this.probed) this.sharedProbe64 = ensure(this.sharedProbe64, groups * g * PROBES);
      else this.mean64 = ensure(this.mean64, groups * ga);
    }
    // Float32: rows, bases and S* in float32 (S* sums squares, no cancellation), folded into S in float64.
    const [aData, gData] = f32 ? this.float32Statistics(stats, rows) : this.float64Statistics(stats, rows);
    // The rows the rotated gradient is formed from: the statistics' g, or the loss's own g_L.
    const signalData = source === "from-loss-rows" ? this.lossSignals(lossG as FloatArray, rows) : gData;
    if (f32) this.float32Basis();
    else this.float64Basis();
    const sBatch = f32 ? this.sBatch32 : this.sBatch;
    for (let k = 0; k < groups; k++) {
      if (f32) {
        scalingInto(
          this.sBatch32,
          k * ga,
          aData as Float32Array,
          k * rows * a,
          gData as Float32Array,
          k * rows * g,
          n,
          t,
          a,
          g,
          this.rotation32(this.rotA32, k),
          this.rotation32(this.rotG32, k),
          strategy,
          this.scalingWs32,
        );
      } else {
        scalingInto(
          this.sBatch,
          k * ga,
          aData as Float64Array,
          k * rows * a,
          gData as Float64Array,
          k * rows * g,
          n,
          t,
          a,
          g,
          this.rotation64(this.rotA64, k),
          this.rotation64(this.rotG64, k),
          strategy,
          this.scalingWs,
        );
      }
      if (share) this.shareRows(aData, signalData, source === "from-loss-rows", rows, n, k);
    }
    // Every group's S* first: an overflow anywhere folds nothing (and shares no rows).
    if (!allFinite(sBatch)) {
      this.sharedReady = false;
      return false;
    }
    for (let k = 0; k < groups; k++) decayInto(st.S, k * ga, sBatch, k * ga, ga, rho);
    this.sharedReady = share;
    st.scalingUpdates++;
    return true;
  }

  /**
   * Shared rows for group k: (1/N) G̃ᵀÃ from the rows scalingInto left in its workspace (Ã at 0, G̃
   * after the R·a values), and what `precondition` checks its gradient against: the mean gradient
   * (1/N) gᵀā, or its probe (1/N) gᵀ(ā V) (scaling.ts, `sharedRowsCheck`). With
   * `lossRows`, `gData` holds the loss's signals g_L: G̃_L = g_L U_G is formed first (R·g²) and
   * replaces the statistics' G̃.
   */
  private shareRows(aData: FloatArray, gData: FloatArray, lossRows: boolean, rows: number, n: number, k: number): void {
    const { aDim: a, gDim: g } = this.dims;
    const ga = g * a;
    const ra = k * rows * a;
    const rg = k * rows * g;
    // One path for both precisions: every operand below is float32 or float64 with the block.
    const f32 = this.precision === "float32";
    const ws: FloatArray = f32 ? this.scalingWs32.rows : this.scalingWs.rows;
    let gt: FloatArray = ws;
    let gtOff = rows * a;
    if (lossRows && f32) {
      gt = this.lossRows32 = ensure32(this.lossRows32, rows * g);
      this.rotation32(this.rotG32, k).right(gData as Float32Array, rg, rows, this.lossRows32, 0, false);
      gtOff = 0;
    } else if (lossRows) {
      gt = this.lossRows64 = ensure(this.lossRows64, rows * g);
      this.rotation64(this.rotG64, k).right(gData as Float64Array, rg, rows, this.lossRows64, 0, false);
      gtOff = 0;
    }
    const shared = f32 ? this.shared32 : this.shared64;
    gemmStrided(true, false, g, a, rows, 1 / n, gt, gtOff, g, ws, 0, a, 0, shared, k * ga, a);
    if (this.probed) {
      const v = f32 ? this.probe32 : this.probe64;
      const pr = f32 ? this.probeRows32 : this.probeRows64;
      const out = f32 ? this.sharedProbe32 : this.sharedProbe64;
      const gp = g * PROBES;
      gemmStrided(false, false, rows, PROBES, a, 1, aData, ra, a, v, 0, PROBES, 0, pr, 0, PROBES);
      gemmStrided(true, false, g, PROBES, rows, 1 / n, gData, rg, g, pr, 0, PROBES, 0, out, k * gp, PROBES);
    } else {
      const mean = f32 ? this.mean32 : this.mean64;
      gemmStrided(true, false, g, a, rows, 1 / n, gData, rg, g, aData, ra, a, 0, mean, k * ga, a);
    }
  }

  /** The loss's signals g_L in the rotations' precision: the captured array itself, or a (flushed) copy. */
  private lossSignals(lossG: FloatArray, rows: number): FloatArray {
    const size = this.dims.groups * rows * this.dims.gDim;
    if (this.precision === "float32") {
      const out = readFlushed32(lossG, size, this.lossG32);
      if (out !== lossG) this.lossG32 = out;
      return out;
    }
    if (lossG instanceof Float64Array) return lossG;
    this.lossG64 = ensure(this.lossG64, size);
    this.lossG64.set(lossG);
    return this.lossG64;
  }

  /**
   * The probe matrix V (aDim × PROBES, standard normal entries rounded to float32 so that both
   * precisions probe with the same numbers; drawn once per block from a fixed seed) and the R × PROBES
   * workspace for ā V.
   */
  private ensureProbe(rows: number): void {
    const size = this.dims.aDim * PROBES;
    if (this.probe64.length !== size) {
      this.probe32 = new Rng(PROBE_SEED).fillNormal(new Float32Array(size));
      this.probe64 = Float64Array.from(this.probe32);
    }
    if (this.precision === "float32") this.probeRows32 = ensure32(this.probeRows32, rows * PROBES);
    else this.probeRows64 = ensure(this.probeRows64, rows * PROBES);
  }

  /**
   * Whether grad_k is the shared statistics' mean gradient D = (1/N) gᵀā: ‖∇ − D‖_F ≤ 1e-4 ‖∇‖_F
   * ("exact"), or the same test on PROBES random directions (Freivalds' check, "probes"):
   * ‖(∇ − D)V‖_F ≤ 1e-4 ‖∇V‖_F. For V with independent standard normal entries E‖XV‖²_F =
   * PROBES·‖X‖²_F, so both sides estimate the exact test's norms; a difference of relative size
   * r = ‖∇ − D‖_F/‖∇‖_F passes only if its probes come out ≈ r/1e-4 times shorter than their mean. For
   * a rank-one difference (the hardest case) and a gradient whose probes concentrate, that probability
   * is P(χ²₈ ≤ 8·10⁻⁸/r²) ≈ 10·(10⁻⁸/r²)⁴: about 1e-15 at r = 1e-2, 1e-7 at r = 1e-3; a gradient that
   * passes within the bound is one the rows reproduce to rounding. Cost g·a·PROBES ("probes") or g·a.
   */
  private isStatisticsGradient(grad: Float64Array, off: number, k: number): boolean {
    const { aDim: a, gDim: g } = this.dims;
    const f32 = this.precision === "float32";
    let x: Float64Array = grad;
    let xOff = off;
    let size = g * a;
    let want: FloatArray = f32 ? this.mean32 : this.mean64;
    if (this.probed) {
      size = g * PROBES;
      xOff = 0;
      want = f32 ? this.sharedProbe32 : this.sharedProbe64;
      if (f32) {
        // ∇V in float32 from ∇ rounded into x32 (the rotation workspace, free on the shared path):
        // rounding moves ∇V by ≈ 1e-7 relative, far inside the 1e-4 test; reading float64 ∇ into the
        // float64 product cost ≈ 0.4 ms per large layer, this ≈ 0.23.
        this.rotationWorkspace();
        roundFlushed32(grad, off, this.x32, g * a);
        this.gradProbe32 = ensure32(this.gradProbe32, size);
        gemmStrided(
          false,
          false,
          g,
          PROBES,
          a,
          1,
          this.x32,
          0,
          a,
          this.probe32,
          0,
          PROBES,
          0,
          this.gradProbe32,
          0,
          PROBES,
        );
        return this.matches(this.gradProbe32, 0, want, k * size, size);
      }
      this.gradProbe = x = ensure(this.gradProbe, size);
      gemmStrided(false, false, g, PROBES, a, 1, grad, off, a, this.probe64, 0, PROBES, 0, x, 0, PROBES);
    }
    return this.matches(x, xOff, want, k * size, size);
  }

  /** ‖x − want‖² ≤ 1e-8·‖x‖² over `size` entries (x at xOff, want at wOff), and x finite. */
  private matches(x: FloatArray, xOff: number, want: FloatArray, wOff: number, size: number): boolean {
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < size; i++) {
      const v = x[xOff + i] as number;
      const d = v - (want[wOff + i] as number);
      diff += d * d;
      norm += v * v;
    }
    // NaN or ±∞ anywhere is never the statistics' gradient: rotated as usual, and the transform
    // refuses the step (an infinite ∇ would otherwise pass as ∞ ≤ ∞).
    return Number.isFinite(norm) && diff <= 1e-8 * norm;
  }

  /**
   * Float32 statistics: the captured arrays themselves when float32 with no entry below FLUSH32, else
   * rounded and flushed copies in workspaces (internal/stats.ts; the model's arrays stay as they are).
   */
  private float32Statistics(stats: LayerBatch, rows: number): [Float32Array, Float32Array] {
    const { aDim: a, gDim: g, groups } = this.dims;
    const na = groups * rows * a;
    const ng = groups * rows * g;
    const aData = readFlushed32(stats.a, na, this.wsA32);
    if (aData !== stats.a) this.wsA32 = aData;
    const gData = readFlushed32(stats.g, ng, this.wsG32);
    if (gData !== stats.g) this.wsG32 = gData;
    return [aData, gData];
  }

  /**
   * Rounds the float64 bases to float32 once per change (refresh, bindState, restore), entries below
   * FLUSH32 stored as 0 (see the header, "Precision").
   */
  private float32Basis(): void {
    if (this.basis32Fresh) return;
    const st = this.state;
    this.uA32 = ensure32(this.uA32, st.uA.length);
    this.uG32 = ensure32(this.uG32, st.uG.length);
    roundFlushed32(st.uA, 0, this.uA32, st.uA.length);
    roundFlushed32(st.uG, 0, this.uG32, st.uG.length);
    const { aDim: a, gDim: g, groups } = this.dims;
    for (let k = 0; k < groups; k++) {
      resetRotation(this.rotA32, k, this.uA32, a);
      resetRotation(this.rotG32, k, this.uG32, g);
    }
    this.basis32Fresh = true;
  }

  /** Reads the state's float64 bases into the float64 products once per change (as `float32Basis`). */
  private float64Basis(): void {
    if (this.basis64Fresh) return;
    const st = this.state;
    const { aDim: a, gDim: g, groups } = this.dims;
    for (let k = 0; k < groups; k++) {
      resetRotation(this.rotA64, k, st.uA, a);
      resetRotation(this.rotG64, k, st.uG, g);
    }
    this.basis64Fresh = true;
  }

  /** Group k's float32 product (ready after `float32Basis`). */
  private rotation32(list: BasisRotation<Float32Array>[], k: number): BasisRotation<Float32Array> {
    return list[k] as BasisRotation<Float32Array>;
  }

  /** Group k's float64 product (ready after `float64Basis`). */
  private rotation64(list: BasisRotation<Float64Array>[], k: number): BasisRotation<Float64Array> {
    return list[k] as BasisRotation<Float64Array>;
  }

  /**
   * EKFAC "ra" (MATH.md §8): S ← α S + (1−α) N (U_Gᵀ ∇ U_A)² from the minibatch gradient `grad`
   * (W̄ layout) of a batch of `batchSize` examples; the first update after a basis change overwrites
   * S. No-op for KFAC.
   */
  updateScalingFromGradient(grad: Float64Array, batchSize: number): void {
    if (this.approximation !== "ekfac") return;
    const { aDim: a, gDim: g, groups } = this.dims;
    const st = this.state;
    const ga = g * a;
    const alpha = st.scalingUpdates === 0 ? 0 : this.scalingDecay;
    for (let k = 0; k < groups; k++) {
      const off = k * ga;
      const r2 = this.rotateIn(grad, off, k);
      for (let i = 0; i < ga; i++) {
        const v = r2[i] as number;
        st.S[off + i] = alpha * (st.S[off + i] as number) + (1 - alpha) * batchSize * v * v;
      }
    }
    st.scalingUpdates++;
  }

  /**
   * U_Gᵀ grad_k U_A for group k, in the block's precision: returns the workspace holding it (rot2 or
   * r2f; rot1/r1f are scratch, and the float32 path leaves grad_k rounded in x32).
   */
  private rotateIn(grad: Float64Array, off: number, k: number): FloatArray {
    const { aDim: a, gDim: g } = this.dims;
    const ga = g * a;
    this.rotationWorkspace();
    if (this.precision === "float32") {
      roundFlushed32(grad, off, this.x32, ga);
      this.rotation32(this.rotG32, k).left(this.x32, 0, a, this.r1f, 0, true);
      flushTiny32(this.r1f, ga);
      this.rotation32(this.rotA32, k).right(this.r1f, 0, g, this.r2f, 0, false);
      return this.r2f;
    }
    this.rotation64(this.rotG64, k).left(grad, off, a, this.rot1, 0, true);
    this.rotation64(this.rotA64, k).right(this.rot1, 0, g, this.rot2, 0, false);
    return this.rot2;
  }

  private ensureScalingWorkspace(strategy: ScalingStrategy, n: number, t: number): void {
    const { aDim: a, gDim: g } = this.dims;
    const rowsSize = scalingRowsSize(strategy, n, t, a, g);
    if (this.precision === "float32") {
      const ws = this.scalingWs32;
      ws.rows = ensure32(ws.rows, rowsSize);
      ws.m1 = ensure32(ws.m1, g * a);
      ws.m2 = ensure32(ws.m2, g * a);
      this.sBatch32 = ensure32(this.sBatch32, this.dims.groups * g * a);
      return;
    }
    const ws = this.scalingWs;
    ws.rows = ensure(ws.rows, rowsSize);
    ws.m1 = ensure(ws.m1, g * a);
    ws.m2 = ensure(ws.m2, g * a);
    this.sBatch = ensure(this.sBatch, this.dims.groups * g * a);
  }

  /** π of factored Tikhonov damping for group k (Martens & Grosse §6.3), from the eigenvalues. */
  pi(k: number): number {
    const { aDim: a, gDim: g } = this.dims;
    let trA = 0;
    let trG = 0;
    for (let i = 0; i < a; i++) trA += this.state.lambdaA[k * a + i] as number;
    for (let i = 0; i < g; i++) trG += this.state.lambdaG[k * g + i] as number;
    if (!(trA > 0) || !(trG > 0)) return 1;
    return Math.sqrt(trA / a / (trG / g));
  }

  /**
   * out = Q diag(vec S + ε)⁻¹ Qᵀ grad per group (see header for KFAC's two damping rules).
   * `grad` and `out` are groups × gDim × aDim row-major (W̄'s layout); they may be the same array.
   * Pure: reads the state, writes only `out` (and workspaces; `fromRows` and `rowsDot` report how).
   */
  precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    return this.preconditionFrom(grad, out, damping, false);
  }

  /** Whether the next `precondition` can take the rotated gradient from S*'s rows (see the header). */
  get sharedRowsReady(): boolean {
    return this.sharedReady;
  }

  /**
   * `precondition` for a gradient the optimizer did not form (`ParameterRef.gradFromRows`): exactly
   * (1/N) rᵀā of the rows S* was just built from (`sharedRowsReady` must be true), so the rotated
   * gradient is theirs, unchecked, and `grad` is not read. Cost: precondition's, less the check.
   */
  preconditionFromRows(out: Float64Array, damping: number): Float64Array {
    if (!this.sharedReady) {
      throw new Error(
        `${this.fnPrecondition}: no shared rows to form the gradient from (S* was not re-estimated with them on this step)`,
      );
    }
    return this.preconditionFrom(out, out, damping, true);
  }

  /**
   * Whether the last direction took every group's rotated gradient from S*'s rows — after the check
   * (`precondition`) or as given (`preconditionFromRows`). Then `rowsDot` is its ⟨out, ∇⟩, formed in
   * the basis as ⟨R ⊘ (S + ε), R⟩ with R = U_Gᵀ∇U_A (orthogonal U: ⟨U_G X U_Aᵀ, ∇⟩ = ⟨X, R⟩; NaN if a
   * term was not finite), which the optimizer reads instead of a dot with ∇, so that its step is the
   * same, bit for bit, whether or not ∇ was ever formed. One more pass over g·a.
   */
  fromRows = false;
  /** ⟨out, ∇⟩ of the last direction when `fromRows` (else 0). */
  rowsDot = 0;

  private preconditionFrom(grad: Float64Array, out: Float64Array, damping: number, fromRows: boolean): Float64Array {
    const fn = this.fnPrecondition;
    const { aDim: a, gDim: g, groups, size } = this.dims;
    if (grad.length !== size || out.length !== size) {
      throw new RangeError(
        `${fn}: grad and out must have outDim·aDim = ${size} elements (got ${grad.length}, ${out.length})`,
      );
    }
    checkPositive(fn, "damping", damping);
    const ga = g * a;
    const f32 = this.precision === "float32";
    const shared = this.sharedReady;
    this.sharedReady = false;
    let dot = 0;
    let allShared = true;
    for (let k = 0; k < groups; k++) {
      const off = k * ga;
      // The rotated gradient: S*'s shared rows (read in place) or rotated here into the workspace.
      const fromShared = shared && (fromRows || this.isStatisticsGradient(grad, off, k));
      if (fromShared) this.sharedRotations++;
      else allShared = false;
      const rotated = fromShared ? this.sharedRows() : this.rotateIn(grad, off, k);
      const rotatedOff = fromShared ? k * ga : 0;
      // Divided by the damped scaling into the workspace the rotation out reads, in one pass (float32:
      // stored flushed, as every operand the block forms — see "Precision").
      const divided = f32 ? this.r2f : this.rot2;
      this.divideInBasis(rotated, rotatedOff, divided, k, damping, f32 ? FLUSH32 : 0);
      if (fromShared) dot = checkedDot(divided, 0, rotated, rotatedOff, ga, dot);
      if (f32) {
        // Out of the basis into x32 (grad_k's copy, no longer needed), then widened into out.
        const x = this.x32;
        this.rotation32(this.rotG32, k).left(this.r2f, 0, a, this.r1f, 0, false);
        flushTiny32(this.r1f, ga);
        this.rotation32(this.rotA32, k).right(this.r1f, 0, g, x, 0, true);
        convertRowsInto(x, 0, ga, out, off, ga, 1, ga);
      } else {
        this.rotation64(this.rotG64, k).left(this.rot2, 0, a, this.rot1, 0, false);
        this.rotation64(this.rotA64, k).right(this.rot1, 0, g, out, off, true);
      }
    }
    this.fromRows = allShared;
    this.rowsDot = allShared ? dot : 0;
    return out;
  }

  /**
   * The shared (1/N) G̃ᵀÃ of every group (group k at k·g·a), with the workspaces `precondition` writes
   * sized as `rotateIn` would have sized them.
   */
  private sharedRows(): FloatArray {
    this.rotationWorkspace();
    return this.precision === "float32" ? this.shared32 : this.shared64;
  }

  /** Sizes the rotations' workspaces (float32: also the bases' float32 copies) for one group's g × a. */
  private rotationWorkspace(): void {
    const ga = this.dims.gDim * this.dims.aDim;
    if (this.precision === "float32") {
      this.float32Basis();
      this.x32 = ensure32(this.x32, ga);
      this.r1f = ensure32(this.r1f, ga);
      this.r2f = ensure32(this.r2f, ga);
      return;
    }
    this.float64Basis();
    this.rot1 = ensure(this.rot1, ga);
    this.rot2 = ensure(this.rot2, ga);
  }

  /**
   * out ← r ⊘ (S + ε) (EKFAC) or ⊘ KFAC's damped λ_G λ_Aᵀ, for group k (r read from rOff, g × a; out
   * may be r itself at rOff = 0). Quotients of magnitude below `flush` are stored as 0 (FLUSH32 for a
   * float32 out, 0 for none).
   */
  private divideInBasis(r: FloatArray, rOff: number, out: FloatArray, k: number, damping: number, flush: number): void {
    const { aDim: a, gDim: g } = this.dims;
    const st = this.state;
    const ga = g * a;
    if (this.approximation === "ekfac") {
      quotientFlushedInto(r, rOff, st.S, k * ga, damping, out, 0, ga, flush);
      return;
    }
    const tikhonov = this.kfacDamping === "factored-tikhonov";
    const sqrtEps = Math.sqrt(damping);
    const p = tikhonov ? this.pi(k) : 1;
    const cG = tikhonov ? sqrtEps / p : 0;
    const cA = tikhonov ? p * sqrtEps : 0;
    const add = tikhonov ? 0 : damping;
    quotientOuterFlushedInto(r, rOff, st.lambdaG, k * g, st.lambdaA, k * a, out, 0, g, a, cG, cA, add, flush);
  }

  /**
   * out[n] += ∇ℓ_nᵀ (F̂ + εI)⁻¹ ∇ℓ_n for every example n of a batch: the squared norms, in the metric of
   * the block's own preconditioner at damping ε, of the examples' gradients ∇ℓ_n = Σ_t g_{n,t} ā_{n,t}ᵀ
   * (per group), with `a` and `g` in the layout of `LayerStatistics` (g scaled by N, so that ∇ℓ_n is the
   * n-th example's own gradient); with factored Tikhonov damping the metric is that of its damped
   * factors, (G + (√ε/π)I)⁻¹ ⊗ (A + π√ε I)⁻¹, which `precondition` applies. In the eigenbasis, with
   * G̃ = g U_G and Ã = ā U_A and s + ε the quotients `precondition` divides by (S + ε, λ_G λ_Aᵀ + ε or
   * factored Tikhonov's product):
   *
   *   ‖∇ℓ_n‖²_P = Σ_ij (Σ_t G̃_{n,t,i} Ã_{n,t,j})² / (s_ij + ε)
   *
   * For the gradient-noise estimate of adaptive step control (optim/curvature.ts, MATH.md §11). Float64
   * on the float64 bases, whatever the block's precision. With `stride` s > 1 only the examples
   * 0, s, 2s, … are taken, M = ⌈N/s⌉ of them: out[m] += the norm of example m·s (their rows are gathered
   * into the float64 workspace, M·T·(a + g) copies). Cost per group, with M examples: M·T·(a² + g²)
   * for the rotations, then M·g·a (T = 1: one product (G̃∘G̃)·W) or M·T·g·a (T > 1: one g × a product
   * per example). Nothing is allocated once the workspaces have reached the batch's size.
   */
  examplePreconditionedNorms(
    a: FloatArray,
    g: FloatArray,
    batchSize: number,
    positions: number,
    damping: number,
    out: Float64Array,
    stride = 1,
  ): Float64Array {
    const fn = this.fnNorms;
    const { aDim, gDim, groups } = this.dims;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`${fn}: batchSize must be a positive integer (got ${batchSize})`);
    }
    if (!Number.isInteger(positions) || positions < 1) {
      throw new RangeError(`${fn}: positions must be a positive integer (got ${positions})`);
    }
    checkPositive(fn, "damping", damping);
    if (!Number.isInteger(stride) || stride < 1) {
      throw new RangeError(`${fn}: stride must be a positive integer (got ${stride})`);
    }
    checkRowArray(fn, "a", a, groups * batchSize * positions * aDim);
    checkRowArray(fn, "g", g, groups * batchSize * positions * gDim);
    const examples = Math.ceil(batchSize / stride);
    if (!(out instanceof Float64Array) || out.length < examples) {
      throw new RangeError(`${fn}: out must be a Float64Array of length ≥ ${examples}`);
    }
    const rows = examples * positions;
    const ga = gDim * aDim;
    this.normA = ensure(this.normA, rows * aDim);
    this.normG = ensure(this.normG, rows * gDim);
    this.normW = ensure(this.normW, ga);
    this.normM = ensure(this.normM, positions === 1 ? rows * aDim : ga);
    this.normOnes = ensure(this.normOnes, ga);
    this.normOnes.fill(1, 0, ga);
    // Float32 rows are widened first (asFloat64 keeps float64 ones as they are); a stride gathers.
    let a64: Float64Array;
    let g64: Float64Array;
    if (stride === 1) {
      if (!(a instanceof Float64Array)) this.normRowsA = ensure(this.normRowsA, a.length);
      if (!(g instanceof Float64Array)) this.normRowsG = ensure(this.normRowsG, g.length);
      a64 = asFloat64(a, this.normRowsA);
      g64 = asFloat64(g, this.normRowsG);
    } else {
      a64 = this.normRowsA = ensure(this.normRowsA, groups * rows * aDim);
      g64 = this.normRowsG = ensure(this.normRowsG, groups * rows * gDim);
      gatherExamples(a, a64, groups, batchSize, examples, stride, positions * aDim);
      gatherExamples(g, g64, groups, batchSize, examples, stride, positions * gDim);
    }
    const at = this.normA;
    const gt = this.normG;
    const w = this.normW;
    this.float64Basis();
    const m = this.normM;
    for (let k = 0; k < groups; k++) {
      // Ã = ā U_A and G̃ = g U_G for group k.
      this.rotation64(this.rotA64, k).right(a64, k * rows * aDim, rows, at, 0, false);
      this.rotation64(this.rotG64, k).right(g64, k * rows * gDim, rows, gt, 0, false);
      // W = 1 ⊘ (s + ε), the very quotients `precondition` divides by.
      this.divideInBasis(this.normOnes, 0, w, k, damping, 0);
      if (positions === 1) {
        // ‖G̃_n Ã_nᵀ‖²_W = Σ_j Ã_nj² (G̃_n∘G̃_n)ᵀ W_·j: one product (G̃∘G̃) W, then row dots with Ã∘Ã.
        for (let i = 0; i < rows * gDim; i++) gt[i] = (gt[i] as number) * (gt[i] as number);
        gemmStrided(false, false, rows, aDim, gDim, 1, gt, 0, gDim, w, 0, aDim, 0, m, 0, aDim);
        for (let r = 0; r < rows; r++) {
          let s = 0;
          const off = r * aDim;
          for (let j = 0; j < aDim; j++) {
            const x = at[off + j] as number;
            s += (m[off + j] as number) * x * x;
          }
          out[r] = (out[r] as number) + s;
        }
        continue;
      }
      // T > 1: the example's rotated gradient Σ_t G̃_{n,t} Ã_{n,t}ᵀ (g × a), then its W-weighted square.
      for (let e = 0; e < examples; e++) {
        const rg = e * positions * gDim;
        const ra = e * positions * aDim;
        gemmStrided(true, false, gDim, aDim, positions, 1, gt, rg, gDim, at, ra, aDim, 0, m, 0, aDim);
        let s = 0;
        for (let i = 0; i < ga; i++) {
          const x = m[i] as number;
          s += x * x * (w[i] as number);
        }
        out[e] = (out[e] as number) + s;
      }
    }
    return out;
  }

  /**
   * The scaling in the eigenbasis, groups × g × a: S for EKFAC, λ_G λ_Aᵀ for KFAC (undamped).
   * Allocates; for diagnostics and tests.
   */
  eigenScaling(): Float64Array {
    const { aDim: a, gDim: g, groups } = this.dims;
    if (this.approximation === "ekfac") return this.state.S.slice();
    const s = new Float64Array(groups * g * a);
    for (let k = 0; k < groups; k++) {
      for (let i = 0; i < g; i++) {
        for (let j = 0; j < a; j++)
          s[k * g * a + i * a + j] =
            (this.state.lambdaG[k * g + i] as number) * (this.state.lambdaA[k * a + j] as number);
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
                (this.state.uG[k * g * g + i * g + c] as number) * (this.state.uA[k * a * a + j * a + d] as number);
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
}

/**
 * Examples 0, s, 2s, … of `x` (layout [group][example][per], `per` = T·dim values per example) into
 * `out` (layout [group][m][per], m < `examples`), widened to float64.
 */
function gatherExamples(
  x: FloatArray,
  out: Float64Array,
  groups: number,
  batchSize: number,
  examples: number,
  stride: number,
  per: number,
): void {
  for (let k = 0; k < groups; k++) {
    for (let m = 0; m < examples; m++) {
      const from = (k * batchSize + m * stride) * per;
      const to = (k * examples + m) * per;
      for (let i = 0; i < per; i++) out[to + i] = x[from + i] as number;
    }
  }
}

/** Group k's product with its n × n basis in `u` (made at first use), re-read from u. */
function resetRotation<T extends FloatArray>(list: BasisRotation<T>[], k: number, u: T, n: number): void {
  let rot = list[k];
  if (rot === undefined) {
    rot = new BasisRotation(u);
    list[k] = rot;
  }
  rot.reset(u, k * n * n, n);
}

function setIdentity(u: Float64Array, n: number, groups: number): void {
  u.fill(0);
  for (let k = 0; k < groups; k++) for (let i = 0; i < n; i++) u[k * n * n + i * n + i] = 1;
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

/** A row array of the statistics' layout: float32 or float64, `expected` values. */
function checkRowArray(fn: string, name: string, v: unknown, expected: number): void {
  if (!(v instanceof Float32Array || v instanceof Float64Array)) {
    throw new TypeError(`${fn}: ${name} must be a Float32Array or Float64Array`);
  }
  if (v.length !== expected) throw new RangeError(`${fn}: ${name} must hold ${expected} values (got ${v.length})`);
}
