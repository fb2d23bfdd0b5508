/**
 * An MNIST classifier, 784-64-10 (tanh), trained twice from the same initial weights: with Adam and
 * with EKFAC. nn's `fit` runs the loop (zeroGrad → forward → loss → backward → `opt.step()`) and reports
 * the held-out accuracy after every epoch.
 *
 *   npx -y pnpm@12.4.2 example examples/mnist-classifier.ts [--smoke]
 */
import { adam, ekfac, Optimizer } from "@ekfac-ts/ekfac";
import { accuracy, type EpochResult, fit, mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { mnistDigits, PIXELS, smoke } from "./mnist-data.ts";

const { train, test } = mnistDigits(smoke ? 512 : 8000, smoke ? 256 : 2000);
const epochs = smoke ? 1 : 5;
console.log(`MNIST: ${train.count} training digits, ${test.count} held out; ${epochs} epoch(s), batches of 128`);

function report(name: string) {
  return (r: EpochResult) =>
    console.log(
      `${name} epoch ${r.epoch}: train loss ${r.loss.toFixed(4)}, held-out loss ${r.validation?.loss?.toFixed(4)}, ` +
        `held-out accuracy ${r.validation?.metrics.accuracy?.toFixed(3)}`,
    );
}

const results: Record<string, number> = {};
for (const name of ["adam", "ekfac"] as const) {
  // Same seed → same initial weights for both optimizers.
  const model = mlp([PIXELS, 64, 10], "tanh", { seed: 1 });
  // Adam binds to the model's parameter refs; EKFAC also reads the model's layers and asks them to
  // capture the inputs and output gradients its curvature needs (the optimizer manages that itself).
  const opt =
    name === "adam"
      ? new Optimizer(adam(1e-3), model)
      : new Optimizer(ekfac(model, { learningRate: 0.1, damping: 0.01 }), model);
  const history = fit(model, opt, train, {
    epochs,
    batchSize: 128,
    inputShape: [PIXELS],
    loss: softmaxCrossEntropy,
    metrics: { accuracy },
    validation: test,
    seed: 7, // the same shuffles for both
    onEpoch: report(name),
  });
  results[name] = history.at(-1)?.validation?.metrics.accuracy ?? Number.NaN;
}

// A check, so that CI's smoke run fails if training is broken: both must beat chance (0.1) clearly.
for (const [name, acc] of Object.entries(results)) {
  if (!(acc > 0.3)) throw new Error(`${name}: held-out accuracy ${acc} is not above chance`);
}
