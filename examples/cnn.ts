/**
 * A small convolutional network on MNIST, trained with EKFAC: VGG-style stages of
 * [conv 3×3 → BatchNorm → ReLU] ×2 → max-pool, then global average pooling and a Linear head
 * (nn's `smallVgg`). EKFAC preconditions the convolutions with KFC's Kronecker factors (one row of
 * statistics per example and output position), the BatchNorm scale and shift with their exact 2×2
 * per-channel Fisher, and the head like any dense layer.
 *
 *   npx -y pnpm@12.4.2 example examples/cnn.ts [--smoke]
 */
import { describeCurvature, ekfac, Optimizer } from "@ekfac-ts/ekfac";
import { accuracy, fit, smallVgg, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { mnistDigits, smoke } from "./mnist-data.ts";

const { train, test } = mnistDigits(smoke ? 256 : 3000, smoke ? 128 : 1000);
const model = smallVgg({ widths: smoke ? [4, 8] : [8, 16], seed: 1 });
const chain = ekfac(model, { learningRate: 0.1, damping: 0.01, basisEvery: 10 });
// Which block preconditions which parameter: KFC for conv weights, scale-and-shift for BatchNorm.
console.log(describeCurvature(chain.curvature));

const opt = new Optimizer(chain, model);
const losses: number[] = [];
const history = fit(model, opt, train, {
  epochs: smoke ? 1 : 3,
  batchSize: smoke ? 32 : 64,
  inputShape: [1, 28, 28], // channels × height × width: the flat 784 pixels as an image
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
  validation: test,
  onBatch: (p) => {
    losses.push(p.loss);
    if (p.batch % 10 === 0) console.log(`  epoch ${p.epoch}, batch ${p.batch}/${p.batches}: loss ${p.loss.toFixed(3)}`);
  },
  onEpoch: (r) =>
    console.log(
      `epoch ${r.epoch}: train loss ${r.loss.toFixed(3)}, held-out accuracy ${r.validation?.metrics.accuracy?.toFixed(3)}`,
    ),
});
// A check for CI: the training loss fell (first four batches against the last four) and, at full
// size, held-out accuracy is far above chance. (At smoke size BatchNorm's running statistics, used
// in eval mode, have seen too few batches for held-out accuracy to mean much.)
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const [early, late] = [mean(losses.slice(0, 4)), mean(losses.slice(-4))];
console.log(`training loss: first four batches ${early.toFixed(3)}, last four ${late.toFixed(3)}`);
if (!(late < early)) throw new Error("the training loss did not fall");
const acc = history.at(-1)?.validation?.metrics.accuracy as number;
if (!smoke && !(acc > 0.5)) throw new Error(`held-out accuracy ${acc} is too low`);
