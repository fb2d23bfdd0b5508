/**
 * The `fisher-heldout` suite: how well each curvature approximation, fitted on TRAINING minibatches with
 * the true Fisher (targets sampled from the model, as the optimizers use it), matches the true Fisher
 * of the model on HELD-OUT digits, as its eigenbasis ages. The `fisher` suite scores EKFAC in sample
 * (on the minibatch its S* was fitted on, where EKFAC ≤ KFAC is a theorem, MATH.md §4); an optimizer
 * uses the approximation on the data that comes next, so this suite scores it out of sample.
 *
 * Reference, per layer: F_H = (1/H) Σ_h vec(∇_h) vec(∇_h)ᵀ with ∇_h = g_h ā_hᵀ, the Monte-Carlo true
 * Fisher of H held-out digits (one sampled target per digit) at the current parameters, recomputed at
 * every measurement because the parameters move.
 * Approximations, each fitted on training minibatches only:
 * - "diagonal (fresh)": the diagonal Fisher of the current minibatch;
 * - "KFAC (fresh)": G ⊗ A of the current minibatch;
 * - "KFAC (stale)": G ⊗ A of the window's first minibatch (KFAC between basis refreshes);
 * - "EKFAC (fresh)": basis and S* of the current minibatch;
 * - "EKFAC (stale basis, S* of the current minibatch)": the first minibatch's basis, S* re-estimated on
 *   the current minibatch (T_s = 1) — never on the digits it is scored on;
 * - "EKFAC-ra (stale basis, running-average S*)": the same basis, S averaged over the window's
 *   minibatches with decay 0.95 (the optimizer's default `scalingDecay`).
 * Every approximation is diagonal in a Kronecker basis Q (U_G ⊗ U_A, or the identity for the diagonal
 * Fisher): F̂ = Q diag(s) Qᵀ. Then (MATH.md §5)
 *   ‖F_H − F̂‖²_F = ‖F_H‖² − 2⟨F_H, F̂⟩ + ‖F̂‖²,
 *   ‖F_H‖² = (1/H²) Σ_{h,h'} (ā_h·ā_h')² (g_h·g_h')²   (two H × H Gram matrices, by gemm),
 *   ⟨F_H, F̂⟩ = Σ_ij s_ij S_H,ij with S_H = diag(Qᵀ F_H Q), the held-out digits' own scaling in Q,
 *   ‖F̂‖² = Σ s².
 * No P × P matrix is formed. Validation (the suite fails otherwise): the same formula on the training
 * minibatch reproduces ekfac's `gramFrobeniusError` (1e-6 relative), every error is finite, and at age 0
 * the stale-basis EKFAC equals the fresh one.
 *
 * Protocol: the demo autoencoder (sparse initialisation) trained by Adam (η = 3e-3) as in `fisher`, so
 * the trajectory does not depend on the approximations studied; `warmup` steps, then `windows` windows of
 * `window` steps (= T_kfe). Seed 3 for the data split, weights and minibatch order; sampled targets seeded
 * per step. Cost per measurement: one forward and one sampled backward over the H digits, two H × H
 * Gram matrices and one S_H per approximation and layer.
 */

import { wrap } from "@ekfac-ts/autodiff";
import {
  type BatchLayer as CurvatureLayer,
  DiagonalFisher,
  gramFrobeniusError,
  KroneckerBlock,
  type LayerBatch as LayerStatistics,
} from "@ekfac-ts/ekfac";
import { matmul } from "@ekfac-ts/linalg";
import { sigmoidCrossEntropy } from "@ekfac-ts/nn";
import { PIXELS } from "../data/mnist.ts";
import type { BenchRecord, Suite, SuiteContext } from "../harness.ts";
import * as study from "./fisher-study.ts";

const SUITE = "fisher-heldout";

/** The study's sizes (fisher-study.ts) with the held-out count and fewer ages (each costs a held-out pass). */
interface Config extends study.StudyConfig {
  /** H, the held-out digits the reference Fisher is estimated on. */
  readonly heldOut: number;
}

const FULL: Config = { ...study.STUDY_FULL, ages: [0, 1, 2, 4, 8, 16, 24, 39], heldOut: 2000 };
const SMOKE: Config = { ...study.STUDY_SMOKE, ages: [0, 3], heldOut: 64 };

/** The approximations scored, by the label the records and the plot give them. */
const LABEL = {
  diagonal: "diagonal (fresh)",
  kfacFresh: "KFAC (fresh)",
  kfacStale: "KFAC (stale)",
  ekfacFresh: "EKFAC (fresh)",
  ekfacStale: "EKFAC (stale basis, S* of the current minibatch)",
  ekfacRa: "EKFAC-ra (stale basis, running-average S*)",
} as const;
type Kind = keyof typeof LABEL;
const KINDS = Object.keys(LABEL) as Kind[];

/** An EKFAC or KFAC block fitted on `s` alone: factors, eigenbasis and (EKFAC) S*, all in float64. */
function fitted(l: CurvatureLayer, approximation: "kfac" | "ekfac", s: LayerStatistics, scalingDecay = 0) {
  const b = new KroneckerBlock(SUITE, approximation, study.shapeOf(l), {
    factorDecay: 0,
    scalingDecay,
    precision: "float64",
  });
  b.updateFactors(s);
  b.updateBasis();
  b.updateScaling(s);
  return b;
}

/** The approximation's F̂ = Q diag(s) Qᵀ as its scaling s and a probe that returns diag(QᵀFQ) of any statistics. */
interface Diagonalised {
  readonly scaling: Float64Array;
  /** diag(Qᵀ F_s Q) of the statistics' own Fisher F_s, in the layout of `scaling`. */
  scalingOf(s: LayerStatistics): Float64Array;
}

function diagonalised(l: CurvatureLayer, block: KroneckerBlock | DiagonalFisher): Diagonalised {
  if (block instanceof DiagonalFisher) {
    const scaling = block.D.slice();
    return {
      scaling,
      scalingOf(s) {
        const probe = new DiagonalFisher(study.shapeOf(l), { decay: 0 });
        probe.update(s);
        return probe.D;
      },
    };
  }
  const scaling = block.eigenScaling().slice();
  const uA = block.uA.slice();
  const uG = block.uG.slice();
  return {
    scaling,
    scalingOf(s) {
      const probe = new KroneckerBlock(SUITE, "ekfac", study.shapeOf(l), {
        factorDecay: 0,
        scalingDecay: 0,
        precision: "float64",
      });
      probe.uA.set(uA);
      probe.uG.set(uG);
      probe.updateScaling(s);
      return probe.eigenScaling();
    },
  };
}

/** ‖F_s‖²_F = (1/N²) Σ_{n,m} (ā_n·ā_m)² (g_n·g_m)² for dense statistics (T = 1, one group), by two Gram matrices. */
function fisherNormSquared(l: CurvatureLayer, s: LayerStatistics): number {
  const n = s.batchSize;
  const aDim = l.inDim + (l.hasBias ? 1 : 0);
  const a = { rows: n, cols: aDim, data: s.a as Float64Array };
  const g = { rows: n, cols: l.outDim, data: s.g as Float64Array };
  const ga = matmul(a, a, { transB: true }).data;
  const gg = matmul(g, g, { transB: true }).data;
  let sum = 0;
  for (let i = 0; i < n * n; i++) sum += ((ga[i] as number) * (gg[i] as number)) ** 2;
  return sum / (n * n);
}

/** ‖F_s − F̂‖_F / ‖F_s‖_F from the parts in the header. */
function relativeError(d: Diagonalised, s: LayerStatistics, norm2: number): number {
  const sH = d.scalingOf(s);
  let inner = 0;
  let fhat2 = 0;
  for (let i = 0; i < d.scaling.length; i++) {
    const v = d.scaling[i] as number;
    inner += v * (sH[i] as number);
    fhat2 += v * v;
  }
  return Math.sqrt(Math.max(0, norm2 - 2 * inner + fhat2)) / Math.sqrt(norm2);
}

async function run(ctx: SuiteContext): Promise<BenchRecord[]> {
  const cfg = ctx.smoke ? SMOKE : FULL;
  const { data, layers, model, step } = study.adamAutoencoder(cfg);
  if (data.test.count < cfg.heldOut) {
    throw new RangeError(`${SUITE}: ${cfg.heldOut} held-out digits needed, the split has ${data.test.count}`);
  }
  const heldX = data.test.images.subarray(0, cfg.heldOut * PIXELS);
  for (const l of layers) {
    if (l.kind !== "dense" || l.groups !== 1) throw new RangeError(`${SUITE}: layer ${l.name} is not dense`);
  }
  let cursor = 0;
  /** True-Fisher statistics of the H held-out digits at the current parameters (no update). */
  const heldOutStats = (seed: number): LayerStatistics[] => {
    model.setCapture(true, { fisher: "true", seed });
    const input = wrap(heldX, [cfg.heldOut, PIXELS]);
    sigmoidCrossEntropy(model.forward(input), input); // the loss runs the sampled-target backward
    const out = layers.map((l) => study.copyStats(l.statistics as LayerStatistics));
    model.setCapture(false);
    return out;
  };

  ctx.log(`  warm-up: ${cfg.warmup} Adam steps on ${cfg.sizes.join("-")}-… (batch ${cfg.batch}), H = ${cfg.heldOut}`);
  for (let i = 0; i < cfg.warmup; i++) step(null);

  // rel[layer][kind][ageIndex] = list over windows of ‖F_H − F̂‖/‖F_H‖.
  const rel = layers.map(
    () => Object.fromEntries(KINDS.map((k) => [k, cfg.ages.map(() => [] as number[])])) as Record<Kind, number[][]>,
  );
  let nonFinite = 0;
  let crossCheck = 0;
  let ageZeroGap = 0;
  let measurements = 0;
  const msPerMeasurement: number[] = [];

  for (let w = 0; w < cfg.windows; w++) {
    let kfacStale: KroneckerBlock[] = [];
    let ekfacStale: KroneckerBlock[] = [];
    let ekfacRa: KroneckerBlock[] = [];
    for (let age = 0; age < cfg.window; age++) {
      const ai = cfg.ages.indexOf(age);
      const t0 = performance.now();
      // The held-out Fisher at the parameters the minibatch statistics below are captured at.
      const held = ai >= 0 ? heldOutStats(100_000 + cursor) : null;
      cursor++;
      const train = step({ fisher: "true", seed: cursor });
      if (age === 0) {
        kfacStale = layers.map((l, li) => fitted(l, "kfac", train[li] as LayerStatistics));
        ekfacStale = layers.map((l, li) => fitted(l, "ekfac", train[li] as LayerStatistics));
        ekfacRa = layers.map((l, li) => fitted(l, "ekfac", train[li] as LayerStatistics, 0.95));
      } else {
        layers.forEach((_, li) => {
          (ekfacStale[li] as KroneckerBlock).updateScaling(train[li] as LayerStatistics); // decay 0: S* of this minibatch
          (ekfacRa[li] as KroneckerBlock).updateScaling(train[li] as LayerStatistics); // S ← 0.95·S + 0.05·S*
        });
      }
      if (held === null) continue;
      layers.forEach((l, li) => {
        const s = train[li] as LayerStatistics;
        const h = held[li] as LayerStatistics;
        const diag = new DiagonalFisher(study.shapeOf(l), { decay: 0 });
        diag.update(s);
        const ekfacFresh = fitted(l, "ekfac", s);
        const approx: Record<Kind, Diagonalised> = {
          diagonal: diagonalised(l, diag),
          kfacFresh: diagonalised(l, fitted(l, "kfac", s)),
          kfacStale: diagonalised(l, kfacStale[li] as KroneckerBlock),
          ekfacFresh: diagonalised(l, ekfacFresh),
          ekfacStale: diagonalised(l, ekfacStale[li] as KroneckerBlock),
          ekfacRa: diagonalised(l, ekfacRa[li] as KroneckerBlock),
        };
        const norm2 = fisherNormSquared(l, h);
        for (const k of KINDS) {
          const r = relativeError(approx[k], h, norm2);
          if (!Number.isFinite(r)) nonFinite++;
          rel[li]?.[k][ai]?.push(r);
        }
        if (age === 0) {
          ageZeroGap = Math.max(
            ageZeroGap,
            Math.abs(relativeError(approx.ekfacStale, h, norm2) - relativeError(approx.ekfacFresh, h, norm2)),
          );
          // The formula in sample equals the library's Gram-route diagnostics.
          const mine = relativeError(approx.ekfacFresh, s, fisherNormSquared(l, s));
          const lib = gramFrobeniusError(ekfacFresh, s);
          crossCheck = Math.max(crossCheck, Math.abs(mine - lib.frobeniusError / Math.sqrt(lib.fisherNormSquared)));
        }
        measurements++;
      });
      msPerMeasurement.push(performance.now() - t0);
    }
    ctx.log(`  window ${w + 1}/${cfg.windows} done`);
  }

  const ok = nonFinite === 0 && crossCheck <= 1e-6 && ageZeroGap <= 1e-9;
  const records: BenchRecord[] = [];
  const last = cfg.ages.length - 1;
  records.push(
    ...study.ageRecords(
      SUITE,
      layers,
      { ages: cfg.ages, kinds: KINDS, label: LABEL, rel },
      {
        shape: `minibatch ${cfg.batch}, H=${cfg.heldOut}`,
        medianMs: study.median(msPerMeasurement),
        ok,
        error: "‖F_H−F̂‖/‖F_H‖",
      },
    ),
  );
  // Mean over layers, per approximation: the numbers the README quotes.
  for (const k of KINDS) {
    const byAge = cfg.ages.map((_, ai) => study.mean(layers.map((_, li) => study.mean(rel[li]?.[k][ai] ?? []))));
    records.push({
      suite: SUITE,
      case: `mean of ${layers.length} layers`,
      impl: LABEL[k],
      shape: `${cfg.windows} windows × ${cfg.ages.length} ages`,
      median_ms: study.median(msPerMeasurement),
      check: `‖F_H−F̂‖/‖F_H‖ ${byAge[0]?.toFixed(3)} (age 0) → ${byAge[last]?.toFixed(3)} (age ${cfg.ages[last]})`,
      ok,
      ages: cfg.ages,
      relativeError: byAge,
    });
  }
  records.push({
    suite: SUITE,
    case: "validation",
    impl: "checks",
    shape: `${measurements} layer measurements`,
    median_ms: study.median(msPerMeasurement),
    check: `${nonFinite} non-finite; in-sample formula vs gramFrobeniusError max |Δ| = ${crossCheck.toExponential(2)} ≤ 1e-6; age-0 stale − fresh EKFAC max |Δ| = ${ageZeroGap.toExponential(2)} ≤ 1e-9`,
    ok,
  });

  const path = study.writeAgePlot({
    file: ctx.smoke ? "fisher-heldout-smoke.svg" : "fisher-heldout.svg",
    title: `‖F_H − F̂‖ / ‖F_H‖ on ${cfg.heldOut} held-out digits vs basis age (autoencoder ${cfg.sizes.join("-")}-…)`,
    yLabel: "relative Frobenius error (mean of layers)",
    ages: cfg.ages,
    kinds: KINDS,
    label: LABEL,
    dashed: ["kfacFresh", "ekfacFresh", "diagonal"],
    rel,
  });
  ctx.log(`  plot → ${path}`);
  return records;
}

export const fisherHeldoutSuite: Suite = {
  name: SUITE,
  description:
    "‖F_H − F̂‖_F out of sample: approximations fitted on training minibatches vs the true Fisher of held-out digits",
  run,
};
