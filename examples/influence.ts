/**
 * Influence functions with EKFAC (Grosse et al. 2023; kronfluence's conventions): which training digits
 * made a prediction, and which training labels look wrong.
 *
 * 1. A 784-64-10 MLP is trained with Adam on MNIST digits of which 5 % have a wrong label (seeded).
 * 2. `fitInfluence` fits EKFAC curvature over the training set; `scoreInfluence` scores every training
 *    digit against a few test digits: a large positive score means that training on the digit lowered
 *    the query's loss (helpful), a negative one that it raised it (harmful).
 * 3. `selfInfluence` ranks the training digits by ∇ᵀ(F̂ + λI)⁻¹∇; mislabelled digits rise to the top.
 *
 *   npx -y pnpm@12.4.2 example examples/influence.ts [--smoke]
 */
import { wrap } from "@ekfac-ts/autodiff";
import { adam, fitInfluence, type InfluenceBatch, Optimizer, scoreInfluence, selfInfluence } from "@ekfac-ts/ekfac";
import { Rng } from "@ekfac-ts/linalg";
import { fit, mlp, type Sequential, sampleCategorical, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { type Digits, mnistDigits, PIXELS, smoke } from "./mnist-data.ts";

const { train, test: queries } = mnistDigits(smoke ? 300 : 2000, 4); // four unseen digits as queries

// Flip 5 % of the training labels to another digit, remembering which.
const rng = new Rng(5);
const flipped = new Set<number>();
while (flipped.size < Math.round(0.05 * train.count)) flipped.add(Math.floor(rng.uniform() * train.count));
for (const i of flipped) train.targets[i] = ((train.targets[i] as number) + 1 + Math.floor(rng.uniform() * 9)) % 10;

const model = mlp([PIXELS, 64, 10], "tanh", { seed: 1 });
fit(model, new Optimizer(adam(2e-3), model), train, {
  epochs: smoke ? 2 : 8,
  batchSize: 64,
  inputShape: [PIXELS],
  loss: softmaxCrossEntropy,
});

/**
 * Influence functions read the model through batch callbacks: each runs forward and backward on one
 * minibatch (ekfac captures what it needs meanwhile), against the labels or, for the true Fisher,
 * against targets sampled from the model (seeded, so that fits are reproducible).
 */
function batches(net: Sequential, d: Digits, batchSize: number): InfluenceBatch[] {
  const out: InfluenceBatch[] = [];
  for (let from = 0, b = 0; from < d.count; from += batchSize, b++) {
    const n = Math.min(batchSize, d.count - from);
    const x = wrap(d.inputs.slice(from * PIXELS, (from + n) * PIXELS), [n, PIXELS]);
    const y = d.targets.slice(from, from + n);
    out.push((targets) => {
      net.zeroGrad();
      const logits = net.forward(x);
      softmaxCrossEntropy(logits, targets === "labels" ? y : sampleCategorical(logits, new Rng(100 + b))).backward();
    });
  }
  return out;
}

const fitted = fitInfluence(model, batches(model, train, 100)); // EKFAC, true Fisher, damping 0.1·mean eigenvalue
const { scores } = scoreInfluence(fitted, model, batches(model, queries, 4), batches(model, train, 250));
for (let q = 0; q < queries.count; q++) {
  const row = (scores as Float64Array).subarray(q * train.count, (q + 1) * train.count);
  const order = Array.from({ length: train.count }, (_, i) => i).sort(
    (i, j) => (row[j] as number) - (row[i] as number),
  );
  const describe = (i: number) => `#${i} (label ${train.targets[i]}${flipped.has(i) ? ", flipped" : ""})`;
  console.log(
    `query ${q} (a ${queries.targets[q]}): most helpful ${order.slice(0, 3).map(describe).join(", ")}; ` +
      `most harmful ${order.slice(-3).reverse().map(describe).join(", ")}`,
  );
}

const self = selfInfluence(fitted, model, batches(model, train, 250)).scores;
const top = Array.from({ length: train.count }, (_, i) => i)
  .sort((i, j) => (self[j] as number) - (self[i] as number))
  .slice(0, flipped.size);
const found = top.filter((i) => flipped.has(i)).length;
console.log(
  `mislabelled digits among the ${flipped.size} of highest self-influence: ${found} of ${flipped.size} ` +
    `(a random choice would find about ${((flipped.size * flipped.size) / train.count).toFixed(1)})`,
);
if (!(found > (flipped.size * flipped.size) / train.count)) throw new Error("self-influence found no more than chance");
