/**
 * Losses (MEAN over the batch of N examples: `L = (1/N) Σ_n ℓ_n`, shared/paper-notes.md §1) and
 * samplers of targets from the model's own predictive distribution, for the TRUE Fisher (§2).
 *
 * Each loss is the negative log-likelihood of a distribution, summed over the output dimensions, so
 * that `g_n = ∂ℓ_n/∂s_n` with targets sampled from that distribution has `E[g gᵀ]` equal to the Fisher
 * of the output layer — which is what KFAC's G factor estimates:
 *
 * | loss | ℓ_n | predictive p(y \| s) | sampler | E[g gᵀ] over y ~ p |
 * | --- | --- | --- | --- | --- |
 * | softmax CE (integer labels or one-hot) | `−log softmax(s)[y]` | Categorical(softmax s) | `sampleCategorical` | `diag(p) − p pᵀ` |
 * | sigmoid CE | `Σ_j softplus(s_j) − y_j s_j` | Π_j Bernoulli(σ(s_j)) | `sampleBernoulli` | `diag(p(1 − p))` |
 * | squared error | `½ ‖s − y‖²` | N(s, I) | `sampleGaussian` | `I` |
 *
 * The ½ in the squared error matters: `−log N(y; s, I) = ½‖y − s‖² + const`, so `g = s − y = −ε` with
 * `ε ~ N(0, I)` and `E[g gᵀ] = I`. PyTorch's `MSELoss` (mean over all N·D elements, no ½) equals
 * `(2/D)·mseLoss` here: its gradients, and any Fisher built from them, are scaled by `2/D`
 * (its squared gradients by `4/D²`). We keep the likelihood form so that the sampled-target Fisher is
 * exact; multiply by `2/D` yourself to reproduce PyTorch's numbers.
 *
 * Sigmoid CE is computed as `softplus(s) − y·s` (= `−y log σ(s) − (1 − y) log(1 − σ(s))`, without
 * overflow); softmax CE through `logSoftmax` (max-shifted log-sum-exp).
 * Cost: O(N·D) per loss; samplers one uniform (Bernoulli, Categorical) or normal draw per value.
 */
import { gather, logSoftmax, mul, softplus, square, sub, sum, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { allocate, type FloatArray, type Rng } from "@ekfac-ts/linalg";

function check2d(fn: string, name: string, t: Tensor): [number, number] {
  if (t.ndim !== 2) throw new RangeError(`${fn}: ${name} must be N × D (got [${t.shape.join(", ")}])`);
  return [t.shape[0] as number, t.shape[1] as number];
}

/**
 * A mean loss over an empty batch is 0/0: PyTorch returns NaN; here it is a RangeError, since a NaN
 * loss would reach the parameters through the optimizer without a word.
 */
function checkBatch(fn: string, n: number): void {
  if (n === 0) throw new RangeError(`${fn}: the batch is empty (a mean over 0 examples has no value)`);
}

function checkSame(fn: string, a: Tensor, b: Tensor): void {
  if (a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${fn}: output [${a.shape.join(", ")}] and target [${b.shape.join(", ")}] shapes differ`);
  }
}

/** `(1/N) Σ_n −log softmax(logits_n)[labels_n]`; labels are integers in [0, C). */
export function softmaxCrossEntropy(logits: Tensor, labels: ArrayLike<number>): Tensor {
  const fn = "softmaxCrossEntropy";
  const [n, c] = check2d(fn, "logits", logits);
  checkBatch(fn, n);
  if (labels.length !== n) throw new RangeError(`${fn}: ${labels.length} labels for ${n} rows of logits`);
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number;
    if (!Number.isInteger(y) || y < 0 || y >= c)
      throw new RangeError(`${fn}: labels[${i}] = ${y} is outside [0, ${c})`);
  }
  return mul(sum(gather(logSoftmax(logits, 1), 1, labels)), -1 / n);
}

/** `(1/N) Σ_n −Σ_j targets_nj · log softmax(logits_n)_j` (one-hot or soft targets). */
export function softmaxCrossEntropyOneHot(logits: Tensor, targets: Tensor): Tensor {
  const fn = "softmaxCrossEntropyOneHot";
  const [n] = check2d(fn, "logits", logits);
  checkBatch(fn, n);
  checkSame(fn, logits, targets);
  return mul(sum(mul(targets, logSoftmax(logits, 1))), -1 / n);
}

/** `(1/N) Σ_n Σ_j softplus(s_nj) − y_nj·s_nj` (Bernoulli NLL with logits; y in [0, 1]). */
export function sigmoidCrossEntropy(logits: Tensor, targets: Tensor): Tensor {
  const fn = "sigmoidCrossEntropy";
  const [n] = check2d(fn, "logits", logits);
  checkBatch(fn, n);
  checkSame(fn, logits, targets);
  return mul(sum(sub(softplus(logits), mul(targets, logits))), 1 / n);
}

/** `(1/N) Σ_n ½‖output_n − target_n‖²` (Gaussian NLL with unit variance; see the header on scaling). */
export function mseLoss(output: Tensor, target: Tensor): Tensor {
  const fn = "mseLoss";
  const [n] = check2d(fn, "output", output);
  checkBatch(fn, n);
  checkSame(fn, output, target);
  return mul(sum(square(sub(output, target))), 0.5 / n);
}

/**
 * Draws `out[n] ~ Categorical(softmax(logits_n))` (inverse CDF, float64 accumulation); returns out.
 * A row with a NaN, a +∞, or no finite logit (all −∞, or no classes) defines no distribution: a
 * RangeError naming the row, as PyTorch's multinomial refuses such probabilities — never a class.
 */
export function sampleCategoricalInto(out: Int32Array, logits: Tensor, rng: Rng): Int32Array {
  const [n, c] = check2d("sampleCategoricalInto", "logits", logits);
  if (out.length !== n) throw new RangeError(`sampleCategoricalInto: out has length ${out.length}, expected ${n}`);
  const z = logits.data;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, z[i * c + j] as number);
    if (!Number.isFinite(m)) {
      throw new RangeError(
        `sampleCategoricalInto: logits row ${i} defines no distribution (its maximum is ${m}; expected finite logits, −∞ allowed but not all)`,
      );
    }
    let total = 0;
    for (let j = 0; j < c; j++) total += Math.exp((z[i * c + j] as number) - m);
    const u = rng.uniform() * total;
    let acc = 0;
    let k = c - 1; // if rounding leaves u ≥ acc at the end, the last class is the answer
    for (let j = 0; j < c; j++) {
      acc += Math.exp((z[i * c + j] as number) - m);
      if (u < acc) {
        k = j;
        break;
      }
    }
    out[i] = k;
  }
  return out;
}

export function sampleCategorical(logits: Tensor, rng: Rng): Int32Array {
  return sampleCategoricalInto(new Int32Array(logits.shape[0] ?? 0), logits, rng);
}

/** Draws `out_nj ~ Bernoulli(σ(logits_nj))` as 0/1; returns out (same length as logits). */
export function sampleBernoulliInto<T extends FloatArray>(out: T, logits: Tensor, rng: Rng): T {
  if (out.length !== logits.size)
    throw new RangeError(`sampleBernoulliInto: out has length ${out.length}, expected ${logits.size}`);
  const z = logits.data;
  for (let i = 0; i < out.length; i++) {
    const s = z[i] as number;
    if (Number.isNaN(s)) throw new RangeError(`sampleBernoulliInto: logits[${i}] is NaN (no probability)`);
    const p = s >= 0 ? 1 / (1 + Math.exp(-s)) : Math.exp(s) / (1 + Math.exp(s));
    out[i] = rng.uniform() < p ? 1 : 0;
  }
  return out;
}

export function sampleBernoulli(logits: Tensor, rng: Rng): Tensor {
  return wrap(sampleBernoulliInto(allocate(logits.size, logits.dtype), logits, rng), logits.shape);
}

/** Draws `out = output + ε`, `ε ~ N(0, I)`; returns out. */
export function sampleGaussianInto<T extends FloatArray>(out: T, output: Tensor, rng: Rng): T {
  if (out.length !== output.size)
    throw new RangeError(`sampleGaussianInto: out has length ${out.length}, expected ${output.size}`);
  const f = output.data;
  for (let i = 0; i < out.length; i++) out[i] = (f[i] as number) + rng.normal();
  return out;
}

export function sampleGaussian(output: Tensor, rng: Rng): Tensor {
  return wrap(sampleGaussianInto(allocate(output.size, output.dtype), output, rng), output.shape);
}

/**
 * A loss paired with its predictive distribution: `value` is the mean loss, `sample` draws targets
 * from the model's predictive distribution at `output` (for the true Fisher's extra backward pass).
 */
export interface Loss<Y> {
  readonly name: string;
  value(output: Tensor, target: Y): Tensor;
  sample(output: Tensor, rng: Rng): Y;
}

export const softmaxCrossEntropyLoss: Loss<ArrayLike<number>> = {
  name: "softmaxCrossEntropy",
  value: softmaxCrossEntropy,
  sample: sampleCategorical,
};

export const sigmoidCrossEntropyLoss: Loss<Tensor> = {
  name: "sigmoidCrossEntropy",
  value: sigmoidCrossEntropy,
  sample: sampleBernoulli,
};

export const squaredErrorLoss: Loss<Tensor> = {
  name: "mse",
  value: mseLoss,
  sample: sampleGaussian,
};
