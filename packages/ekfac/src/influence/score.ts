/**
 * Influence scores, streamed over the training set with memory independent of its size.
 *
 *   score(z_q, z_t) = ∇θ ℓ(z_q)ᵀ (F̂ + λI)⁻¹ ∇θ ℓ(z_t) = Σ_l ⟨P_{q,l}, ∇_{t,l}⟩,  P_q = (F̂ + λI)⁻¹ ∇θ ℓ(z_q)
 *   self(z_t)        = ∇θ ℓ(z_t)ᵀ (F̂ + λI)⁻¹ ∇θ ℓ(z_t)
 * (Koh & Liang 2017 with the damped Fisher / Gauss-Newton; Grosse et al. 2023 §2.1 "Influence Functions",
 * §2.2 "Inverse-Hessian-Vector Products", and §3.2 "Confronting the Training Gradient Bottleneck" for
 * preconditioning the query gradients once and streaming the training gradients.) The sign follows
 * kronfluence: a positive score means the training example's gradient step would DECREASE the query's
 * loss (helpful), a negative one increase it (harmful). Per-layer terms are the breakdown of §3.3
 * "Attribution to Layers and Tokens".
 *
 * Gradients are the per-example gradients of the loss at the dataset's labels ("labels" batches),
 * reconstructed per layer from the captured ā and g: ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ.
 *
 * Streaming: the queries' gradients are formed and preconditioned once (Q × P values). Each training
 * batch then needs only its ā and g rows: for a layer (group) with query matrices P_q (g × a),
 *   ⟨P_q, Σ_t g_t ā_tᵀ⟩ = Σ_t g_tᵀ (P_q ā_t),
 * so one product M = [P_1; …; P_Q] Aᵀ (Q·g × R) and a contraction with the g rows give every score of
 * the batch: no per-example P-sized gradient and no dout × din matrix per training example.
 *
 * Cost per training batch and layer: Q·g·a·R + Q·g·R (R = N·T rows); memory Q·g·R + the Q × P
 * preconditioned queries; the query pass costs Q·T·P to form gradients plus Q preconditionings.
 */

import { checkFlag, checkOptions, gemmStrided, optionKeys } from "@ekfac-ts/linalg";
import type { BatchCaptureModel as CurvatureModel } from "../capture.ts";
import { perExampleGradientsInto } from "../curvature/exact-fisher.ts";
import { concat64 } from "../internal/stats.ts";
import {
  checkCallback,
  checkSameLayers,
  type Float64Statistics,
  forEachBatch,
  type InfluenceBatch,
  type InfluenceLayer,
  type InfluenceProgress,
} from "./common.ts";
import type { InfluencePreconditioner } from "./preconditioner.ts";

/** Options of `scoreInfluence`. */
export interface ScoreInfluenceOptions {
  /** Also return the per-layer breakdown (one Q × N matrix per curvature layer). Default false. */
  readonly perLayer?: boolean;
  /** Keep and return the Q × N score matrix. Default true; false with `onBatch` keeps memory O(Q·batch). */
  readonly keepScores?: boolean;
  /** Receives each training batch's scores (Q × count, row-major) as soon as they are computed. */
  readonly onBatch?: (chunk: {
    readonly offset: number;
    readonly count: number;
    readonly scores: Float64Array;
  }) => void;
  /** Called after each query batch and each training batch. */
  readonly onProgress?: (progress: InfluenceProgress) => void;
}

/** The result of `scoreInfluence`: the Q × N matrix of influence scores of training examples on queries. */
export interface InfluenceScores {
  /** Q, the number of query examples. */
  readonly queries: number;
  /** N, the number of training examples. */
  readonly train: number;
  /** Q × N row-major, `scores[q·N + t]`; null when `keepScores` is false. */
  readonly scores: Float64Array | null;
  /** One Q × N matrix per curvature layer (they sum to `scores`), or null. */
  readonly perLayer: readonly Float64Array[] | null;
}

/** Options of `selfInfluence`. */
export interface SelfInfluenceOptions {
  /** Also return the per-layer breakdown (one length-N vector per layer). Default false. */
  readonly perLayer?: boolean;
  /** Called after each training batch. */
  readonly onProgress?: (progress: InfluenceProgress) => void;
}

/** The names `scoreInfluence` and `selfInfluence` read (checked at compile time against their interfaces). */
const SCORE_INFLUENCE_KEYS = optionKeys<ScoreInfluenceOptions>()(["perLayer", "keepScores", "onBatch", "onProgress"]);
const SELF_INFLUENCE_KEYS = optionKeys<SelfInfluenceOptions>()(["perLayer", "onProgress"]);

/** The result of `selfInfluence`: every training example's influence on itself. */
export interface SelfInfluenceScores {
  /** N, the number of training examples. */
  readonly train: number;
  /** ∇_tᵀ (F̂ + λ)⁻¹ ∇_t per training example. */
  readonly scores: Float64Array;
  /** One length-N vector per curvature layer (they sum to `scores`), or null. */
  readonly perLayer: readonly Float64Array[] | null;
}

function checkFit(fn: string, fit: InfluencePreconditioner): void {
  if (
    fit === null ||
    typeof fit !== "object" ||
    typeof fit.precondition !== "function" ||
    typeof fit.selfInfluence !== "function" ||
    !Array.isArray(fit.layers)
  ) {
    throw new TypeError(`${fn}: fit must be an InfluencePreconditioner (from fitInfluence or fitExactInfluence)`);
  }
}

/** Per-layer gradients of every query (Q × P_l each), preconditioned by the fit. */
export function preconditionedQueries(
  fn: string,
  fit: InfluencePreconditioner,
  model: CurvatureModel,
  queries: Iterable<InfluenceBatch>,
  onProgress?: (progress: InfluenceProgress) => void,
): { count: number; vectors: Float64Array[] } {
  const layers = fit.layers;
  const chunks: Float64Array[][] = layers.map(() => []);
  let seen = 0;
  const count = forEachBatch(fn, "queries", model, layers, queries, "labels", (stats, b) => {
    const n = (stats[0] as Float64Statistics).batchSize;
    for (let l = 0; l < layers.length; l++) {
      const dims = (layers[l] as InfluenceLayer).dims;
      const v = new Float64Array(n * dims.size);
      perExampleGradientsInto(v, dims.size, 0, dims, stats[l] as Float64Statistics);
      (chunks[l] as Float64Array[]).push(v);
    }
    seen += n;
    onProgress?.({ phase: "queries", batches: b + 1, examples: seen });
  });
  if (count === 0) throw new RangeError(`${fn}: queries yielded no examples (an empty query set)`);
  const vectors = chunks.map(concat64);
  fit.precondition(vectors, vectors, count);
  return { count, vectors };
}

/**
 * Pairwise influence of every training example on every query (see the header). `queries` and `train`
 * are iterables of batch callbacks (common.ts); both are run once, with "labels" targets.
 */
export function scoreInfluence(
  fit: InfluencePreconditioner,
  model: CurvatureModel,
  queries: Iterable<InfluenceBatch>,
  train: Iterable<InfluenceBatch>,
  options: ScoreInfluenceOptions = {},
): InfluenceScores {
  const fn = "scoreInfluence";
  checkOptions(fn, "options", options, SCORE_INFLUENCE_KEYS);
  checkFlag(fn, "options.perLayer", options.perLayer);
  checkFlag(fn, "options.keepScores", options.keepScores);
  checkCallback(fn, "options.onBatch", options.onBatch);
  checkCallback(fn, "options.onProgress", options.onProgress);
  checkFit(fn, fit);
  checkSameLayers(fn, fit.layers, model);
  const keep = options.keepScores ?? true;
  const wantLayers = options.perLayer ?? false;
  const { count: nq, vectors: pq } = preconditionedQueries(fn, fit, model, queries, options.onProgress);
  const layers = fit.layers;
  const chunks: { n: number; total: Float64Array; layers: Float64Array[] }[] = [];
  let m = new Float64Array(0);
  let seen = 0;
  const nt = forEachBatch(fn, "train", model, layers, train, "labels", (stats, b, offset) => {
    const n = (stats[0] as Float64Statistics).batchSize;
    const total = new Float64Array(nq * n);
    const perLayer: Float64Array[] = [];
    for (let l = 0; l < layers.length; l++) {
      const { aDim: a, gDim: g, groups, size } = (layers[l] as InfluenceLayer).dims;
      const s = stats[l] as Float64Statistics;
      const t = s.positions;
      const rows = n * t;
      const p = pq[l] as Float64Array;
      const part = wantLayers ? new Float64Array(nq * n) : total;
      const qBlock = groups === 1 ? nq : 1;
      if (m.length < qBlock * g * rows) m = new Float64Array(qBlock * g * rows);
      for (let k = 0; k < groups; k++) {
        for (let q0 = 0; q0 < nq; q0 += qBlock) {
          // M = [P_q0; …] (qBlock·g × a) · A_kᵀ (a × R): rows (q, i) of P are `size` apart per query,
          // `a` apart within one; with one group both strides are a, so all queries go in one product.
          gemmStrided(
            false,
            true,
            qBlock * g,
            rows,
            a,
            1,
            p,
            q0 * size + k * g * a,
            a,
            s.a,
            k * rows * a,
            a,
            0,
            m,
            0,
            rows,
          );
          for (let qq = 0; qq < qBlock; qq++) {
            const q = q0 + qq;
            for (let e = 0; e < n; e++) {
              let acc = 0;
              for (let r = e * t; r < (e + 1) * t; r++) {
                const gOff = (k * rows + r) * g;
                for (let i = 0; i < g; i++) acc += (m[(qq * g + i) * rows + r] as number) * (s.g[gOff + i] as number);
              }
              part[q * n + e] = (part[q * n + e] as number) + acc;
            }
          }
        }
      }
      if (wantLayers) {
        for (let i = 0; i < nq * n; i++) total[i] = (total[i] as number) + (part[i] as number);
        perLayer.push(part);
      }
    }
    options.onBatch?.({ offset, count: n, scores: total });
    if (keep || wantLayers) chunks.push({ n, total, layers: perLayer });
    seen += n;
    options.onProgress?.({ phase: "train", batches: b + 1, examples: seen });
  });
  if (nt === 0) throw new RangeError(`${fn}: train yielded no examples (an empty training set)`);
  const assemble = (pick: (c: { total: Float64Array; layers: Float64Array[] }) => Float64Array): Float64Array => {
    const out = new Float64Array(nq * nt);
    let off = 0;
    for (const c of chunks) {
      const src = pick(c);
      for (let q = 0; q < nq; q++) out.set(src.subarray(q * c.n, (q + 1) * c.n), q * nt + off);
      off += c.n;
    }
    return out;
  };
  return {
    queries: nq,
    train: nt,
    scores: keep ? assemble((c) => c.total) : null,
    perLayer: wantLayers ? layers.map((_, l) => assemble((c) => c.layers[l] as Float64Array)) : null,
  };
}

/** Self-influence ∇_tᵀ (F̂ + λ)⁻¹ ∇_t of every training example, streamed over `train` ("labels"). */
export function selfInfluence(
  fit: InfluencePreconditioner,
  model: CurvatureModel,
  train: Iterable<InfluenceBatch>,
  options: SelfInfluenceOptions = {},
): SelfInfluenceScores {
  const fn = "selfInfluence";
  checkOptions(fn, "options", options, SELF_INFLUENCE_KEYS);
  checkFlag(fn, "options.perLayer", options.perLayer);
  checkCallback(fn, "options.onProgress", options.onProgress);
  checkFit(fn, fit);
  checkSameLayers(fn, fit.layers, model);
  const wantLayers = options.perLayer ?? false;
  const layers = fit.layers;
  const totals: Float64Array[] = [];
  const parts: Float64Array[] = [];
  let seen = 0;
  const nt = forEachBatch(fn, "train", model, layers, train, "labels", (stats, b) => {
    const n = (stats[0] as Float64Statistics).batchSize;
    const total = new Float64Array(n);
    const part = wantLayers ? new Float64Array(layers.length * n) : null;
    fit.selfInfluence(stats, total, part);
    totals.push(total);
    if (part !== null) parts.push(part);
    seen += n;
    options.onProgress?.({ phase: "train", batches: b + 1, examples: seen });
  });
  if (nt === 0) throw new RangeError(`${fn}: train yielded no examples (an empty training set)`);
  const scores = new Float64Array(nt);
  let off = 0;
  for (const t of totals) {
    scores.set(t, off);
    off += t.length;
  }
  let perLayer: Float64Array[] | null = null;
  if (wantLayers) {
    perLayer = layers.map(() => new Float64Array(nt));
    let o = 0;
    for (const part of parts) {
      const n = part.length / layers.length;
      for (let l = 0; l < layers.length; l++) (perLayer[l] as Float64Array).set(part.subarray(l * n, (l + 1) * n), o);
      o += n;
    }
  }
  return { train: nt, scores, perLayer };
}

/** Pearson correlation of two equally long series (NaN when either is constant). */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`pearson: lengths differ (x has ${x.length}, y has ${y.length})`);
  if (x.length < 2) throw new RangeError(`pearson: needs at least 2 points (got ${x.length})`);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < x.length; i++) {
    mx += x[i] as number;
    my += y[i] as number;
  }
  mx /= x.length;
  my /= y.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < x.length; i++) {
    const dx = (x[i] as number) - mx;
    const dy = (y[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxy / Math.sqrt(sxx * syy);
}
