// The ekfac README's example, verbatim (test/readme-example.test.ts checks that it stays so).
import { backward, noGrad, wrap } from "@ekfac-ts/autodiff";
import { ekfac, Optimizer } from "@ekfac-ts/ekfac"; // adam, kfac, sgd for the alternatives below
import { Rng } from "@ekfac-ts/linalg";
import { mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";

const rng = new Rng(0);
const x = wrap(rng.fillNormal(new Float32Array(64 * 4)), [64, 4]); // 64 examples, 4 features
const labels = Int32Array.from({ length: 64 }, (_, i) => ((x.data[i * 4] as number) > 0 ? 1 : 0));

const model = mlp([4, 16, 2], "tanh", { seed: 1 });
const opt = new Optimizer(ekfac(model), model); // step size, momentum and damping adapt by themselves
// or: new Optimizer(kfac(model), model)
// or: new Optimizer(ekfac(model, { learningRate: 0.1 }), model)   (fixed step control)
// or: new Optimizer(adam(1e-3), model)           (torch.optim.Adam's defaults)
// or: new Optimizer(sgd(0.1, { momentum: 0.9 }), model)

// This batch's loss at the current weights: the step control compares it before and after a step.
// (With Dropout in the model, wrap the forward in nn's `model.replay(() => …)`: the same masks.)
const lossNow = () => noGrad(() => softmaxCrossEntropy(model.forward(x), labels).item());

for (let step = 0; step < 40; step++) {
  model.zeroGrad();
  const loss = softmaxCrossEntropy(model.forward(x), labels);
  backward(loss);
  // Reads the gradients (and, for KFAC/EKFAC, the captured statistics). Before the update the weights
  // are still those of this forward pass, so the closure returns its loss then instead of a new pass.
  const value = loss.item();
  const report = opt.step((when) => (when === "before" ? value : lossNow()));
  if (report.skipped) console.warn(`step ${step} skipped: ${report.reason}`);
  const damping = report.curvature?.damping.toPrecision(2);
  if (step % 5 === 0 || step === 39) console.log(`step ${step}: loss ${value.toFixed(4)}, damping ${damping}`); // 0.6866 … 0.0039
}
