// The MNIST classifier the training page (train.html, train.js) runs, without the DOM: data, split,
// and one training loop for every optimizer. The loop is the library's one path — forward → nn loss →
// backward → `Optimizer.step()` — and the optimizers differ only in the transform they build. KFAC and
// EKFAC use the library defaults plus a learning rate (true Fisher sampled by nn's loss, KL-clipping,
// damping, momentum: see packages/ekfac/src/kfac.ts), as a new user would write them; Adam uses the
// ekfac README's setting; SGD is heavy-ball SGD.
import { backward, noGrad, wrap } from "@ekfac-ts/autodiff";
import { adam, ekfac, kfac, Optimizer, sgd } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { BatchLoader, mlp, softmaxCrossEntropy } from "@ekfac-ts/nn";

export const CLASSES = 10;

/** The selectable optimizers: a label for the legend and the transform each builds for a model. */
export const OPTIMIZERS = {
  sgd: { label: "SGD (lr 0.1, momentum 0.9)", transform: () => sgd(0.1, { momentum: 0.9 }) },
  adam: { label: "Adam (lr 1e-3)", transform: () => adam(1e-3) },
  kfac: { label: "KFAC (defaults, lr 0.1)", transform: (model) => kfac(model, { learningRate: 0.1 }) },
  ekfac: { label: "EKFAC (defaults, lr 0.1)", transform: (model) => ekfac(model, { learningRate: 0.1 }) },
};

/** Every fifth example (i % 5 == 0) is held out. */
export const heldOut = (i) => i % 5 === 0;

/**
 * The digits written by make-digits.mjs ({ size, count, labels, pixels: base64 bytes }) as
 * { x: Float32Array count × size², labels, dim, count, source }.
 */
export function decodeDigits({ size, count, labels, pixels }) {
  const bytes = Uint8Array.from(atob(pixels), (ch) => ch.charCodeAt(0));
  const x = new Float32Array(count * size * size);
  for (let i = 0; i < x.length; i++) x[i] = bytes[i] / 255;
  return { x, labels: Int32Array.from(labels), dim: size * size, count, source: `MNIST digits (${size}×${size})` };
}

/**
 * A synthetic stand-in for the digits: `count` points in `dim` dimensions, 10 Gaussian classes
 * (centres 0.5·N(0, I), unit noise). Classes are assigned by a seeded shuffle WITHIN each side of the
 * split (balanced: every class appears in both the training and the held-out examples), so they are
 * tied neither to the index nor to the split.
 */
export function syntheticDigits(seed = 7, count = 600, dim = 196) {
  const rng = new Rng(seed);
  const centres = rng.fillNormal(new Float32Array(CLASSES * dim));
  const labels = new Int32Array(count);
  for (const side of [true, false]) {
    const rows = [];
    for (let i = 0; i < count; i++) if (heldOut(i) === side) rows.push(i);
    const order = rng.permutation(rows.length);
    rows.forEach((row, k) => {
      labels[row] = order[k] % CLASSES;
    });
  }
  const x = new Float32Array(count * dim);
  for (let n = 0; n < count; n++) {
    for (let j = 0; j < dim; j++) x[n * dim + j] = 0.5 * centres[labels[n] * dim + j] + rng.normal();
  }
  return { x, labels, dim, count, source: "synthetic points in 10 Gaussian classes" };
}

/** { train, test } with test = the held-out rows (heldOut), each { x, labels, count }. */
export function split({ x, labels, dim, count }) {
  const pick = (keep) => {
    const rows = [];
    for (let i = 0; i < count; i++) if (heldOut(i) === keep) rows.push(i);
    const out = new Float32Array(rows.length * dim);
    rows.forEach((r, k) => {
      out.set(x.subarray(r * dim, (r + 1) * dim), k * dim);
    });
    return { x: out, labels: Int32Array.from(rows, (r) => labels[r]), count: rows.length };
  };
  return { train: pick(false), test: pick(true), dim };
}

/** Fraction of `set` whose largest logit is its label. */
export function accuracy(model, { x, labels, count }, dim) {
  const logits = noGrad(() => model.forward(wrap(x, [count, dim]))).data;
  let correct = 0;
  for (let i = 0; i < count; i++) {
    let arg = 0;
    for (let c = 1; c < CLASSES; c++) if (logits[i * CLASSES + c] > logits[i * CLASSES + arg]) arg = c;
    if (arg === labels[i]) correct++;
  }
  return correct / count;
}

/**
 * Trains a dim→64→10 ReLU MLP (nn's default initialisation, seed `seed`) with optimizer `kind` for
 * `epochs` epochs of minibatches of `batchSize` (seeded order, the same for every optimizer).
 * `onStep(loss, step)` gets every minibatch loss and `onEpoch(epoch, accuracy)` the held-out accuracy
 * after every epoch; both may return a promise (the page yields to the browser there).
 * Returns { losses, accuracies, skipped }.
 */
export async function train(
  { train: set, test, dim },
  kind,
  { epochs = 6, batchSize = 50, seed = 1, onStep = () => {}, onEpoch = () => {} } = {},
) {
  const spec = OPTIMIZERS[kind];
  if (spec === undefined)
    throw new RangeError(`train: unknown optimizer ${kind} (expected ${Object.keys(OPTIMIZERS)})`);
  const model = mlp([dim, 64, CLASSES], "relu", { seed });
  const opt = new Optimizer(spec.transform(model), model);
  const loader = new BatchLoader(
    { inputs: set.x, targets: set.labels, count: set.count },
    { batchSize, rng: seed + 100, dropLast: true },
  );
  const losses = [];
  const accuracies = [];
  let skipped = 0;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const batch of loader.epoch()) {
      model.zeroGrad();
      const loss = softmaxCrossEntropy(model.forward(wrap(batch.inputs, [batch.size, dim])), batch.targets);
      backward(loss);
      if (opt.step().skipped) skipped++;
      losses.push(loss.item());
      await onStep(losses[losses.length - 1], losses.length - 1);
    }
    accuracies.push(accuracy(model, test, dim));
    await onEpoch(epoch, accuracies[accuracies.length - 1]);
  }
  model.setCapture(false);
  return { losses, accuracies, skipped };
}
