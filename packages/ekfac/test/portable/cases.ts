/**
 * Portable conformance cases for @ekfac-ts/ekfac (see ../../../linalg/test/portable/harness.ts).
 */
import { backward, wrap } from "@ekfac-ts/autodiff";
import { adam, applyUpdates, ekfac, sgd } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { check, checkClose, type PortableCase } from "../../../linalg/test/portable/harness.ts";

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
      const opt = ekfac(model, { learningRate: 0.2, damping: 1e-2, basisEvery: 5 });
      model.setCapture(true);
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
];
