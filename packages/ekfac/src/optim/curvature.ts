/**
 * Curvature as ONE gradient transformation (optax style, transform.ts): `curvature(model, options)`
 * turns the gradients into preconditioned directions Δ = (F̂ + εI)⁻¹ ∇, parameter block by parameter
 * block, and optionally KL-clips them. The aliases `kfac`, `ekfac`, `diagonalFisher` (aliases.ts) put
 * it first in a chain: curvature → momentum → learning rate, run by the one `Optimizer`.
 *
 * Blocks (all behind `CurvatureBlock`, curvature/block.ts; the transform never asks their kind):
 *   - every curvature layer (dense / conv2d): KFAC (Martens & Grosse 2015; KFC for conv, Grosse &
 *     Martens 2016), EKFAC (George et al. 2018, Algorithm 1) or the layer's diagonal Fisher;
 *   - every scale-shift layer (BatchNorm): the per-channel 2×2 Fisher (curvature/scale-shift.ts);
 *   - every other parameter: the diagonal fallback (curvature/parameter-diagonal.ts; its estimator and
 *     bias are stated there) or, with `otherParameters: "first-order"`, the raw gradient.
 *
 * One update at step k (k = steps this transform has completed; refused steps do not count):
 *   1. statistics steps (see `wantsStatistics`): read every layer's captured statistics; refuse with an
 *      Error when one is missing, was captured for another Fisher than `fisher`, or is the same pass as
 *      last time (stale, unless `reuseStatistics`); if any holds NaN/±Inf, REFUSE the step (return
 *      false: nothing absorbed, nothing after this transform runs, the parameters stay bit-unchanged);
 *   2. kfac/ekfac: every `factorsEvery` steps A, G ← moving averages; every `basisEvery` = T_kfe steps
 *      (counted globally from the first step, k % T_kfe = 0, so at k = 0 too) the eigenbases;
 *      ekfac "batch": S ← moving average of S* every `scalingEvery` = T_s steps (counted globally,
 *      k % T_s = 0) and always right after a new basis (restarted there); ekfac "ra": S from the
 *      minibatch gradient on the T_s steps between bases, same decay `scalingDecay`, N read from THIS
 *      step's statistics (so "ra" steps capture too). diagonal: D every T_s steps;
 *   3. Δ_b = (F̂_b + εI)⁻¹ ∇_b per block (pure); if any entry of Δ is NaN/±Inf, REFUSE the step (the
 *      statistics of 2 stay absorbed; the next step retries with them);
 *   4. KL-clipping (Ba, Grosse & Martens 2017 §5, kl-clip.ts): Δ ← ν Δ, ν = min(1, sqrt(κ/(η_k² Σ Δᵀ∇))),
 *      on the preconditioned direction BEFORE momentum, η_k the learning rate the chain's
 *      `scaleByLearningRate` uses at this step (the same number or schedule, evaluated at k);
 *   5. tell the model what to capture for step k + 1: `model.setCapture(wanted, { fisher, seed: seed + k + 1 })`
 *      (also done by `init` for step 0 and after a restore for the restored step).
 *
 * State (plain data, saved and restored by optim/state.ts): the counters, the last consumed pass per
 * statistics source, and every block's record keyed "name/kind" — so restoring a state of another
 * model, approximation or shape fails on the keys and lengths before anything is written. The options
 * are not state: they are the transform's configuration.
 *
 * Cost per step: the blocks' (see kronecker-block.ts, scale-shift.ts) plus O(P) packing; after the first
 * step (warm-up) no typed array is allocated outside the eigendecompositions.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import type {
  CurvatureLayer,
  CurvatureModel,
  FisherMode,
  LayerStatistics,
  ParameterRef,
  ScaleShiftLayer,
  ScaleShiftStatistics,
} from "../capture.ts";
import type { BlockState, CurvatureBlock } from "../curvature/block.ts";
import { DiagonalFisher } from "../curvature/diagonal.ts";
import { klScaleFromDot } from "../curvature/kl-clip.ts";
import {
  checkDamping,
  type KfacDamping,
  KroneckerBlock,
  type RotationPrecision,
} from "../curvature/kronecker-block.ts";
import { ParameterDiagonalFisher } from "../curvature/parameter-diagonal.ts";
import { ScaleShiftBlock } from "../curvature/scale-shift.ts";
import { allFinite, layerShape } from "../internal/stats.ts";
import { checkCount, checkDecay, checkParamList, checkPositive } from "./checks.ts";
import type { Schedule } from "./schedules.ts";
import type { GradientTransformation, Params, SkipReason, TransformReport } from "./transform.ts";

/**
 * Which curvature the transform preconditions with: KFAC (KFC for conv), EKFAC or the layers' diagonal Fisher.
 */
export type CurvatureApproximation = "kfac" | "ekfac" | "diagonal";

/** Options of the curvature transform (and of the `kfac`/`ekfac`/`diagonalFisher` aliases). */
export interface CurvatureOptions {
  /**
   * ε > 0 added to the curvature: to every eigenvalue of F̂ (KFAC "eigenbasis", EKFAC, diagonal,
   * scale-shift, fallback) or split over the factors (KFAC "factored-tikhonov"). Absolute, in the units
   * of F's eigenvalues (per-example gradients of the mean loss). Default 0.1: the scale of the
   * per-example Fisher of an O(1) loss (a mean negative log-likelihood, inputs of unit scale), where
   * the true Fisher's top eigenvalues are O(1) — 0.1 keeps the step within an order of magnitude of the
   * undamped natural gradient along them and bounded along the many near-zero directions. Measured on
   * the 784-64-10 MNIST classifier (bench suite `classifier`): 1e-3 let 7 of 10 KFAC/EKFAC runs spike
   * above their initial loss; 0.1 none. A loss summed over many outputs has proportionally larger
   * eigenvalues and tolerates a smaller ε relative to them. (Adaptive damping, Martens & Grosse 2015
   * §6.5, removes this choice: MATH.md §11.)
   */
  readonly damping?: number;
  /** Which Fisher the model must capture ("true": sampled targets; see capture.ts). Default "true". */
  readonly fisher?: FisherMode;
  /** Base seed of the model's target sampler: step k's pass uses seed + k. Integer ≥ 0, default 0. */
  readonly seed?: number;
  /** Accept statistics of the same captured pass twice in a row (otherwise an Error). Default false. */
  readonly reuseStatistics?: boolean;
  /** kfac/ekfac: steps between factor updates, counted globally (k % factorsEvery = 0). Default 1. */
  readonly factorsEvery?: number;
  /** kfac/ekfac: T_kfe, steps between eigendecompositions, counted globally (k % T_kfe = 0). Default 20. */
  readonly basisEvery?: number;
  /**
   * ekfac, diagonal: T_s, steps between re-estimates of S* (ekfac) or of D (diagonal), counted
   * globally (k % T_s = 0, not from the last basis refresh); ekfac also re-estimates right after every
   * new basis. Default 1.
   */
  readonly scalingEvery?: number;
  /** kfac/ekfac: moving-average decay ρ of A and G (and of the scale-shift and fallback blocks). Default 0.95. */
  readonly factorDecay?: number;
  /** ekfac: decay of S ("batch" and "ra"); diagonal: decay of D (and of the other blocks). Default 0.95. */
  readonly scalingDecay?: number;
  /** ekfac: "batch" (per-example S*, George et al. Alg. 1) or "ra" (S from minibatch gradients on the
   *  T_s steps between bases). Default "batch". */
  readonly scaling?: "batch" | "ra";
  /** kfac: "eigenbasis" (exact (G⊗A + εI)⁻¹) or "factored-tikhonov" (Martens & Grosse §6.3). Default "eigenbasis". */
  readonly kfacDamping?: KfacDamping;
  /**
   * kfac/ekfac: arithmetic of the per-step rotations into and out of the eigenbasis (the direction
   * and ekfac's S* rows): "float32" on float32 copies of the float64 bases (bases, factors, S and
   * the eigendecompositions stay float64), or "float64". The float32 direction is within 1e-4
   * relative of the float64 one when (max S + ε)/(min S + ε) ≤ 100 (law ekfac.precondition.float32);
   * on ill-conditioned layers the two differ in the directions of the smallest S + ε. Default "float32".
   */
  readonly precision?: RotationPrecision;
  /** Parameters outside every curvature and scale-shift layer: "diagonal-fisher" (default, see
   *  curvature/parameter-diagonal.ts) or "first-order" (their raw gradient, an explicit choice).
   *  The fallback, like "ra", needs the number of real examples, so with fisher "exact" (which presents
   *  N·C pseudo-examples) both are a RangeError. */
  readonly otherParameters?: "diagonal-fisher" | "first-order";
  /** KL-clipping: κ > 0 and the learning rate η (number or schedule) of the chain, or null (none).
   *  The aliases fill it from their own options so the learning rate is given once. Default null. */
  readonly klClip?: {
    /** κ > 0, the bound on the step's KL change. */
    readonly kappa: number;
    /** The chain's learning rate η (number or schedule of completed steps). */
    readonly learningRate: number | Schedule;
  } | null;
}

/** Which parameter each block covers (for logs: `describeCurvature`). */
export interface ParameterPlan {
  /** The parameter's name. */
  readonly name: string;
  /** The block's key ("layer/kind") or null for the first-order rule. */
  readonly block: string | null;
  /** The rule that produces the parameter's direction, in words (for logs). */
  readonly rule: string;
}

/**
 * The curvature transform's plain-data state: step counters, consumed passes, the last update's details and
 * every block's state.
 */
export type CurvatureState = {
  /** Steps completed (refused steps not counted). */
  step: number;
  /** Steps on which the bases were refreshed, and eigendecompositions that failed, in total. */
  basisRefreshes: number;
  /** Eigendecompositions that failed numerically, in total (their previous basis was kept). */
  basisFailures: number;
  /** Steps refused for non-finite statistics or a non-finite update. */
  refused: number;
  /** Per statistics source (curvature layers, then scale-shift layers): the last pass consumed, −1 none. */
  passes: Float64Array;
  /** The last update: refreshed (0/1), failures, ν, refusal (0 none, 1 statistics, 2 update). */
  last: {
    /** 1 when the last update refreshed the bases, else 0. */
    refreshed: number;
    /** Eigendecompositions of the last update that failed. */
    failures: number;
    /** KL-clipping factor ν of the last update. */
    klScale: number;
    /** 0 applied, 1 refused for statistics, 2 refused for the update. */
    refusal: number;
  };
  /** Every block's state, keyed "name/kind". */
  blocks: { [key: string]: BlockState };
};

/** The transform, with what it knows about the model. */
export interface CurvatureTransform extends GradientTransformation<CurvatureState> {
  /** The approximation every curvature layer's block uses. */
  readonly approximation: CurvatureApproximation;
  /** The Fisher the transform asks the model to capture. */
  readonly fisher: FisherMode;
  /** ε added to the curvature (see `CurvatureOptions.damping`). */
  readonly damping: number;
  /** The model's parameters, in the order the transform expects its updates. */
  readonly parameters: readonly ParameterRef[];
  /** The blocks in order, with their keys. */
  readonly blocks: readonly {
    /** "name/kind": the key of the block's state in `CurvatureState.blocks`. */
    readonly key: string;
    /** The block itself. */
    readonly block: CurvatureBlock;
  }[];
  /** Which block (or rule) produces each parameter's direction, in parameter order. */
  readonly plan: readonly ParameterPlan[];
  /** Whether step `state.step` reads captured statistics (the capture the transform requested). */
  wantsStatistics(state: CurvatureState): boolean;
}

/** Options each approximation ignores: setting one is a RangeError, not silence. */
const IGNORED: Record<CurvatureApproximation, readonly (keyof CurvatureOptions)[]> = {
  kfac: ["scalingEvery", "scalingDecay", "scaling"],
  ekfac: ["kfacDamping"],
  diagonal: ["factorsEvery", "basisEvery", "factorDecay", "scaling", "kfacDamping", "precision"],
};

interface Slot {
  readonly key: string;
  readonly block: CurvatureBlock;
  readonly grad: Float64Array;
  readonly dir: Float64Array;
  /** Copies the parameters' entries of `src` into `grad` (the block's layout). */
  pack(src: Params): void;
  /** Writes `dir` into the parameters' entries of `dst`. */
  unpack(dst: Params): void;
  /** Statistics source index (into `passes`) or −1 (fallback blocks). */
  readonly source: number;
  /** Checks a captured batch against the block's shape (throws); returns whether it is all finite. */
  check(fn: string, s: LayerStatistics | ScaleShiftStatistics): boolean;
}

function checkEvery(fn: string, name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`${fn}: ${name} must be an integer ≥ 1 (got ${String(v)})`);
  }
  return v;
}

function isModel(m: unknown): m is CurvatureModel {
  const x = m as CurvatureModel;
  return (
    x !== null &&
    typeof x === "object" &&
    typeof x.curvatureLayers === "function" &&
    typeof x.parameters === "function" &&
    typeof x.setCapture === "function"
  );
}

/** The curvature transform of `model` (see the header). `fn` names the caller in error messages. */
export function curvature(
  model: CurvatureModel,
  approximation: CurvatureApproximation,
  options: CurvatureOptions = {},
  fn = "curvature",
): CurvatureTransform {
  if (!isModel(model)) {
    throw new TypeError(`${fn}: model must implement CurvatureModel (curvatureLayers, parameters, setCapture)`);
  }
  if (approximation !== "kfac" && approximation !== "ekfac" && approximation !== "diagonal") {
    throw new TypeError(`${fn}: approximation must be "kfac", "ekfac" or "diagonal" (got ${String(approximation)})`);
  }
  if (options === null || typeof options !== "object") throw new TypeError(`${fn}: options must be an object`);
  for (const key of IGNORED[approximation]) {
    if (options[key] !== undefined) {
      throw new RangeError(
        `${fn}: options.${key} has no effect on ${approximation} (it would be ignored); remove it or choose an approximation that uses it`,
      );
    }
  }
  const damping = options.damping ?? 0.1;
  checkDamping(fn, damping);
  const fisher = options.fisher ?? "true";
  if (fisher !== "true" && fisher !== "empirical" && fisher !== "exact") {
    throw new TypeError(`${fn}: options.fisher must be "true", "empirical" or "exact" (got ${String(fisher)})`);
  }
  const seed = options.seed ?? 0;
  checkCount(fn, "options.seed", seed);
  const reuse = options.reuseStatistics ?? false;
  if (typeof reuse !== "boolean") throw new TypeError(`${fn}: options.reuseStatistics must be a boolean`);
  const factorsEvery = checkEvery(fn, "options.factorsEvery", options.factorsEvery ?? 1);
  const basisEvery = checkEvery(fn, "options.basisEvery (T_kfe)", options.basisEvery ?? 20);
  const scalingEvery = checkEvery(fn, "options.scalingEvery (T_s)", options.scalingEvery ?? 1);
  const factorDecay = options.factorDecay ?? 0.95;
  const scalingDecay = options.scalingDecay ?? 0.95;
  checkDecay(fn, "options.factorDecay", factorDecay);
  checkDecay(fn, "options.scalingDecay", scalingDecay);
  const scalingMode = options.scaling ?? "batch";
  if (scalingMode !== "batch" && scalingMode !== "ra") {
    throw new TypeError(`${fn}: options.scaling must be "batch" or "ra" (got ${String(scalingMode)})`);
  }
  const others = options.otherParameters ?? "diagonal-fisher";
  if (others !== "diagonal-fisher" && others !== "first-order") {
    throw new TypeError(
      `${fn}: options.otherParameters must be "diagonal-fisher" or "first-order" (got ${String(others)})`,
    );
  }
  const kl = options.klClip ?? null;
  if (kl !== null) {
    if (typeof kl !== "object") throw new TypeError(`${fn}: options.klClip must be { kappa, learningRate } or null`);
    checkPositive(fn, "options.klClip.kappa", kl.kappa);
    if (typeof kl.learningRate !== "function") checkPositive(fn, "options.klClip.learningRate", kl.learningRate);
  }
  const otherDecay = approximation === "diagonal" ? scalingDecay : factorDecay;

  const parameters = [...model.parameters()];
  const index = new Map<FloatArray, number>();
  parameters.forEach((p, i) => {
    if (index.has(p.value))
      throw new RangeError(`${fn}: parameter ${p.name} shares its value buffer with another parameter`);
    index.set(p.value, i);
  });
  const covered = parameters.map(() => false);
  const claim = (owner: string, ref: ParameterRef, expected: number): number => {
    const i = index.get(ref.value);
    if (i === undefined) throw new RangeError(`${fn}: ${owner}: parameter ${ref.name} is not among model.parameters()`);
    if (covered[i]) throw new RangeError(`${fn}: parameter ${ref.name} belongs to two curvature blocks`);
    if (ref.value.length !== expected) {
      throw new RangeError(
        `${fn}: ${owner}: parameter ${ref.name} has ${ref.value.length} values, expected ${expected}`,
      );
    }
    covered[i] = true;
    return i;
  };

  const layers: readonly CurvatureLayer[] = [...model.curvatureLayers()];
  const scaleShift: readonly ScaleShiftLayer[] = model.scaleShiftLayers ? [...model.scaleShiftLayers()] : [];
  const slots: Slot[] = [];
  const plan: (ParameterPlan | null)[] = parameters.map(() => null);
  const precision = options.precision ?? "float32";
  if (precision !== "float32" && precision !== "float64") {
    throw new TypeError(`${fn}: options.precision must be "float32" or "float64" (got ${String(precision)})`);
  }
  const blockOptions = {
    factorDecay,
    scalingDecay,
    scaling: scalingMode,
    ...(options.kfacDamping !== undefined ? { kfacDamping: options.kfacDamping } : {}),
    precision,
    // Empirical statistics are the loss's own g: EKFAC may rotate ∇ from S*'s rows (probe-checked).
    gradientFromStatistics: fisher === "empirical",
  };

  layers.forEach((layer, li) => {
    const shape = layerShape(layer);
    const block =
      approximation === "diagonal"
        ? new DiagonalFisher(shape, { decay: scalingDecay })
        : new KroneckerBlock(`${fn} (layer ${layer.name})`, approximation, shape, blockOptions);
    if (layer.hasBias !== (layer.bias !== null)) {
      throw new RangeError(
        `${fn}: layer ${layer.name} has hasBias = ${layer.hasBias} but bias is ${layer.bias === null ? "null" : "present"}`,
      );
    }
    const wi = claim(`layer ${layer.name}`, layer.weight, layer.outDim * layer.inDim);
    const bi = layer.bias === null ? -1 : claim(`layer ${layer.name}`, layer.bias, layer.outDim);
    const key = `${layer.name}/${block.kind}`;
    plan[wi] = { name: parameters[wi]?.name ?? "", block: key, rule: `${block.kind} weight` };
    if (bi >= 0) plan[bi] = { name: parameters[bi]?.name ?? "", block: key, rule: `${block.kind} bias` };
    const { outDim, inDim } = layer;
    const aDim = inDim + (bi >= 0 ? 1 : 0);
    const grad = new Float64Array(block.size);
    const dir = new Float64Array(block.size);
    slots.push({
      key,
      block,
      grad,
      dir,
      source: li,
      check(cfn, s) {
        const b = s as LayerStatistics;
        block.checkStatistics(cfn, b);
        return allFinite(b.a) && allFinite(b.g);
      },
      pack(src) {
        const w = src[wi] as FloatArray;
        const b = bi >= 0 ? (src[bi] as FloatArray) : null;
        for (let r = 0; r < outDim; r++) {
          for (let j = 0; j < inDim; j++) grad[r * aDim + j] = w[r * inDim + j] as number;
          if (b !== null) grad[r * aDim + inDim] = b[r] as number;
        }
      },
      unpack(dst) {
        const w = dst[wi] as FloatArray;
        const b = bi >= 0 ? (dst[bi] as FloatArray) : null;
        for (let r = 0; r < outDim; r++) {
          for (let j = 0; j < inDim; j++) w[r * inDim + j] = dir[r * aDim + j] as number;
          if (b !== null) b[r] = dir[r * aDim + inDim] as number;
        }
      },
    });
  });

  scaleShift.forEach((layer, si) => {
    const block = new ScaleShiftBlock(layer.channels, layer.shift !== null, { decay: otherDecay });
    const c = layer.channels;
    const gi = claim(`scale-shift layer ${layer.name}`, layer.scale, c);
    const hi = layer.shift === null ? -1 : claim(`scale-shift layer ${layer.name}`, layer.shift, c);
    const key = `${layer.name}/${block.kind}`;
    plan[gi] = { name: parameters[gi]?.name ?? "", block: key, rule: `${block.kind} scale` };
    if (hi >= 0) plan[hi] = { name: parameters[hi]?.name ?? "", block: key, rule: `${block.kind} shift` };
    const grad = new Float64Array(block.size);
    const dir = new Float64Array(block.size);
    slots.push({
      key,
      block,
      grad,
      dir,
      source: layers.length + si,
      check(cfn, s) {
        const b = s as ScaleShiftStatistics;
        block.checkStatistics(cfn, b);
        return allFinite(b.xhat) && allFinite(b.g);
      },
      pack(src) {
        const g = src[gi] as FloatArray;
        for (let i = 0; i < c; i++) grad[i] = g[i] as number;
        if (hi >= 0) {
          const h = src[hi] as FloatArray;
          for (let i = 0; i < c; i++) grad[c + i] = h[i] as number;
        }
      },
      unpack(dst) {
        const g = dst[gi] as FloatArray;
        for (let i = 0; i < c; i++) g[i] = dir[i] as number;
        if (hi >= 0) {
          const h = dst[hi] as FloatArray;
          for (let i = 0; i < c; i++) h[i] = dir[c + i] as number;
        }
      },
    });
  });

  const fallback: Slot[] = [];
  parameters.forEach((p, i) => {
    if (covered[i]) return;
    if (others === "first-order") {
      plan[i] = { name: p.name, block: null, rule: "first-order (raw gradient)" };
      return;
    }
    const block = new ParameterDiagonalFisher(p.value.length, { decay: otherDecay });
    const key = `${p.name}/${block.kind}`;
    plan[i] = { name: p.name, block: key, rule: block.kind };
    const grad = new Float64Array(block.size);
    const dir = new Float64Array(block.size);
    const slot: Slot = {
      key,
      block,
      grad,
      dir,
      source: -1,
      check: () => true,
      pack(src) {
        const g = src[i] as FloatArray;
        for (let j = 0; j < grad.length; j++) grad[j] = g[j] as number;
      },
      unpack(dst) {
        (dst[i] as FloatArray).set(dir);
      },
    };
    slots.push(slot);
    fallback.push(slot);
  });
  const keys = new Set<string>();
  for (const s of slots) {
    if (keys.has(s.key)) throw new RangeError(`${fn}: two blocks share the key ${s.key} (rename a layer or parameter)`);
    keys.add(s.key);
  }
  if (fisher === "exact" && (fallback.length > 0 || (approximation === "ekfac" && scalingMode === "ra"))) {
    // Both scale by the number of REAL examples N, which "exact" statistics (E = N·C pseudo-examples)
    // do not carry.
    throw new RangeError(
      `${fn}: fisher: "exact" cannot be combined with ${fallback.length > 0 ? `the diagonal fallback of ${fallback.map((f) => f.key).join(", ")} (set otherParameters: "first-order")` : 'scaling: "ra"'}: both need the batch's number of examples, which exact-mode statistics (N·C pseudo-examples) do not carry`,
    );
  }
  const firstOrder = parameters.map((_, i) => plan[i]?.block === null);
  const sources = layers.length + scaleShift.length;
  if (sources === 0) {
    throw new RangeError(
      `${fn}: the model has no curvature or scale-shift layers, so there is no curvature to estimate; use a first-order optimizer (adam, sgd)`,
    );
  }
  const isEkfac = approximation === "ekfac";
  const needsStatistics = (k: number): boolean => {
    const scalingStep = k % scalingEvery === 0;
    if (approximation === "diagonal") return scalingStep;
    return k % factorsEvery === 0 || k % basisEvery === 0 || (isEkfac && scalingStep);
  };
  const statisticsStep = (k: number): boolean =>
    approximation === "diagonal" ? k % scalingEvery === 0 : k % factorsEvery === 0;
  const fnStep = `${fn}.update`;
  const capture = (k: number): void => {
    model.setCapture(needsStatistics(k), { fisher, seed: seed + k });
  };

  const statisticsOf = (i: number): LayerStatistics | ScaleShiftStatistics => {
    const src = i < layers.length ? layers[i] : scaleShift[i - layers.length];
    const s = src?.statistics ?? null;
    const name = src?.name ?? "";
    if (s === null) {
      throw new Error(
        `${fnStep}: layer ${name} has no captured statistics; the optimizer turned capture on for this step, so run the forward and backward pass between two steps (and do not turn capture off)`,
      );
    }
    if (s.fisher !== fisher) {
      throw new Error(
        `${fnStep}: layer ${name} captured statistics for the "${String(s.fisher)}" Fisher but this optimizer uses fisher: "${fisher}". ${fisher === "empirical" ? "" : "Sampling targets needs a loss that knows the model's predictive distribution (nn's softmaxCrossEntropy, sigmoidCrossEntropy, mseLoss); "}use such a loss or build the optimizer with fisher: "${String(s.fisher)}".`,
      );
    }
    return s;
  };

  const transform: CurvatureTransform = {
    name: `curvature(${approximation})`,
    approximation,
    fisher,
    damping,
    parameters,
    blocks: slots.map((s) => ({ key: s.key, block: s.block })),
    plan: plan.map((p, i) => p ?? { name: parameters[i]?.name ?? "", block: null, rule: "first-order (raw gradient)" }),
    wantsStatistics: (state) => needsStatistics(state.step),

    init(params) {
      checkParamList(`${fn}.init`, "params", params);
      if (params.length !== parameters.length || params.some((p, i) => p !== parameters[i]?.value)) {
        throw new RangeError(
          `${fn}.init: params must be the model's parameter values, in the order of model.parameters() (${parameters.length} arrays)`,
        );
      }
      const blocks: { [key: string]: BlockState } = {};
      for (const s of slots) {
        const st = s.block.initState();
        s.block.bindState(fn, st);
        blocks[s.key] = st;
      }
      capture(0);
      return {
        step: 0,
        basisRefreshes: 0,
        basisFailures: 0,
        refused: 0,
        passes: new Float64Array(sources).fill(-1),
        last: { refreshed: 0, failures: 0, klScale: 1, refusal: 0 },
        blocks,
      };
    },

    validateState(vfn, state) {
      for (const key of ["step", "basisRefreshes", "basisFailures", "refused"] as const) {
        checkCount(vfn, `curvature state.${key}`, state[key]);
      }
      if (!(state.passes instanceof Float64Array) || state.passes.length !== sources) {
        throw new RangeError(`${vfn}: curvature state.passes must be a Float64Array of length ${sources}`);
      }
      for (const p of state.passes) {
        if (!(Number.isInteger(p) && p >= -1)) throw new RangeError(`${vfn}: curvature state.passes holds ${p}`);
      }
      const got = Object.keys(state.blocks ?? {});
      if (got.length !== slots.length || slots.some((s) => !(s.key in state.blocks))) {
        throw new RangeError(
          `${vfn}: the saved curvature blocks {${got.join(", ")}} are not this optimizer's {${slots.map((s) => s.key).join(", ")}} (another model or approximation)`,
        );
      }
      for (const s of slots) s.block.checkState(`${vfn} (block ${s.key})`, state.blocks[s.key]);
    },

    restored(state) {
      for (const s of slots) {
        const st = state.blocks[s.key];
        if (st !== undefined) s.block.bindState(fn, st);
        s.block.stateRestored?.();
      }
      // The model's capture request belongs to the restored step (its sampler seed in particular).
      capture(state.step);
    },

    report(state): TransformReport {
      const l = state.last;
      const vetoReason: SkipReason | null =
        l.refusal === 1 ? "non-finite statistics" : l.refusal === 2 ? "non-finite update" : null;
      return {
        vetoReason,
        curvature: { basisRefreshed: l.refreshed === 1, basisFailures: l.failures, klScale: l.klScale },
      };
    },

    update(updates, state) {
      const k = state.step;
      for (const s of slots) {
        const st = state.blocks[s.key];
        if (st === undefined) throw new RangeError(`${fnStep}: the state has no block ${s.key}`);
        s.block.bindState(fnStep, st);
      }
      const last = state.last;
      last.refreshed = 0;
      last.failures = 0;
      last.klScale = 1;
      last.refusal = 0;
      const needStats = needsStatistics(k);
      const refresh = approximation !== "diagonal" && k % basisEvery === 0;
      const scalingStep = k % scalingEvery === 0;
      const statsStep = statisticsStep(k);
      const ra = isEkfac && scalingMode === "ra" && !refresh && scalingStep;

      // 1. statistics: present, of the requested Fisher, fresh, well-shaped, finite.
      let batchSize = 0;
      if (needStats) {
        let finite = true;
        for (let i = 0; i < sources; i++) {
          const s = statisticsOf(i);
          if (!reuse && s.pass === state.passes[i]) {
            const name = (i < layers.length ? layers[i]?.name : scaleShift[i - layers.length]?.name) ?? "";
            throw new Error(
              `${fnStep}: layer ${name}'s statistics are those of pass ${s.pass}, already used by the previous step (stale): run a new forward and backward pass before step(), or set reuseStatistics: true`,
            );
          }
          if (batchSize === 0) batchSize = s.batchSize;
          if (!(slots[i] as Slot).check(fnStep, s)) finite = false;
        }
        for (let i = 0; i < sources; i++) state.passes[i] = statisticsOf(i).pass;
        if (!finite) return refuse(updates, state, 1, k);
      }

      // 2. curvature statistics, bases, scalings.
      if (needStats) {
        for (let i = 0; i < sources; i++) {
          const slot = slots[i] as Slot;
          const s = statisticsOf(i);
          if (statsStep) slot.block.updateStatistics(s);
          if (refresh) last.failures += slot.block.refreshBasis().failed;
          if (isEkfac && (refresh || (scalingStep && scalingMode === "batch"))) slot.block.updateScaling(s);
        }
      }
      if (refresh) {
        last.refreshed = 1;
        state.basisRefreshes++;
        state.basisFailures += last.failures;
      }

      // 3. directions; "ra" first folds this gradient into S (N of this step's statistics).
      let dot = 0;
      let finite = true;
      for (const slot of slots) {
        slot.pack(updates);
        if (slot.source === -1 && statsStep && batchSize > 0) {
          slot.block.updateStatistics({ grad: slot.grad, batchSize });
        }
        if (ra && slot.source >= 0 && slot.source < layers.length) {
          slot.block.updateScalingFromGradient(slot.grad, (statisticsOf(slot.source) as LayerStatistics).batchSize);
        }
        slot.block.precondition(slot.grad, slot.dir, damping);
        const g = slot.grad;
        const d = slot.dir;
        for (let j = 0; j < d.length; j++) {
          const x = d[j] as number;
          if (x - x !== 0) finite = false;
          dot += x * (g[j] as number);
        }
      }
      if (!finite) return refuse(updates, state, 2, k);
      for (let i = 0; i < parameters.length; i++) {
        if (!firstOrder[i]) continue;
        const u = updates[i] as FloatArray;
        for (let j = 0; j < u.length; j++) dot += (u[j] as number) * (u[j] as number);
      }

      // 4. KL-clipping at this step's learning rate.
      let nu = 1;
      if (kl !== null) {
        const lr = typeof kl.learningRate === "function" ? kl.learningRate(k) : kl.learningRate;
        nu = klScaleFromDot(dot, lr, kl.kappa);
      }
      for (const slot of slots) {
        if (nu !== 1) for (let j = 0; j < slot.dir.length; j++) slot.dir[j] = nu * (slot.dir[j] as number);
        slot.unpack(updates);
      }
      if (nu !== 1) {
        for (let i = 0; i < parameters.length; i++) {
          if (!firstOrder[i]) continue;
          const u = updates[i] as FloatArray;
          for (let j = 0; j < u.length; j++) u[j] = nu * (u[j] as number);
        }
      }
      last.klScale = nu;
      state.step = k + 1;
      capture(k + 1);
      return undefined;
    },
  };

  function refuse(updates: Params, state: CurvatureState, reason: number, k: number): false {
    for (const u of updates) u.fill(0);
    state.last.refusal = reason;
    state.refused++;
    capture(k);
    return false;
  }

  return transform;
}

/** One line per parameter: the block (or rule) that produces its direction. */
export function describeCurvature(t: CurvatureTransform): string {
  return t.plan.map((p) => `${p.name}: ${p.rule}${p.block === null ? "" : ` (${p.block})`}`).join("\n");
}
