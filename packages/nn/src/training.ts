/**
 * A training loop for nn models: `fit` runs epochs of zeroGrad → forward → loss → backward →
 * `optimizer.step()` over a seeded `BatchLoader`, reports progress and metrics; `evaluate` computes the
 * mean loss and metrics over a dataset without recording gradients; `accuracy` is the usual metric.
 *
 * nn does not depend on ekfac: the optimizer is anything with a `step(loss?)` that reads the model's
 * gradients itself — ekfac's `new Optimizer(ekfac(model), model)`, or a hand-written rule. `fit` hands
 * it a loss closure: the batch's loss at the current parameters, which optimizers with
 * Levenberg–Marquardt damping call before ("before": the training pass's own loss, no new pass) and
 * after a step (a forward pass under `noGrad` in the model's current mode, inside `model.replay`, so that
 * Dropout applies this step's masks again); others ignore it (PyTorch's
 * `optimizer.step(closure)` convention). With BatchNorm in training mode that forward also moves the
 * running statistics, like any forward pass in training mode (as PyTorch's closures do; freezing them
 * was measured and made eval-mode losses worse — MATH.md §11). Capture
 * for curvature optimizers is the optimizer's business (it calls `setCapture`); `evaluate` runs under
 * `noGrad`, which neither captures nor disturbs the statistics of the last training pass.
 *
 * Means: an epoch's loss and metrics are batch means weighted by batch size, i.e. means over the
 * examples for per-example means such as `accuracy` and nn's losses. Training metrics come from the
 * training batches' own outputs (as Keras reports them), so they lag the end-of-epoch parameters.
 */
import { assertTensor, noGrad, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { checkFlag, checkRequiredOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import { BatchLoader, checkBatchSize, checkDataset, type Dataset, type RowArray } from "./data/batches.ts";
import { assertFinite, assertNumberArray, kindOf } from "./internal/checks.ts";
import { assertModule, type Module } from "./module.ts";

/** What `fit` needs from an optimizer: one step from the gradients the last backward left on the model. */
export interface StepOptimizer {
  /**
   * Applies one update; called once after each batch's backward, with the batch's loss as a closure
   * that the optimizer may call or ignore: with "before" (the parameters of this batch's forward pass)
   * it returns that pass's loss, otherwise it runs a forward pass under `noGrad` at the current parameters.
   */
  step(loss?: (when?: "before" | "after") => number): unknown;
  /**
   * The arrays the optimizer updates, when it exposes them (ekfac's `Optimizer.params`): `fit` then
   * checks that each is the value array of one of the model's parameters, since an optimizer bound to
   * another model would run every step and train nothing. A subset is fine (fine-tuning some layers).
   */
  readonly params?: readonly FloatArray[];
}

/** A batch's mean loss from the model's output and the batch's targets (e.g. `softmaxCrossEntropy`). */
export type LossFunction<Y extends RowArray = RowArray> = (output: Tensor, targets: Y) => Tensor;

/** A batch's mean of a per-example metric from the model's output and the targets (e.g. `accuracy`). */
export type Metric<Y extends RowArray = RowArray> = (output: Tensor, targets: Y) => number;

/** Options of `evaluate`. */
export interface EvaluateOptions<Y extends RowArray = RowArray> {
  /** The shape of one input example, e.g. `[784]` or `[1, 28, 28]`. */
  readonly inputShape: readonly number[];
  /** Rows per forward pass (memory, not results). Default 256. */
  readonly batchSize?: number;
  /** The loss to report, or none. */
  readonly loss?: LossFunction<Y>;
  /** Metrics by name. */
  readonly metrics?: { readonly [name: string]: Metric<Y> };
}

/** The keys of {@link EvaluateOptions} (checked against the interface both ways at compile time). */
const EVALUATE_OPTIONS = optionKeys<EvaluateOptions>()(["inputShape", "batchSize", "loss", "metrics"]);

/** Mean loss and metrics over a dataset. */
export interface Evaluation {
  /** The mean loss over the examples, or null without a loss function. */
  readonly loss: number | null;
  /** Each metric's mean over the examples. */
  readonly metrics: { readonly [name: string]: number };
}

/** Options of `fit`. */
export interface FitOptions<Y extends RowArray = RowArray> {
  /** Passes over the training data (an integer ≥ 1). */
  readonly epochs: number;
  /** Rows per training step. */
  readonly batchSize: number;
  /** The shape of one input example, e.g. `[784]` or `[1, 28, 28]`. */
  readonly inputShape: readonly number[];
  /** The training loss, a batch mean. */
  readonly loss: LossFunction<Y>;
  /** Seed of the epoch shuffles. Default 0. */
  readonly seed?: number;
  /** Skip a final short batch each epoch. Default false. */
  readonly dropLast?: boolean;
  /** Metrics by name, reported on the training batches and on `validation`. */
  readonly metrics?: { readonly [name: string]: Metric<Y> };
  /** Evaluated after every epoch (loss and metrics), in eval mode. */
  readonly validation?: Dataset<FloatArray, Y>;
  /** Called after every step. */
  readonly onBatch?: (progress: BatchProgress) => void;
  /** Called after every epoch with its result (also returned by `fit`). */
  readonly onEpoch?: (result: EpochResult) => void;
}

/** The keys of {@link FitOptions} (checked against the interface both ways at compile time). */
const FIT_OPTIONS = optionKeys<FitOptions>()([
  "epochs",
  "batchSize",
  "inputShape",
  "loss",
  "seed",
  "dropLast",
  "metrics",
  "validation",
  "onBatch",
  "onEpoch",
]);

/** One step of `fit`, as `onBatch` sees it. */
export interface BatchProgress {
  /** The epoch, from 1. */
  readonly epoch: number;
  /** The batch within the epoch, from 1. */
  readonly batch: number;
  /** Batches per epoch. */
  readonly batches: number;
  /** Steps taken since `fit` began. */
  readonly step: number;
  /** This batch's loss (before the step). */
  readonly loss: number;
}

/** One epoch of `fit`. */
export interface EpochResult {
  /** The epoch, from 1. */
  readonly epoch: number;
  /** Mean training loss over the epoch's examples. */
  readonly loss: number;
  /** Training metrics, means over the epoch's examples. */
  readonly metrics: { readonly [name: string]: number };
  /** Loss and metrics on `validation` after the epoch, or null without one. */
  readonly validation: Evaluation | null;
}

/** Optional callbacks and the metrics record: functions where given (a TypeError naming them otherwise). */
function checkFunctions(fn: string, given: object, names: readonly string[]): void {
  const options = given as { readonly [key: string]: unknown };
  for (const n of names) {
    const f = options[n];
    if (f !== undefined && typeof f !== "function")
      throw new TypeError(`${fn}: options.${n} must be a function (got ${kindOf(f)})`);
  }
  const metrics = options.metrics;
  if (metrics === undefined) return;
  if (metrics === null || typeof metrics !== "object" || Array.isArray(metrics))
    throw new TypeError(`${fn}: options.metrics must be an object of name → metric function (got ${kindOf(metrics)})`);
  for (const [n, m] of Object.entries(metrics)) {
    if (typeof m !== "function")
      throw new TypeError(`${fn}: options.metrics.${n} must be a function (got ${kindOf(m)})`);
  }
}

/**
 * When the optimizer exposes the arrays it updates (`params`, as ekfac's `Optimizer` does), each must be
 * the value array of one of the model's parameters: an optimizer built for another model (or a copy of
 * this one) would step without error and never change this model. One pass over the parameters.
 */
function checkBound(fn: string, optimizer: StepOptimizer, model: Module): void {
  const params = optimizer.params as unknown;
  if (!Array.isArray(params)) return;
  const own = new Set<unknown>(model.parameters().map((p) => p.value));
  const stray = params.findIndex((p) => !own.has(p));
  if (stray >= 0 || (params.length === 0 && own.size > 0)) {
    const why =
      stray >= 0
        ? `optimizer.params[${stray}] (${kindOf(params[stray])} of ${(params[stray] as { length?: number })?.length} values) is not the value array of any of the model's ${own.size} parameters`
        : "optimizer.params is empty";
    throw new RangeError(
      `${fn}: optimizer is not bound to model's parameters (${why}; build it from this model, e.g. new Optimizer(transform, model))`,
    );
  }
}

function checkShape(fn: string, inputShape: readonly number[], inputSize: number): void {
  const size = Array.isArray(inputShape) ? inputShape.reduce((p, d) => p * d, 1) : Number.NaN;
  if (!(Array.isArray(inputShape) && inputShape.every((d) => Number.isInteger(d) && d >= 1) && size === inputSize)) {
    throw new RangeError(
      `${fn}: options.inputShape must be positive integers with product ${inputSize} (the dataset's values per row); got [${String(inputShape)}]`,
    );
  }
}

/** Sums of batch means weighted by batch size. */
class Means {
  private count = 0;
  private loss = 0;
  private readonly sums: Map<string, number>;
  constructor(private readonly names: readonly string[]) {
    this.sums = new Map(names.map((n) => [n, 0]));
  }
  add(size: number, loss: number, values: readonly number[]): void {
    this.count += size;
    this.loss += size * loss;
    this.names.forEach((n, k) => {
      this.sums.set(n, (this.sums.get(n) as number) + size * (values[k] as number));
    });
  }
  meanLoss(): number {
    return this.loss / this.count;
  }
  metrics(): { [name: string]: number } {
    return Object.fromEntries(this.names.map((n) => [n, (this.sums.get(n) as number) / this.count]));
  }
}

/**
 * Mean loss and metrics of `model` over `data`, in eval mode and without recording gradients (the
 * model's train/eval mode is restored afterwards).
 */
export function evaluate<Y extends RowArray>(
  model: Module,
  data: Dataset<FloatArray, Y>,
  options: EvaluateOptions<Y>,
): Evaluation {
  const fn = "evaluate";
  assertModule(fn, "model", model);
  checkRequiredOptions(fn, "options", options, EVALUATE_OPTIONS);
  checkFunctions(fn, options, ["loss"]);
  checkDataset(fn, "data", data);
  const batchSize = options.batchSize ?? 256;
  checkBatchSize(fn, "options.batchSize", batchSize);
  const loader = new BatchLoader(data, { batchSize, shuffle: false });
  checkShape(fn, options.inputShape, loader.inputSize);
  if (data.count === 0) throw new RangeError(`${fn}: data must hold at least one example`);
  const names = Object.keys(options.metrics ?? {});
  const metrics = names.map((n) => (options.metrics as { [name: string]: Metric<Y> })[n] as Metric<Y>);
  const means = new Means(names);
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (const batch of loader.epoch()) {
        const out = model.forward(wrap(batch.inputs, [batch.size, ...options.inputShape]));
        const loss = options.loss === undefined ? 0 : options.loss(out, batch.targets).item();
        means.add(
          batch.size,
          loss,
          metrics.map((m) => m(out, batch.targets)),
        );
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { loss: options.loss === undefined ? null : means.meanLoss(), metrics: means.metrics() };
}

/**
 * Trains `model` on `data`: per batch zeroGrad → forward → `options.loss` → backward →
 * `optimizer.step(lossClosure)`, for `options.epochs` seeded shuffles. Returns one `EpochResult` per epoch.
 *
 * ```ts
 * const opt = new Optimizer(ekfac(model), model); // @ekfac-ts/ekfac
 * fit(model, opt, train, { epochs: 5, batchSize: 128, inputShape: [784],
 *   loss: softmaxCrossEntropy, metrics: { accuracy }, validation: test });
 * ```
 */
export function fit<Y extends RowArray>(
  model: Module,
  optimizer: StepOptimizer,
  data: Dataset<FloatArray, Y>,
  options: FitOptions<Y>,
): EpochResult[] {
  const fn = "fit";
  assertModule(fn, "model", model);
  if (optimizer === null || typeof optimizer !== "object" || typeof optimizer.step !== "function") {
    throw new TypeError(
      `${fn}: optimizer must have a step() method (got ${optimizer === null ? "null" : typeof optimizer})`,
    );
  }
  checkRequiredOptions(fn, "options", options, FIT_OPTIONS);
  const { epochs } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) {
    throw new RangeError(`${fn}: options.epochs must be an integer ≥ 1 (got ${String(epochs)})`);
  }
  if (typeof options.loss !== "function")
    throw new TypeError(`${fn}: options.loss must be a function (got ${kindOf(options.loss)})`);
  checkFunctions(fn, options, ["onBatch", "onEpoch"]);
  checkFlag(fn, "options.dropLast", options.dropLast);
  const seed = options.seed ?? 0;
  assertFinite(fn, "options.seed", seed);
  checkBound(fn, optimizer, model);
  checkDataset(fn, "data", data);
  checkBatchSize(fn, "options.batchSize", options.batchSize);
  const loader = new BatchLoader(data, {
    batchSize: options.batchSize,
    rng: seed,
    dropLast: options.dropLast ?? false,
  });
  checkShape(fn, options.inputShape, loader.inputSize);
  // The validation set is checked now, not by evaluate after a whole epoch of training.
  const heldOut = options.validation;
  if (heldOut !== undefined) {
    checkDataset(fn, "options.validation", heldOut);
    if (heldOut.count === 0) throw new RangeError(`${fn}: options.validation must hold at least one example`);
    if (heldOut.inputs.length !== heldOut.count * loader.inputSize) {
      throw new RangeError(
        `${fn}: options.validation has ${heldOut.inputs.length / heldOut.count} values per input row, data has ${loader.inputSize}`,
      );
    }
  }
  if (loader.batchesPerEpoch === 0) throw new RangeError(`${fn}: data has no full batch of ${options.batchSize} rows`);
  const names = Object.keys(options.metrics ?? {});
  const metrics = names.map((n) => (options.metrics as { [name: string]: Metric<Y> })[n] as Metric<Y>);
  const history: EpochResult[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    const means = new Means(names);
    model.train();
    let b = 0;
    for (const batch of loader.epoch()) {
      model.zeroGrad();
      const input = wrap(batch.inputs, [batch.size, ...options.inputShape]);
      const out = model.forward(input);
      const lossTensor = options.loss(out, batch.targets);
      lossTensor.backward();
      const loss = lossTensor.item();
      means.add(
        batch.size,
        loss,
        noGrad(() => metrics.map((m) => m(out, batch.targets))),
      );
      // Before the update the parameters are those of this forward pass: its loss needs no second pass.
      // After it, the same minibatch through the same function: `replay` draws this step's Dropout
      // masks again (BatchNorm's running statistics move, as the header says).
      optimizer.step((when) =>
        when === "before"
          ? loss
          : noGrad(() => model.replay(() => options.loss(model.forward(input), batch.targets).item())),
      );
      step++;
      b++;
      options.onBatch?.({ epoch, batch: b, batches: loader.batchesPerEpoch, step, loss });
    }
    const validation =
      options.validation === undefined
        ? null
        : evaluate(model, options.validation, {
            inputShape: options.inputShape,
            loss: options.loss,
            ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
          });
    const result: EpochResult = { epoch, loss: means.meanLoss(), metrics: means.metrics(), validation };
    history.push(result);
    options.onEpoch?.(result);
  }
  return history;
}

/**
 * The fraction of rows of `logits` (N × C) whose largest entry is at the row's label (the first
 * maximum on ties). A `Metric` for integer labels.
 */
export function accuracy(logits: Tensor, labels: ArrayLike<number>): number {
  const fn = "accuracy";
  assertTensor(fn, "logits", logits);
  assertNumberArray(fn, "labels", labels);
  if (logits.shape.length !== 2) throw new RangeError(`${fn}: logits must be N × C (got [${logits.shape.join(", ")}])`);
  const [n, c] = logits.shape as [number, number];
  if (labels.length !== n)
    throw new RangeError(`${fn}: labels must hold ${n} entries, one per row (got ${labels.length})`);
  if (n === 0) throw new RangeError(`${fn}: logits has no rows`);
  const x: FloatArray = logits.data;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    // A label that is no class (2.5, −1, c) would only ever count as wrong: the accuracy of a mistake.
    const y = labels[i] as number;
    if (!(Number.isInteger(y) && y >= 0 && y < c))
      throw new RangeError(`${fn}: labels[${i}] = ${y} is not a class, expected an integer in [0, ${c})`);
  }
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if ((x[i * c + j] as number) > (x[i * c + best] as number)) best = j;
    if (best === labels[i]) correct++;
  }
  return correct / n;
}
