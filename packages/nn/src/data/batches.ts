/**
 * Minibatch iteration over an in-memory dataset, with seeded shuffling and reused buffers.
 *
 * Each epoch draws a permutation with `Rng.permutation` (Fisher–Yates, bit-identical across runtimes)
 * and gathers rows into two batch buffers allocated once in the constructor; every yielded `Batch` is
 * the SAME object with its buffers overwritten, so a training loop allocates nothing per step. Copy
 * what you need to keep. With `dropLast`, a final short batch is skipped (every batch has exactly
 * `batchSize` rows, as `torch.utils.data.DataLoader(drop_last=True)`); without it, the final batch
 * exposes `size < batchSize` rows through views made once in the constructor.
 * Cost: O(batchSize · (inputSize + targetSize)) copies per batch, O(count) per epoch for the permutation.
 */
import { checkFlag, checkRequiredOptions, optionKeys, type Rng } from "@ekfac-ts/linalg";
import { kindOf, rngOf } from "../internal/checks.ts";

/** The typed arrays a {@link Dataset} may store its rows in. */
export type RowArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint32Array;

/** An in-memory dataset: `count` rows of inputs and of targets, each row-major in one typed array. */
export interface Dataset<X extends RowArray = RowArray, Y extends RowArray = RowArray> {
  /** `count × inputSize` row-major. */
  readonly inputs: X;
  /** `count × targetSize` row-major (e.g. integer labels with targetSize 1, or one-hot rows). */
  readonly targets: Y;
  /** The number of examples (rows). */
  readonly count: number;
}

/** One minibatch from {@link BatchLoader}: the object and its buffers are reused from step to step. */
export interface Batch<X extends RowArray = RowArray, Y extends RowArray = RowArray> {
  /** Rows in this batch (`batchSize`, or fewer for a final short batch). */
  size: number;
  /** `size × inputSize` (a reused buffer). */
  inputs: X;
  /** `size × targetSize` (a reused buffer). */
  targets: Y;
  /** The dataset row of each batch row (a reused buffer). */
  indices: Uint32Array;
}

/** Options of {@link BatchLoader}. */
export interface BatchOptions {
  /** Rows per batch (a positive integer). */
  readonly batchSize: number;
  /** Shuffle each epoch (default true). */
  readonly shuffle?: boolean;
  /** Seed or generator for the shuffles (default seed 0). The loader keeps drawing from it. */
  readonly rng?: Rng | number;
  /** Skip a final short batch (default false). */
  readonly dropLast?: boolean;
}

/** The keys of {@link BatchOptions} (checked against the interface both ways at compile time). */
const BATCH_OPTIONS = optionKeys<BatchOptions>()(["batchSize", "shuffle", "rng", "dropLast"]);

/** Whether `x` holds rows a loader can gather: a typed array of numbers (the {@link RowArray} kinds and their kin). */
function isRows(x: unknown): boolean {
  return ArrayBuffer.isView(x) && !(x instanceof DataView || x instanceof BigInt64Array || x instanceof BigUint64Array);
}

/**
 * Throws unless `data` is a {@link Dataset}: an object whose `inputs` and `targets` are typed arrays
 * (the loader gathers rows into buffers of the same kind) and whose `count` is an integer ≥ 0 that
 * divides both into whole rows. `fn` and `name` name the caller's argument. Not part of the public API.
 */
export function checkDataset(fn: string, name: string, data: unknown): asserts data is Dataset {
  if (data === null || typeof data !== "object")
    throw new TypeError(`${fn}: ${name} must be a dataset { inputs, targets, count } (got ${kindOf(data)})`);
  const { inputs, targets, count } = data as { inputs?: unknown; targets?: unknown; count?: unknown };
  for (const [k, v] of [
    ["inputs", inputs],
    ["targets", targets],
  ] as const) {
    if (!isRows(v)) {
      throw new TypeError(
        `${fn}: ${name}.${k} must be a typed array such as Float32Array, Float64Array, Int32Array or Uint8Array (got ${kindOf(v)})`,
      );
    }
  }
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0)
    throw new RangeError(`${fn}: ${name}.count must be a non-negative integer (got ${String(count)})`);
  const xs = (inputs as RowArray).length;
  const ys = (targets as RowArray).length;
  const whole = count === 0 ? xs === 0 && ys === 0 : xs % count === 0 && ys % count === 0;
  if (!whole) {
    throw new RangeError(
      `${fn}: ${name}.inputs (length ${xs}) and ${name}.targets (length ${ys}) must both hold count = ${count} rows`,
    );
  }
}

/** Throws a RangeError naming `fn` and `name` unless `batchSize` is a positive integer. Not public API. */
export function checkBatchSize(fn: string, name: string, batchSize: unknown): asserts batchSize is number {
  if (!(typeof batchSize === "number" && Number.isInteger(batchSize) && batchSize >= 1))
    throw new RangeError(`${fn}: ${name} must be a positive integer (got ${String(batchSize)})`);
}

/**
 * Minibatch iteration over an in-memory {@link Dataset} with seeded shuffling: each epoch draws a
 * permutation (`Rng.permutation`, identical on every runtime) and gathers rows into buffers allocated
 * once, so a training loop allocates nothing per step. Every yielded {@link Batch} is the SAME object
 * with its buffers overwritten: copy what you keep. With `dropLast` a final short batch is skipped.
 *
 * @example
 * ```ts
 * const loader = new BatchLoader({ inputs, targets, count }, { batchSize: 64, rng: 1 });
 * for (const batch of loader.epoch()) {
 *   // batch.inputs: batch.size × inputSize, batch.targets: batch.size × targetSize
 * }
 * ```
 */
export class BatchLoader<X extends RowArray = RowArray, Y extends RowArray = RowArray> {
  /** Rows per full batch. */
  readonly batchSize: number;
  /** Values per input row (`inputs.length / count`). */
  readonly inputSize: number;
  /** Values per target row (`targets.length / count`). */
  readonly targetSize: number;
  /** Whether each epoch visits the rows in a fresh random order. */
  readonly shuffle: boolean;
  /** Whether a final short batch is skipped. */
  readonly dropLast: boolean;
  private readonly rng: Rng;
  private readonly order: Uint32Array;
  private readonly full: Batch<X, Y>;
  private readonly short: Batch<X, Y> | null;

  constructor(
    /** The rows iterated over (not copied). */
    readonly dataset: Dataset<X, Y>,
    options: BatchOptions,
  ) {
    const fn = "BatchLoader";
    checkDataset(fn, "dataset", dataset);
    checkRequiredOptions(fn, "options", options, BATCH_OPTIONS);
    const { count, inputs, targets } = dataset;
    const { batchSize } = options;
    checkBatchSize(fn, "options.batchSize", batchSize);
    checkFlag(fn, "options.shuffle", options.shuffle);
    checkFlag(fn, "options.dropLast", options.dropLast);
    this.inputSize = count === 0 ? 0 : inputs.length / count;
    this.targetSize = count === 0 ? 0 : targets.length / count;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    this.rng = rngOf(options.rng, fn, "options.rng");
    this.order = new Uint32Array(count);
    for (let i = 0; i < count; i++) this.order[i] = i;
    const make = <A extends RowArray>(like: A, n: number): A => new (like.constructor as new (n: number) => A)(n);
    const full: Batch<X, Y> = {
      size: batchSize,
      inputs: make(inputs, batchSize * this.inputSize),
      targets: make(targets, batchSize * this.targetSize),
      indices: new Uint32Array(batchSize),
    };
    this.full = full;
    const rest = count % batchSize;
    this.short =
      rest === 0 || this.dropLast
        ? null
        : {
            size: rest,
            inputs: full.inputs.subarray(0, rest * this.inputSize) as X,
            targets: full.targets.subarray(0, rest * this.targetSize) as Y,
            indices: full.indices.subarray(0, rest),
          };
  }

  /** Batches per epoch: `⌊count/batchSize⌋` with dropLast, else `⌈count/batchSize⌉`. */
  get batchesPerEpoch(): number {
    const c = this.dataset.count;
    return this.dropLast ? Math.floor(c / this.batchSize) : Math.ceil(c / this.batchSize);
  }

  /** One pass over the data (reshuffled first when `shuffle`). Yields the same reused Batch object. */
  *epoch(): Generator<Batch<X, Y>, void, undefined> {
    if (this.shuffle) this.rng.permutation(this.order.length, this.order);
    const n = this.batchesPerEpoch;
    for (let b = 0; b < n; b++) yield this.fill(b);
  }

  /** Batch `b` of the current order (as `epoch` yields it), without reshuffling. */
  fill(b: number): Batch<X, Y> {
    const start = b * this.batchSize;
    const size = Math.min(this.batchSize, this.dataset.count - start);
    if (!Number.isInteger(b) || b < 0 || b >= this.batchesPerEpoch) {
      throw new RangeError(`BatchLoader.fill: batch ${b} out of range [0, ${this.batchesPerEpoch})`);
    }
    const batch = size === this.batchSize ? this.full : (this.short as Batch<X, Y>);
    const { inputs, targets } = this.dataset;
    const di = this.inputSize;
    const dt = this.targetSize;
    for (let r = 0; r < size; r++) {
      const i = this.order[start + r] as number;
      batch.indices[r] = i;
      // Index loops rather than subarray views: nothing is allocated per row.
      for (let j = 0; j < di; j++) batch.inputs[r * di + j] = inputs[i * di + j] as number;
      for (let j = 0; j < dt; j++) batch.targets[r * dt + j] = targets[i * dt + j] as number;
    }
    return batch;
  }

  /** The current epoch's row order (read-only view). */
  currentOrder(): Readonly<Uint32Array> {
    return this.order;
  }
}
