/**
 * The deep autoencoder of Hinton & Salakhutdinov (2006), the benchmark of the KFAC and EKFAC papers,
 * at a reduced size: 784-256-64-16-64-256-784 (sigmoid hidden units, a linear 16-unit code, logits
 * out), trained with EKFAC to reconstruct MNIST digits under the Bernoulli loss (sigmoid cross-entropy
 * against the pixel intensities). The inputs are their own targets.
 *
 *   npx -y pnpm@12.4.2 example examples/autoencoder.ts [--smoke]
 */
import { type Tensor, wrap } from "@ekfac-ts/autodiff";
import { ekfac, Optimizer } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { deepAutoencoder, evaluate, fit, sigmoidCrossEntropy, sparseInit, zerosInit } from "@ekfac-ts/nn";
import { mnistDigits, PIXELS, smoke } from "./mnist-data.ts";

const { train, test } = mnistDigits(smoke ? 500 : 5000, smoke ? 200 : 1000);
const sizes = smoke ? [PIXELS, 64, 16] : [PIXELS, 256, 64, 16];
const model = deepAutoencoder({ sizes, seed: 1 });
// Martens' (2010) sparse initialisation, as in the KFAC papers: 15 non-zero N(0, 1) incoming weights
// per unit, zero biases. From PyTorch's default initialisation this deep sigmoid network sits on the
// "mean image" plateau (about 205 nats) for many epochs.
const rng = new Rng(2);
for (const layer of model.curvatureLayers()) {
  sparseInit(layer.weight.value, [layer.outDim, layer.inDim], rng);
  if (layer.bias !== null) zerosInit(layer.bias.value);
}

// The dataset's targets are the images themselves: nn's loaders copy the target rows alongside.
const asAutoencoder = (d: typeof train) => ({ inputs: d.inputs, targets: d.inputs, count: d.count });
// The loss sees the batch's target rows as a flat array; give them the output's shape.
const loss = (logits: Tensor, targets: Float32Array) => sigmoidCrossEntropy(logits, wrap(targets, logits.shape));

// EKFAC with the true Fisher: the loss draws Bernoulli targets from the model's own outputs for the
// curvature (seeded per step), while the gradient still comes from the real pixels. KL-clipping at
// κ = 0.01 and damping 0.01 are the bench demo's tuned values for this network.
const opt = new Optimizer(ekfac(model, { learningRate: 0.1, damping: 0.01, klClip: 0.01, basisEvery: 20 }), model);
const before = evaluate(model, asAutoencoder(test), { inputShape: [PIXELS], loss }).loss as number;
const history = fit(model, opt, asAutoencoder(train), {
  epochs: smoke ? 1 : 5,
  batchSize: 100,
  inputShape: [PIXELS],
  loss,
  validation: asAutoencoder(test),
  onEpoch: (r) =>
    console.log(`epoch ${r.epoch}: train loss ${r.loss.toFixed(2)}, held-out loss ${r.validation?.loss?.toFixed(2)}`),
});
const after = history.at(-1)?.validation?.loss as number;
console.log(
  `held-out reconstruction loss (nats per image): ${before.toFixed(2)} before training → ${after.toFixed(2)}`,
);
if (!(after < before)) throw new Error("the autoencoder did not learn");
