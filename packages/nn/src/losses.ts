/**
 * Losses (MEAN over the batch of N examples: `L = (1/N) Σ_n ℓ_n`, MATH.md §1) and
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
 *
 * The Fisher inside the losses: when the prediction comes from layers capturing with
 * `setCapture(true, { fisher: "true" | "curvature-prop" | "exact", seed })`, each loss runs that Fisher's backward
 * pass(es) from the prediction before returning (`internal/capture.ts` holds the link and the
 * equations). The cotangents per example row, divided by N (the mean):
 *
 * | loss | "true" (ŷ drawn by `Rng(seed)` with the samplers below) | "curvature-prop" (signs r = ±1 from `Rng(seed)`) | "exact": K and column k |
 * | --- | --- | --- | --- |
 * | softmax CE (both forms) | `softmax(s) − e_ŷ` | `p·(Σ_k r_k √p_k) − (r_j √p_j)_j` | K = C, `sqrt(C·p_k)·(p − e_k)` |
 * | sigmoid CE | `σ(s) − ŷ` | `r_j·sqrt(p_j(1 − p_j))` | K = D, `sqrt(D·p_k(1 − p_k))·e_k` |
 * | squared error | `s − ŷ` | `r_j` | K = D, `sqrt(D)·e_k` |
 *
 * Cost: O(N·D) per loss; samplers one uniform (Bernoulli, Categorical) or normal draw per value
 * (curvature propagation: one uniform per output value, for its sign); a Fisher pass ≈ one backward
 * without weight products ("true", "curvature-prop"), K of them ("exact").
 */
import { assertTensor, gather, logSoftmax, mul, softplus, square, sub, sum, Tensor, wrap } from "@ekfac-ts/autodiff";
import {
  allFinite,
  allocate,
  bernoulliResidualInto,
  type FloatArray,
  logistic32,
  type Rng,
  sigmoidInto,
} from "@ekfac-ts/linalg";
import { type FisherHead, fisherPending, runFisherPasses } from "./internal/capture.ts";
import { isNumberArray, kindOf } from "./internal/checks.ts";

function check2d(fn: string, name: string, t: Tensor): [number, number] {
  assertTensor(fn, name, t);
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

/** `b` (named `nameB`) is a tensor of `a`'s shape and element type. */
function checkSame(fn: string, nameA: string, a: Tensor, nameB: string, b: Tensor): void {
  assertTensor(fn, nameB, b);
  if (a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${fn}: ${nameA} [${a.shape.join(", ")}] and ${nameB} [${b.shape.join(", ")}] shapes differ`);
  }
  if (a.dtype !== b.dtype) {
    throw new TypeError(`${fn}: ${nameA} is ${a.dtype} but ${nameB} is ${b.dtype}; they must share one element type`);
  }
}

/**
 * Every value of `t` finite and in [lo, hi] (`lo` = −∞ / `hi` = ∞ for no bound; NaN fails every compare),
 * else a RangeError naming the first one outside. Runs every step: one pass of three compares per
 * value, nothing allocated (the loss itself makes several O(N·D) passes and allocates their results).
 */
function checkRange(fn: string, name: string, t: Tensor, lo: number, hi: number, why: string): void {
  const x = t.data;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] as number;
    if (!(v >= lo && v <= hi && v !== Number.POSITIVE_INFINITY && v !== Number.NEGATIVE_INFINITY)) {
      const range =
        hi !== Number.POSITIVE_INFINITY
          ? `values in [${lo}, ${hi}]`
          : lo === Number.NEGATIVE_INFINITY
            ? "finite values"
            : `finite values ≥ ${lo}`;
      throw new RangeError(`${fn}: ${name}[${i}] is ${v}, expected ${range} (${why})`);
    }
  }
}

/**
 * `(1/N) Σ_n −log softmax(logits_n)[labels_n]`; labels are integers in [0, C), in an array or a typed
 * array (a Tensor of one-hot rows is a TypeError pointing to {@link softmaxCrossEntropyOneHot}).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: ArrayLike<number>): Tensor {
  const fn = "softmaxCrossEntropy";
  const [n, c] = check2d(fn, "logits", logits);
  if (!isNumberArray(labels)) {
    const hint =
      (labels as unknown) instanceof Tensor
        ? "; for one-hot or soft targets in a Tensor use softmaxCrossEntropyOneHot"
        : "";
    throw new TypeError(
      `${fn}: labels must be integer class labels in an array or a typed array (got ${kindOf(labels)}${hint})`,
    );
  }
  checkBatch(fn, n);
  if (labels.length !== n) throw new RangeError(`${fn}: ${labels.length} labels for ${n} rows of logits`);
  for (let i = 0; i < n; i++) {
    const y = labels[i] as number;
    if (!Number.isInteger(y) || y < 0 || y >= c)
      throw new RangeError(`${fn}: labels[${i}] = ${y} is outside [0, ${c})`);
  }
  if (fisherPending()) runFisherPasses(fn, logits, () => categoricalHead(logits));
  return mul(sum(gather(logSoftmax(logits, 1), 1, labels)), -1 / n);
}

/**
 * `(1/N) Σ_n −Σ_j targets_nj · log softmax(logits_n)_j` (one-hot or soft targets). A negative or
 * non-finite target is a RangeError (the loss would be unbounded below); one pass over the targets.
 */
export function softmaxCrossEntropyOneHot(logits: Tensor, targets: Tensor): Tensor {
  const fn = "softmaxCrossEntropyOneHot";
  const [n] = check2d(fn, "logits", logits);
  checkBatch(fn, n);
  checkSame(fn, "logits", logits, "targets", targets);
  // A negative target weights −log p up without bound below (the loss → −∞ as p → 0).
  checkRange(fn, "targets", targets, 0, Number.POSITIVE_INFINITY, "class probabilities");
  if (fisherPending()) runFisherPasses(fn, logits, () => categoricalHead(logits));
  return mul(sum(mul(targets, logSoftmax(logits, 1))), -1 / n);
}

/**
 * `(1/N) Σ_n Σ_j softplus(s_nj) − y_nj·s_nj` (Bernoulli NLL with logits; y in [0, 1]). A target outside
 * [0, 1] (or NaN) is a RangeError: the loss would be unbounded below. Cost of that check: one pass of
 * two compares per target, nothing allocated.
 */
export function sigmoidCrossEntropy(logits: Tensor, targets: Tensor): Tensor {
  const fn = "sigmoidCrossEntropy";
  const [n] = check2d(fn, "logits", logits);
  checkBatch(fn, n);
  checkSame(fn, "logits", logits, "targets", targets);
  // Outside [0, 1], softplus(s) − y·s is unbounded below (y > 1: → −∞ as s → ∞): no likelihood.
  checkRange(fn, "targets", targets, 0, 1, "Bernoulli probabilities");
  if (fisherPending()) runFisherPasses(fn, logits, () => bernoulliHead(logits));
  return mul(sum(sub(softplus(logits), mul(targets, logits))), 1 / n);
}

/**
 * `(1/N) Σ_n ½‖output_n − target_n‖²` (Gaussian NLL with unit variance; see the header on scaling). A
 * target that is NaN or ±∞ is a RangeError naming it (the loss and every gradient would be NaN); cost:
 * one pass over the targets, nothing allocated.
 */
export function mseLoss(output: Tensor, target: Tensor): Tensor {
  const fn = "mseLoss";
  const [n] = check2d(fn, "output", output);
  checkBatch(fn, n);
  checkSame(fn, "output", output, "target", target);
  checkRange(fn, "target", target, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, "a Gaussian mean");
  if (fisherPending()) runFisherPasses(fn, output, () => gaussianHead(output));
  return mul(sum(square(sub(output, target))), 0.5 / n);
}

let labelScratch = new Int32Array(0);
let probScratch = new Float64Array(0);

/** Categorical(softmax s) per row; p is computed once per loss call into a reused buffer. */
function categoricalHead(logits: Tensor): FisherHead {
  const n = logits.shape[0] as number;
  const c = logits.shape[1] as number;
  if (probScratch.length !== logits.size) probScratch = new Float64Array(logits.size);
  const p = probScratch;
  const z = logits.data;
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, z[i * c + j] as number);
    let total = 0;
    for (let j = 0; j < c; j++) total += p[i * c + j] = Math.exp((z[i * c + j] as number) - m);
    for (let j = 0; j < c; j++) p[i * c + j] = (p[i * c + j] as number) / total;
  }
  return {
    exactClasses: c,
    sampled(out, rng) {
      if (labelScratch.length !== n) labelScratch = new Int32Array(n);
      const y = sampleCategoricalInto(labelScratch, logits, rng);
      for (let i = 0; i < n * c; i++) out[i] = (p[i] as number) / n;
      for (let i = 0; i < n; i++) out[i * c + (y[i] as number)] = (out[i * c + (y[i] as number)] as number) - 1 / n;
    },
    propagated(out, rng) {
      propagateCategoricalInto(out, logits, rng);
      for (let i = 0; i < n * c; i++) out[i] = (out[i] as number) / n;
    },
    exactColumn(out, k) {
      for (let i = 0; i < n; i++) {
        const w = Math.sqrt(c * (p[i * c + k] as number)) / n;
        for (let j = 0; j < c; j++) out[i * c + j] = w * ((p[i * c + j] as number) - (j === k ? 1 : 0));
      }
    },
  };
}

/**
 * Π_j Bernoulli(σ(s_j)) (sigmoid CE): ∂ℓ/∂s_j = p_j − y_j and F_s = diag(p(1 − p)) with p = σ(s) by
 * linalg's logistic function (the same bits on every engine and as autodiff's `sigmoidOf`, which is
 * that function). The sampled targets use one uniform per output, drawn in bulk (`fillUniform`, the
 * same stream as one `uniform()` per output) — the same draws and values as `sampleBernoulliInto` —
 * and their signals (p − y)/N come from linalg's `bernoulliResidualInto`, σ and the draw in one pass,
 * σ in the logits' precision (`logistic32` for a float32 model: its signal is float32 in the backward);
 * curvature propagation and the exact Fisher compute p once per loss call (`sigmoidInto`). A NaN
 * logit is a RangeError naming it when targets are to be sampled, raised before the backward pass
 * (the draws come from the pass's own generator, so nothing outside it has changed).
 */
function bernoulliHead(logits: Tensor): FisherHead {
  const n = logits.shape[0] as number;
  const d = logits.shape[1] as number;
  let p: Float64Array | null = null;
  const probabilities = (): Float64Array => {
    p ??= bernoulliProbabilities(logits);
    return p;
  };
  return {
    exactClasses: d,
    sampled(out, rng) {
      const u = uniformsOf(out.length, rng);
      if (!bernoulliResidualInto(logits.data, 0, u, out, 0, out.length, n)) {
        refuseNaN("sigmoidCrossEntropy", logits.data);
      }
    },
    propagated(out, rng) {
      const p = probabilities();
      for (let i = 0; i < out.length; i++) {
        const q = p[i] as number;
        out[i] = (randomSign(rng) * Math.sqrt(q * (1 - q))) / n;
      }
    },
    exactColumn(out, k) {
      const p = probabilities();
      out.fill(0);
      for (let i = 0; i < n; i++) {
        const q = p[i * d + k] as number;
        out[i * d + k] = Math.sqrt(d * (q * (1 - q))) / n;
      }
    },
  };
}

/** N(s, I) (squared error): ∂ℓ/∂s_j = s_j − y_j, F_s = I; sampled targets y = s + ε, as `sampleGaussianInto` draws them. */
function gaussianHead(prediction: Tensor): FisherHead {
  const n = prediction.shape[0] as number;
  const d = prediction.shape[1] as number;
  const z = prediction.data;
  return {
    exactClasses: d,
    sampled(out, rng) {
      for (let i = 0; i < out.length; i++) {
        const m = z[i] as number;
        out[i] = (m - (m + rng.normal())) / n;
      }
    },
    propagated(out, rng) {
      for (let i = 0; i < out.length; i++) out[i] = randomSign(rng) / n;
    },
    exactColumn(out, k) {
      out.fill(0);
      for (let i = 0; i < n; i++) out[i * d + k] = Math.sqrt(d) / n;
    },
  };
}

let sigmoidScratch = new Float64Array(0);
let uniformScratch = new Float64Array(0);

/** `logistic32` of every float32 logit into the reused buffer of `bernoulliProbabilities`. */
function probabilities32(z: Float32Array): Float64Array {
  if (sigmoidScratch.length !== z.length) sigmoidScratch = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) sigmoidScratch[i] = logistic32(z[i] as number);
  return sigmoidScratch;
}

/** σ of every logit into a reused buffer (valid until the next call); NaN where a logit is NaN. */
function bernoulliProbabilities(logits: Tensor): Float64Array {
  const size = logits.size;
  if (sigmoidScratch.length !== size) sigmoidScratch = new Float64Array(size);
  sigmoidInto(logits.data, 0, sigmoidScratch, 0, size);
  return sigmoidScratch;
}

/**
 * A RangeError naming `fn` and the first NaN in `values` (the logits, or σ of them: NaN exactly where a
 * logit is NaN): there is no probability to sample from. (Curvature propagation and the exact Fisher
 * need no draw from p: a NaN there reaches the statistics, whose scan refuses the step.)
 */
function refuseNaN(fn: string, values: FloatArray): void {
  if (allFinite(values)) return;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i] as number))
      throw new RangeError(`${fn}: logits[${i}] is NaN (no probability to sample from)`);
  }
}

/** `size` uniforms on [0, 1) from `rng` into a reused buffer (the stream of `size` `uniform()` calls). */
function uniformsOf(size: number, rng: Rng): Float64Array {
  if (uniformScratch.length !== size) uniformScratch = new Float64Array(size);
  return rng.fillUniform(uniformScratch);
}

/**
 * −1 or +1 with probability ½ each (one uniform: −1 when u < ½), computed as 1 − 2·[u < ½] rather
 * than by a branch, which random draws would mispredict half the time (curvature propagation draws
 * one per output).
 */
function randomSign(rng: Rng): number {
  return 1 - 2 * +(rng.uniform() < 0.5);
}

/** The largest logit of row i of an N×C array; a RangeError naming `fn` when the row defines no distribution. */
function rowMax(fn: string, z: FloatArray, i: number, c: number): number {
  let m = -Infinity;
  for (let j = 0; j < c; j++) m = Math.max(m, z[i * c + j] as number);
  if (!Number.isFinite(m)) {
    throw new RangeError(
      `${fn}: logits row ${i} defines no distribution (its maximum is ${m}; expected finite logits, −∞ allowed but not all)`,
    );
  }
  return m;
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
    const m = rowMax("sampleCategoricalInto", z, i, c);
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

/**
 * Curvature propagation for a categorical head (MATH.md §2): writes, per row n of the N×C `logits`,
 * `out_n = Σ_k r_nk·sqrt(p_nk)·(p_n − e_k) = p_n·(Σ_k r_nk sqrt(p_nk)) − (r_nj sqrt(p_nj))_j` with
 * `p_n = softmax(logits_n)` and independent signs `r_nk = ±1` (one `rng.uniform()` per entry,
 * row-major), so that `E[out_n out_nᵀ] = diag(p_n) − p_n p_nᵀ`, the Fisher of the logits. Each row sums
 * to 0, so it is also the logits' cotangent of `Σ_j out_nj·log softmax(logits_n)_j` — how an adapter
 * whose graph ends in log-probabilities back-propagates it. Rows without a distribution (a NaN, a +∞,
 * or all −∞) are refused as by `sampleCategoricalInto`. Returns out. Cost O(N·C).
 */
export function propagateCategoricalInto<T extends FloatArray>(out: T, logits: Tensor, rng: Rng): T {
  const fn = "propagateCategoricalInto";
  const [n, c] = check2d(fn, "logits", logits);
  if (out.length !== n * c) throw new RangeError(`${fn}: out has length ${out.length}, expected ${n * c}`);
  const z = logits.data;
  for (let i = 0; i < n; i++) {
    const m = rowMax(fn, z, i, c);
    let total = 0;
    for (let j = 0; j < c; j++) total += Math.exp((z[i * c + j] as number) - m);
    let t = 0;
    for (let j = 0; j < c; j++) {
      const w = randomSign(rng) * Math.sqrt(Math.exp((z[i * c + j] as number) - m) / total);
      out[i * c + j] = -w;
      t += w;
    }
    for (let j = 0; j < c; j++)
      out[i * c + j] = (out[i * c + j] as number) + (Math.exp((z[i * c + j] as number) - m) / total) * t;
  }
  return out;
}

/** Draws one class label per row of the N×C `logits` from softmax(logits_n) (a fresh Int32Array of N labels). */
export function sampleCategorical(logits: Tensor, rng: Rng): Int32Array {
  assertTensor("sampleCategorical", "logits", logits);
  return sampleCategoricalInto(new Int32Array(logits.shape[0] ?? 0), logits, rng);
}

/**
 * Draws `out_nj ~ Bernoulli(σ(logits_nj))` as 0/1 (one uniform per value, y = 1 when u < σ; σ in the
 * logits' precision: linalg's `sigmoidInto` for float64, `logistic32` for float32 — the draws of the
 * true Fisher's sampled targets, `bernoulliResidualInto`); returns out (same length as logits). A NaN
 * logit is a RangeError, raised before anything is drawn.
 */
export function sampleBernoulliInto<T extends FloatArray>(out: T, logits: Tensor, rng: Rng): T {
  assertTensor("sampleBernoulliInto", "logits", logits);
  if (out.length !== logits.size)
    throw new RangeError(`sampleBernoulliInto: out has length ${out.length}, expected ${logits.size}`);
  const z = logits.data;
  const p = z instanceof Float32Array ? probabilities32(z) : bernoulliProbabilities(logits);
  refuseNaN("sampleBernoulliInto", p);
  const u = uniformsOf(out.length, rng);
  for (let i = 0; i < out.length; i++) out[i] = +((u[i] as number) < (p[i] as number));
  return out;
}

/** Draws 0/1 targets ~ Bernoulli(σ(logits)) elementwise, as a fresh tensor of the logits' shape. */
export function sampleBernoulli(logits: Tensor, rng: Rng): Tensor {
  assertTensor("sampleBernoulli", "logits", logits);
  return wrap(sampleBernoulliInto(allocate(logits.size, logits.dtype), logits, rng), logits.shape);
}

/** Draws `out = output + ε`, `ε ~ N(0, I)`; returns out. */
export function sampleGaussianInto<T extends FloatArray>(out: T, output: Tensor, rng: Rng): T {
  assertTensor("sampleGaussianInto", "output", output);
  if (out.length !== output.size)
    throw new RangeError(`sampleGaussianInto: out has length ${out.length}, expected ${output.size}`);
  const f = output.data;
  for (let i = 0; i < out.length; i++) out[i] = (f[i] as number) + rng.normal();
  return out;
}

/** Draws output + ε, ε ~ N(0, I), as a fresh tensor of the output's shape. */
export function sampleGaussian(output: Tensor, rng: Rng): Tensor {
  assertTensor("sampleGaussian", "output", output);
  return wrap(sampleGaussianInto(allocate(output.size, output.dtype), output, rng), output.shape);
}

/**
 * A loss paired with its predictive distribution: `value` is the mean loss, `sample` draws targets
 * from the model's predictive distribution at `output` (for the true Fisher's extra backward pass).
 */
export interface Loss<Y> {
  /** A short identifier (`"softmaxCrossEntropy"`, `"mse"`, …). */
  readonly name: string;
  /** The mean loss over the batch, a scalar tensor on the tape. */
  value(output: Tensor, target: Y): Tensor;
  /** Targets drawn from the model's predictive distribution at `output`. */
  sample(output: Tensor, rng: Rng): Y;
}

/** {@link softmaxCrossEntropy} with integer labels, sampled from the categorical softmax(logits). */
export const softmaxCrossEntropyLoss: Loss<ArrayLike<number>> = {
  name: "softmaxCrossEntropy",
  value: softmaxCrossEntropy,
  sample: sampleCategorical,
};

/** {@link sigmoidCrossEntropy} with 0/1 (or [0, 1]) targets, sampled from Bernoulli(σ(logits)). */
export const sigmoidCrossEntropyLoss: Loss<Tensor> = {
  name: "sigmoidCrossEntropy",
  value: sigmoidCrossEntropy,
  sample: sampleBernoulli,
};

/** {@link mseLoss}, sampled from the unit-variance Gaussian N(output, I). */
export const squaredErrorLoss: Loss<Tensor> = {
  name: "mse",
  value: mseLoss,
  sample: sampleGaussian,
};
