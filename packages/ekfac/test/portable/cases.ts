/**
 * Portable conformance cases for @ekfac-ts/ekfac (see ../../../linalg/test/portable/harness.ts).
 */
import { backward, wrap } from "@ekfac-ts/autodiff";
import {
  adam,
  applyUpdates,
  ekfac,
  exactFisher,
  fisherApproximationReport,
  fitInfluence,
  type InfluenceBatch,
  kfac,
  Optimizer,
  type SavedState,
  scoreInfluence,
  selfInfluence,
  sgd,
  traceOf,
} from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { mlp, type Sequential, sampleCategorical, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { check, checkClose, checkIdentical, type PortableCase } from "../../../linalg/test/portable/harness.ts";

// The settings these cases were tuned with: the empirical Fisher (g of the training loss's own
// backward, captured by nn's layers) and no KL-clipping.
const curvatureOptions = { fisher: "empirical", klClip: null } as const;

/** f(θ) = ½‖θ − c‖²_D with D = diag(d), and its gradient D(θ − c) into `grad`. */
function quadratic(theta: Float64Array, c: Float64Array, d: Float64Array, grad: Float64Array): number {
  let f = 0;
  for (let i = 0; i < theta.length; i++) {
    const r = (theta[i] as number) - (c[i] as number);
    f += 0.5 * (d[i] as number) * r * r;
    grad[i] = (d[i] as number) * r;
  }
  return f;
}

/** Random dense-layer statistics: ā = [x, 1] with x ~ N(0, I), g ~ N(0, I) (N examples, T = 1). */
function denseStatistics(seed: number, outDim: number, inDim: number, n: number) {
  const rng = new Rng(seed);
  const aDim = inDim + 1;
  const a = new Float64Array(n * aDim);
  const g = rng.fillNormal(new Float64Array(n * outDim));
  for (let e = 0; e < n; e++) {
    for (let j = 0; j < inDim; j++) a[e * aDim + j] = rng.normal();
    a[e * aDim + inDim] = 1;
  }
  return {
    shape: { kind: "dense" as const, outDim, inDim, hasBias: true, groups: 1 },
    stats: { batchSize: n, positions: 1, a, g },
  };
}

/** A 3-class problem on 4 features: the class is the argmax of three fixed projections. */
function separable(seed: number, n: number): { x: Float64Array; labels: Int32Array } {
  const x = new Rng(seed).fillNormal(new Float64Array(n * 4));
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = [0, 1, 2].map((k) => (x[i * 4 + k] as number) - (k === 2 ? (x[i * 4 + 3] as number) : 0));
    labels[i] = r.indexOf(Math.max(...r));
  }
  return { x, labels };
}

/** Forward and backward of the mean cross-entropy on minibatch `step mod 2` of 16 (capture on). */
function minibatchStep(model: Sequential, data: { x: Float64Array; labels: Int32Array }, step: number): void {
  const o = (step % 2) * 16;
  model.zeroGrad();
  const logits = model.forward(wrap(data.x.subarray(o * 4, (o + 16) * 4), [16, 4]));
  backward(softmaxCrossEntropy(logits, data.labels.subarray(o, o + 16)));
}

export const cases: PortableCase[] = [
  {
    name: "sgd: one step is θ ← θ − η·∇f",
    run() {
      const theta = Float64Array.of(1, -2, 3);
      const grad = Float64Array.of(0.5, 0.25, -1);
      const opt = sgd(0.1);
      const state = opt.init([theta]);
      opt.update([grad], state, [theta]);
      applyUpdates([theta], [grad]);
      checkClose(theta, [0.95, -2.025, 3.1], "θ after one step");
    },
  },
  {
    name: "adam: 300 steps on an ill-conditioned quadratic lower f by 100× (deterministic across runtimes)",
    run() {
      const n = 8;
      const rng = new Rng(11);
      const c = rng.fillNormal(new Float64Array(n));
      const d = Float64Array.from({ length: n }, (_, i) => 10 ** (i / (n - 1) - 1)); // condition number 10
      const theta = new Float64Array(n);
      const grad = new Float64Array(n);
      const opt = adam(0.05);
      const state = opt.init([theta]);
      const f0 = quadratic(theta, c, d, grad);
      let f = f0;
      for (let step = 0; step < 300; step++) {
        opt.update([grad], state, [theta]);
        applyUpdates([theta], [grad]);
        f = quadratic(theta, c, d, grad);
      }
      check(Number.isFinite(f) && f < f0 / 100, `f went from ${f0} to ${f}`);
    },
  },
  {
    name: "ekfac: 15 steps on a tiny MLP (nn.mlp 4→8→3) lower its training loss by half",
    run() {
      const rng = new Rng(12);
      const n = 48;
      const x = wrap(rng.fillNormal(new Float64Array(n * 4)), [n, 4]);
      const labels = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        // A linearly separable teacher: the class is the argmax of three fixed projections.
        const r = [0, 1, 2].map((k) => (x.data[i * 4 + k] as number) - (k === 2 ? (x.data[i * 4 + 3] as number) : 0));
        labels[i] = r.indexOf(Math.max(...r));
      }
      const model = mlp([4, 8, 3], "tanh", { seed: 3, dtype: "float64" });
      const opt = new Optimizer(
        ekfac(model, { learningRate: 0.2, damping: 1e-2, basisEvery: 5, ...curvatureOptions }),
        model,
      );
      const lossNow = (): number => {
        model.zeroGrad();
        const loss = softmaxCrossEntropy(model.forward(x), labels);
        backward(loss);
        return loss.item();
      };
      const first = lossNow();
      let last = first;
      for (let step = 0; step < 15; step++) {
        const report = opt.step();
        check(!report.skipped, `step ${step} was skipped`);
        last = lossNow();
      }
      check(Number.isFinite(last) && last < first / 2, `loss went from ${first} to ${last}`);
    },
  },
  {
    name: "EKFAC Frobenius error ≤ KFAC Frobenius error against the exact Fisher, trace(F_ekfac) = trace(F)",
    run() {
      const { shape, stats } = denseStatistics(41, 5, 7, 20);
      const r = fisherApproximationReport(shape, stats);
      const f = exactFisher(shape, stats);
      check(r.trace.exact === traceOf(f), `report trace ${r.trace.exact} vs trace(exactFisher) ${traceOf(f)}`);
      check(r.frobeniusError.kfac > 1e-3 * r.fisherNorm, `KFAC is (nearly) exact here: ${r.frobeniusError.kfac}`);
      check(
        r.frobeniusError.ekfac <= r.frobeniusError.kfac,
        `‖F − F_ekfac‖ = ${r.frobeniusError.ekfac} > ‖F − F_kfac‖ = ${r.frobeniusError.kfac}`,
      );
      checkClose([r.trace.ekfac], [r.trace.exact], "trace(F_ekfac) vs trace(F)", { rtol: 1e-10 });
      // With one example F = vvᵀ with v = vec(g āᵀ) = ā ⊗ g, a Kronecker product: KFAC is exact.
      const one = denseStatistics(42, 5, 7, 1);
      const r1 = fisherApproximationReport(one.shape, one.stats);
      check(
        r1.frobeniusError.kfac <= 1e-12 * r1.fisherNorm && r1.frobeniusError.ekfac <= 1e-12 * r1.fisherNorm,
        `one example: KFAC error ${r1.frobeniusError.kfac}, EKFAC ${r1.frobeniusError.ekfac}, ‖F‖ ${r1.fisherNorm}`,
      );
    },
  },
  {
    name: "Optimizer.state / load: curvature training resumes bit-identically (KFAC and EKFAC; empirical, sampled and propagated Fisher)",
    run() {
      const data = separable(43, 32);
      // The true Fisher — sampled targets, or the library default's propagated signs, with KL-clipping —
      // draws in nn's loss with the seed the optimizer requests for each step: a resumed run must request
      // the restored step's seed.
      for (const [fisher, extra] of [
        ["empirical", curvatureOptions],
        ["true", { fisher: "true" }],
        ["curvature-prop", {}],
      ] as const) {
        for (const [approximation, make] of [
          ["kfac", kfac],
          ["ekfac", ekfac],
        ] as const) {
          const name = `${approximation}, ${fisher} Fisher`;
          const options = { learningRate: 0.1, damping: 1e-2, momentum: 0.9, basisEvery: 2, ...extra };
          type Run = { model: Sequential; opt: Optimizer };
          const train = (r: Run, from: number, to: number): void => {
            for (let s = from; s < to; s++) {
              minibatchStep(r.model, data, s);
              check(!r.opt.step().skipped, `${name}: step ${s} was skipped`);
            }
          };
          const fresh = (): Run => {
            const model = mlp([4, 6, 3], "tanh", { seed: 44, dtype: "float64" });
            const transform = make(model, options);
            check(transform.curvature.fisher === fisher, `${name}: built for the ${transform.curvature.fisher} Fisher`);
            // The step refuses statistics of another Fisher, so every step that runs consumed this one.
            return { model, opt: new Optimizer(transform, model) };
          };
          const a = fresh();
          train(a, 0, 7);
          const b = fresh();
          train(b, 0, 4);
          const saved = b.opt.state();
          const params = b.model.parameters().map((p) => p.value.slice());
          // Through JSON text and fresh typed arrays, as a file would.
          const copy: SavedState = {
            format: saved.format,
            meta: JSON.parse(JSON.stringify(saved.meta)),
            arrays: saved.arrays.map((v) => v.slice()),
          };
          train(b, 4, 5); // later steps must not change the snapshot
          const c = fresh();
          c.model.parameters().forEach((p, i) => {
            p.value.set(params[i] as Float64Array);
          });
          c.opt.load(copy);
          train(c, 4, 7);
          const pa = a.model.parameters();
          c.model.parameters().forEach((p, i) => {
            checkIdentical(p.value, pa[i]?.value ?? [], `${name}: ${p.name} after resuming`);
          });
          check(
            c.opt.stepsApplied === 3 && a.opt.stepsApplied === 7 && c.opt.stepsSkipped === 0,
            `${name}: steps ${c.opt.stepsApplied}/${a.opt.stepsApplied}, skipped ${c.opt.stepsSkipped}`,
          );
        }
      }
    },
  },
  {
    name: "influence: fitInfluence + selfInfluence give finite, positive self-influence = score(z, z)",
    run() {
      const data = separable(45, 24);
      const model = mlp([4, 6, 3], "tanh", { seed: 46, dtype: "float64" });
      const batches: InfluenceBatch[] = [0, 1].map((b) => (targets) => {
        const x = wrap(data.x.slice(b * 12 * 4, (b + 1) * 12 * 4), [12, 4]);
        model.zeroGrad();
        const logits = model.forward(x);
        // Seeded per batch: every pass of the fit draws the same targets.
        const y =
          targets === "labels"
            ? data.labels.subarray(b * 12, (b + 1) * 12)
            : sampleCategorical(logits, new Rng(47 + b));
        softmaxCrossEntropy(logits, y).backward();
      });
      for (const approximation of ["ekfac", "kfac"] as const) {
        const fit = fitInfluence(model, batches, { approximation });
        check(
          fit.examples === 24 && fit.basisFailures === 0,
          `${approximation}: fit ${fit.examples}, ${fit.basisFailures}`,
        );
        const self = selfInfluence(fit, model, batches).scores;
        check(self.length === 24, `${approximation}: ${self.length} self-influence scores, expected 24`);
        // (F̂ + λI)⁻¹ is positive definite, so ∇ᵀ(F̂ + λI)⁻¹∇ > 0 for every nonzero gradient.
        for (let i = 0; i < 24; i++) {
          const s = self[i] as number;
          check(Number.isFinite(s) && s > 0, `${approximation}: self-influence of example ${i} is ${s}`);
        }
        const pair = scoreInfluence(fit, model, batches, batches).scores as Float64Array;
        const diagonal = Float64Array.from({ length: 24 }, (_, i) => pair[i * 24 + i] as number);
        checkClose(self, diagonal, `${approximation}: self-influence vs diag of pairwise scores`, { rtol: 1e-9 });
      }
    },
  },
];
