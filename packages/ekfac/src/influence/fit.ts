/**
 * Fitting KFAC / EKFAC curvature for influence functions over a whole dataset (not a moving average).
 *
 * Influence of a training example z_t on a query z_q (Koh & Liang 2017; Grosse et al. 2023, "Studying
 * Large Language Model Generalization with Influence Functions", §2.1–2.2):
 *   score(z_q, z_t) = ∇θ ℓ(z_q)ᵀ (F̂ + λI)⁻¹ ∇θ ℓ(z_t),
 * with F̂ a block-diagonal (per layer) Kronecker approximation of the Fisher / Gauss-Newton matrix.
 * Grosse et al. use EK-FAC (§2.2.3, after George et al. 2018); kronfluence implements it as here:
 *
 * Pass 1 (factors, exact averages over all N examples of the dataset, KFC normalisation for conv):
 *   A_l = (1/N) Σ_n Σ_t ā ā ᵀ,  G_l = (1/N) Σ_n (1/T) Σ_t g gᵀ
 * accumulated as Σ_b N_b·(batch factor), then A = U_A diag(λ_A) U_Aᵀ, G = U_G diag(λ_G) U_Gᵀ in float64
 * (linalg's eigh, guarded: see kronecker-block.ts).
 * Pass 2 (EKFAC only; eigenvalue correction in the fixed basis, George et al. eq. (10)):
 *   S*_l = (1/N) Σ_n (U_Gᵀ ∇_n U_A)²,  ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ,
 * again an exact average (Σ_b N_b·S*_b / N). KFAC uses S = λ_G λ_Aᵀ (no second pass).
 * Then (F̂_l + λ_l I)⁻¹ v = U_G [(U_Gᵀ V U_A) ⊘ (S_l + λ_l)] U_Aᵀ (the optimizer's own `precondition`).
 *
 * Implementation: the per-layer `KroneckerBlock`s of the optimizer, with decays 0 so that each
 * `updateFactors` / `updateScaling` leaves exactly that batch's statistics, summed here with weights
 * N_b. True Fisher by default (the batch callbacks receive "sampled"), empirical on request ("labels").
 * Damping: damping.ts (kronfluence's 0.1 × mean eigenvalue per layer by default).
 *
 * Self-influence ∇ₙᵀ (F̂ + λ)⁻¹ ∇ₙ = Σ_ij (U_Gᵀ ∇_n U_A)²_ij / (S_ij + λ) per layer: the block's own
 * `examplePreconditionedNorms` (rows rotated once, G̃ = G U_G, Ã = A U_A; for dense layers the
 * rank-one structure gives one product, no per-example matrices — see kronecker-block.ts).
 *
 * Cost per layer (a = aDim, g = gDim, R = N·T rows per pass): pass 1 R(a² + g²); eigendecompositions
 * O(a³ + g³) once; pass 2 see scaling.ts (≈ R(a² + g²) + N·g·a); self-influence R(a² + g²) + N·g·a
 * (+ N·T·g·a for conv). Memory O(a² + g² + g·a) per layer, independent of N.
 */

import { checkOptions, optionKeys } from "@ekfac-ts/linalg";
import type { BatchCaptureModel as CurvatureModel } from "../capture.ts";
import { KroneckerBlock } from "../curvature/kronecker-block.ts";
import { checkChoice } from "../internal/checks.ts";
import { ensure } from "../internal/stats.ts";
import {
  checkCallback,
  type Float64Statistics,
  forEachBatch,
  type InfluenceBatch,
  type InfluenceLayer,
  type InfluenceProgress,
  snapshotLayers,
} from "./common.ts";
import { checkDampingOption, defaultInfluenceDamping, type InfluenceDamping, resolveDamping } from "./damping.ts";
import type { InfluencePreconditioner } from "./preconditioner.ts";

/** Options of `fitInfluence`. */
export interface FitInfluenceOptions {
  /** "ekfac" (default) or "kfac" (S = λ_G λ_Aᵀ, for comparison). */
  readonly approximation?: "ekfac" | "kfac";
  /** "true" (default; batches are asked for "sampled" targets) or "empirical" ("labels"). */
  readonly fisher?: "true" | "empirical";
  /** See damping.ts. Default `{ factor: 0.1 }` (kronfluence). */
  readonly damping?: InfluenceDamping;
  /** Iteration cap for the eigendecompositions (linalg's eigh default otherwise). */
  readonly maxEigIterations?: number;
  /** Called after each batch of each phase of the fit. */
  readonly onProgress?: (progress: InfluenceProgress) => void;
}

/** The names `fitInfluence` reads: every key of `FitInfluenceOptions` (checked at compile time). */
const FIT_INFLUENCE_KEYS = optionKeys<FitInfluenceOptions>()([
  "approximation",
  "fisher",
  "damping",
  "maxEigIterations",
  "onProgress",
]);

/** KFAC or EKFAC curvature fitted on a dataset; an `InfluencePreconditioner` for score.ts. */
export class KroneckerInfluence implements InfluencePreconditioner {
  /** Which Kronecker approximation was fitted. */
  readonly method: "ekfac" | "kfac";
  readonly layers: readonly InfluenceLayer[];
  readonly examples: number;
  /** The optimizer's curvature blocks holding the dataset's A, G, U_A, U_G, λ_A, λ_G and S*. */
  readonly blocks: readonly KroneckerBlock[];
  /** Eigendecompositions that failed (the block then falls back to the identity basis); 0 normally. */
  readonly basisFailures: number;
  /** One layer's self-influence per example (workspace of `selfInfluence`). */
  private layerNorms: Float64Array = new Float64Array(0);

  constructor(
    method: "ekfac" | "kfac",
    layers: readonly InfluenceLayer[],
    blocks: readonly KroneckerBlock[],
    examples: number,
    basisFailures: number,
  ) {
    this.method = method;
    this.layers = layers;
    this.blocks = blocks;
    this.examples = examples;
    this.basisFailures = basisFailures;
  }

  precondition(grads: readonly Float64Array[], out: readonly Float64Array[], count: number): void {
    for (let l = 0; l < this.layers.length; l++) {
      const { dims, damping } = this.layers[l] as InfluenceLayer;
      const block = this.blocks[l] as KroneckerBlock;
      const src = grads[l] as Float64Array;
      const dst = out[l] as Float64Array;
      const p = dims.size;
      for (let c = 0; c < count; c++) {
        block.precondition(src.subarray(c * p, (c + 1) * p), dst.subarray(c * p, (c + 1) * p), damping);
      }
    }
  }

  selfInfluence(stats: readonly Float64Statistics[], out: Float64Array, perLayer: Float64Array | null): void {
    const n = (stats[0] as Float64Statistics).batchSize;
    out.fill(0, 0, n);
    this.layerNorms = ensure(this.layerNorms, n);
    const norms = this.layerNorms;
    for (let l = 0; l < this.layers.length; l++) {
      const block = this.blocks[l] as KroneckerBlock;
      const s = stats[l] as Float64Statistics;
      // ∇ₙᵀ(F̂ + λI)⁻¹∇ₙ in the block's own metric: the law's one home (kronecker-block.ts).
      norms.fill(0, 0, n);
      block.examplePreconditionedNorms(s.a, s.g, n, s.positions, (this.layers[l] as InfluenceLayer).damping, norms);
      for (let e = 0; e < n; e++) {
        out[e] = (out[e] as number) + (norms[e] as number);
        if (perLayer !== null) perLayer[l * n + e] = norms[e] as number;
      }
    }
  }
}

/**
 * Fits KFAC or EKFAC over every example of `batches` (iterated twice for EKFAC: pass a re-iterable
 * collection such as an array, not a one-shot generator). See the header for the batch contract.
 */
export function fitInfluence(
  model: CurvatureModel,
  batches: Iterable<InfluenceBatch>,
  options: FitInfluenceOptions = {},
): KroneckerInfluence {
  const fn = "fitInfluence";
  checkOptions(fn, "options", options, FIT_INFLUENCE_KEYS);
  checkCallback(fn, "options.onProgress", options.onProgress);
  const approximation = checkChoice(fn, "options.approximation", options.approximation, ["ekfac", "kfac"], "ekfac");
  const fisher = checkChoice(fn, "options.fisher", options.fisher, ["true", "empirical"], "true");
  const targets = fisher === "true" ? "sampled" : "labels";
  const damping = options.damping ?? defaultInfluenceDamping;
  const snap = snapshotLayers(fn, model);
  checkDampingOption(fn, damping, snap.length);
  const progress = options.onProgress;
  const blockOptions = {
    factorDecay: 0,
    scalingDecay: 0,
    ...(options.maxEigIterations !== undefined ? { maxEigIterations: options.maxEigIterations } : {}),
  };
  const blocks = snap.map((l) => new KroneckerBlock(fn, approximation, l.shape, blockOptions));

  // One pass over every example: per block, `update` from the batch's statistics, then the batch's
  // `fields` weighted by its size are summed; the sums are divided by the example count at the end,
  // so the fields hold exact averages over the dataset (not moving averages).
  let seen = 0;
  const averagePass = (
    phase: "factors" | "scaling",
    fields: readonly ("A" | "G" | "S")[],
    update: (block: KroneckerBlock, s: Float64Statistics) => void,
  ): number => {
    const sums = blocks.map((b) => fields.map((f) => new Float64Array(b[f].length)));
    seen = 0;
    const n = forEachBatch(fn, "batches", model, snap, batches, targets, (stats, b) => {
      for (let l = 0; l < blocks.length; l++) {
        const block = blocks[l] as KroneckerBlock;
        const s = stats[l] as Float64Statistics;
        update(block, s);
        for (let f = 0; f < fields.length; f++) {
          accumulate(sums[l]?.[f] as Float64Array, block[fields[f] as "A" | "G" | "S"], s.batchSize);
        }
      }
      seen += (stats[0] as Float64Statistics).batchSize;
      progress?.({ phase, batches: b + 1, examples: seen });
    });
    for (let l = 0; l < blocks.length; l++) {
      for (let f = 0; f < fields.length; f++) {
        const block = blocks[l] as KroneckerBlock;
        scaleInto(block[fields[f] as "A" | "G" | "S"], sums[l]?.[f] as Float64Array, 1 / n);
      }
    }
    return n;
  };

  // Pass 1: exact averages of the factors, then their eigenbases.
  const n1 = averagePass("factors", ["A", "G"], (block, s) => block.updateFactors(s));
  if (n1 === 0) throw new RangeError(`${fn}: batches yielded no examples (an empty dataset)`);
  let failures = 0;
  for (const block of blocks) failures += block.updateBasis().failed;
  progress?.({ phase: "eigenbasis", batches: 0, examples: n1 });

  // Pass 2 (EKFAC): exact average of S* in the fixed eigenbasis.
  if (approximation === "ekfac") {
    const n2 = averagePass("scaling", ["S"], (block, s) => block.updateScaling(s));
    if (n2 !== n1) {
      throw new RangeError(
        `${fn}: batches yielded ${n1} examples in the first pass but ${n2} in the second; pass a re-iterable collection (an array), not a one-shot generator`,
      );
    }
  }

  const means = blocks.map((b) => {
    const s = b.eigenScaling();
    let acc = 0;
    for (const v of s) acc += v;
    return acc / s.length;
  });
  const lambdas = resolveDamping(damping, means);
  const layers = snap.map((l, i) => ({ ...l, damping: lambdas[i] as number }));
  return new KroneckerInfluence(approximation, layers, blocks, n1, failures);
}

function accumulate(sum: Float64Array, x: Float64Array, weight: number): void {
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) + weight * (x[i] as number);
}

function scaleInto(out: Float64Array, x: Float64Array, alpha: number): void {
  for (let i = 0; i < out.length; i++) out[i] = alpha * (x[i] as number);
}
