/**
 * The exact damped Fisher inverse over all parameters of the curvature layers, formed explicitly: the
 * reference that KFAC / EKFAC influence scores are measured against (small models only).
 *
 *   v_n = [vec ∇_{n,1}; …; vec ∇_{n,L}]   (per-example gradients of every curvature layer, W̄ layout)
 *   F = (1/N) Σ_n v_n v_nᵀ                 (P × P, P = Σ_l P_l; true or empirical Fisher as in fit.ts)
 *   H = F + diag(λ_l I_{P_l}),  score(z_q, z_t) = v_qᵀ H⁻¹ v_t
 * "full": all of F (cross-layer blocks included): the influence function of Koh & Liang (2017) with
 * the damped Fisher / Gauss-Newton in place of the Hessian (Grosse et al. 2023 §2.1–2.2).
 * "block-diagonal": cross-layer blocks of F set to 0 — the structure KFAC and EKFAC assume, so it
 * isolates the error of the Kronecker factorisation from that of the block-diagonal assumption.
 * Damping as in damping.ts, with the exact mean eigenvalue tr(F_ll)/P_l per layer ({ factor } form).
 *
 * Cost: N·P² to form F, P³/3 for the Cholesky factor and P³ for the inverse (linalg's spdInverse);
 * preconditioning C vectors C·P²; memory P². Refuses P > 4096 (RangeError).
 */

import { checkOptions, gemmStrided, optionKeys, spdInverse } from "@ekfac-ts/linalg";
import type { BatchCaptureModel as CurvatureModel } from "../capture.ts";
import { perExampleGradientsInto } from "../curvature/exact-fisher.ts";
import { checkChoice } from "../internal/checks.ts";
import {
  checkCallback,
  type Float64Statistics,
  forEachBatch,
  type InfluenceBatch,
  type InfluenceLayer,
  snapshotLayers,
} from "./common.ts";
import { checkDampingOption, defaultInfluenceDamping, resolveDamping } from "./damping.ts";
import type { FitInfluenceOptions } from "./fit.ts";
import type { InfluencePreconditioner } from "./preconditioner.ts";

/** The largest total parameter count `fitExactInfluence` accepts (its memory is P² float64). */
export const maxExactInfluenceParameters = 4096;

/** Options of `fitExactInfluence`: `fitInfluence`'s Fisher, damping and progress options, and the structure. */
export interface FitExactInfluenceOptions extends Pick<FitInfluenceOptions, "fisher" | "damping" | "onProgress"> {
  /** "full" (default) or "block-diagonal" (per layer, as KFAC/EKFAC assume). */
  readonly structure?: "full" | "block-diagonal";
}

/** The names `fitExactInfluence` reads: every key of `FitExactInfluenceOptions` (checked at compile time). */
const FIT_EXACT_INFLUENCE_KEYS = optionKeys<FitExactInfluenceOptions>()([
  "fisher",
  "damping",
  "onProgress",
  "structure",
]);

/** The explicit (F + λ)⁻¹ of the curvature layers; an `InfluencePreconditioner` for score.ts. */
export class ExactInfluence implements InfluencePreconditioner {
  /** "exact-full" (the whole F) or "exact-block-diagonal" (one block per layer). */
  readonly method: "exact-full" | "exact-block-diagonal";
  readonly layers: readonly InfluenceLayer[];
  readonly examples: number;
  /** Total parameters P of the curvature layers. */
  readonly size: number;
  /** F (P × P, row-major; cross-layer blocks zeroed for "block-diagonal"). */
  readonly fisher: Float64Array;
  /** (F + λ)⁻¹ (P × P, row-major). */
  readonly inverse: Float64Array;
  private readonly offsets: readonly number[];

  constructor(
    method: "exact-full" | "exact-block-diagonal",
    layers: readonly InfluenceLayer[],
    examples: number,
    fisher: Float64Array,
    inverse: Float64Array,
  ) {
    this.method = method;
    this.layers = layers;
    this.examples = examples;
    this.fisher = fisher;
    this.inverse = inverse;
    let off = 0;
    this.offsets = layers.map((l) => {
      const o = off;
      off += l.dims.size;
      return o;
    });
    this.size = off;
  }

  precondition(grads: readonly Float64Array[], out: readonly Float64Array[], count: number): void {
    const p = this.size;
    const x = new Float64Array(count * p);
    for (let l = 0; l < this.layers.length; l++) {
      const pl = (this.layers[l] as InfluenceLayer).dims.size;
      const src = grads[l] as Float64Array;
      for (let c = 0; c < count; c++) x.set(src.subarray(c * pl, (c + 1) * pl), c * p + (this.offsets[l] as number));
    }
    const y = new Float64Array(count * p);
    // Y = X H⁻¹ (H⁻¹ symmetric, so each row is (H⁻¹ x)ᵀ).
    gemmStrided(false, false, count, p, p, 1, x, 0, p, this.inverse, 0, p, 0, y, 0, p);
    for (let l = 0; l < this.layers.length; l++) {
      const pl = (this.layers[l] as InfluenceLayer).dims.size;
      const dst = out[l] as Float64Array;
      const o = this.offsets[l] as number;
      for (let c = 0; c < count; c++) dst.set(y.subarray(c * p + o, c * p + o + pl), c * pl);
    }
  }

  selfInfluence(stats: readonly Float64Statistics[], out: Float64Array, perLayer: Float64Array | null): void {
    const n = (stats[0] as Float64Statistics).batchSize;
    const p = this.size;
    const v = new Float64Array(n * p);
    for (let l = 0; l < this.layers.length; l++) {
      perExampleGradientsInto(
        v,
        p,
        this.offsets[l] as number,
        (this.layers[l] as InfluenceLayer).dims,
        stats[l] as Float64Statistics,
      );
    }
    const y = new Float64Array(n * p);
    gemmStrided(false, false, n, p, p, 1, v, 0, p, this.inverse, 0, p, 0, y, 0, p);
    for (let e = 0; e < n; e++) {
      let total = 0;
      for (let l = 0; l < this.layers.length; l++) {
        const o = this.offsets[l] as number;
        const pl = (this.layers[l] as InfluenceLayer).dims.size;
        let acc = 0;
        for (let j = o; j < o + pl; j++) acc += (v[e * p + j] as number) * (y[e * p + j] as number);
        if (perLayer !== null) perLayer[l * n + e] = acc;
        total += acc;
      }
      out[e] = total;
    }
  }
}

/** Forms F over every example of `batches` and inverts F + λ explicitly (see the header). */
export function fitExactInfluence(
  model: CurvatureModel,
  batches: Iterable<InfluenceBatch>,
  options: FitExactInfluenceOptions = {},
): ExactInfluence {
  const fn = "fitExactInfluence";
  checkOptions(fn, "options", options, FIT_EXACT_INFLUENCE_KEYS);
  checkCallback(fn, "options.onProgress", options.onProgress);
  const structure = checkChoice(fn, "options.structure", options.structure, ["full", "block-diagonal"], "full");
  const fisherMode = checkChoice(fn, "options.fisher", options.fisher, ["true", "empirical"], "true");
  const damping = options.damping ?? defaultInfluenceDamping;
  const snap = snapshotLayers(fn, model);
  checkDampingOption(fn, damping, snap.length);
  const offsets: number[] = [];
  let p = 0;
  for (const l of snap) {
    offsets.push(p);
    p += l.dims.size;
  }
  if (p > maxExactInfluenceParameters) {
    throw new RangeError(
      `${fn}: the curvature layers have ${p} parameters; the explicit inverse is limited to ${maxExactInfluenceParameters}`,
    );
  }
  const f = new Float64Array(p * p);
  let v = new Float64Array(0);
  let seen = 0;
  const n = forEachBatch(
    fn,
    "batches",
    model,
    snap,
    batches,
    fisherMode === "true" ? "sampled" : "labels",
    (stats, b) => {
      const nb = (stats[0] as Float64Statistics).batchSize;
      if (v.length < nb * p) v = new Float64Array(nb * p);
      for (let l = 0; l < snap.length; l++) {
        perExampleGradientsInto(
          v,
          p,
          offsets[l] as number,
          (snap[l] as { dims: InfluenceLayer["dims"] }).dims,
          stats[l] as Float64Statistics,
        );
      }
      gemmStrided(true, false, p, p, nb, 1, v, 0, p, v, 0, p, 1, f, 0, p);
      seen += nb;
      options.onProgress?.({ phase: "exact-fisher", batches: b + 1, examples: seen });
    },
  );
  if (n === 0) throw new RangeError(`${fn}: batches yielded no examples (an empty dataset)`);
  for (let i = 0; i < f.length; i++) f[i] = (f[i] as number) / n;
  const layerOf = new Int32Array(p);
  snap.forEach((l, i) => {
    layerOf.fill(i, offsets[i] as number, (offsets[i] as number) + l.dims.size);
  });
  if (structure === "block-diagonal") {
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) if (layerOf[i] !== layerOf[j]) f[i * p + j] = 0;
  }
  const means = snap.map((l, i) => {
    const o = offsets[i] as number;
    let tr = 0;
    for (let j = o; j < o + l.dims.size; j++) tr += f[j * p + j] as number;
    return tr / l.dims.size;
  });
  const lambdas = resolveDamping(damping, means);
  const h = f.slice();
  for (let i = 0; i < p; i++) h[i * p + i] = (h[i * p + i] as number) + (lambdas[layerOf[i] as number] as number);
  const inverse = spdInverse({ rows: p, cols: p, data: h }).data;
  const layers = snap.map((l, i) => ({ ...l, damping: lambdas[i] as number }));
  return new ExactInfluence(structure === "full" ? "exact-full" : "exact-block-diagonal", layers, n, f, inverse);
}
