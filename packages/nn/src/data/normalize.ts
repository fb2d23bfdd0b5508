/**
 * Input normalisation and label encoding.
 *
 * - `scaleBytes`: `x = b / 255`, pixels to [0, 1] (the MNIST autoencoder's inputs, which sigmoid
 *   cross-entropy treats as Bernoulli means).
 * - `featureStatistics` / `standardize`: `z = (x − μ) / σ` per feature, with μ and the POPULATION
 *   standard deviation σ (divisor N, like scikit-learn's StandardScaler) computed on the TRAINING set
 *   only and then applied unchanged to validation/test data (no test-set leakage). Features with
 *   `σ ≤ epsilon` (e.g. MNIST's always-black border pixels) are only centred: dividing by ~0 would blow
 *   noise up. Statistics are accumulated in float64 with a two-pass (mean, then centred squares)
 *   formula, which avoids the cancellation of `E[x²] − E[x]²`.
 * - `oneHot`: integer labels to `count × classes` indicator rows.
 * Cost: O(count · features). Each allocating helper delegates to its `…Into` variant.
 */
import type { FloatArray } from "@ekfac-ts/linalg";
import { assertNumberArray, isNumberArray, kindOf } from "../internal/checks.ts";

/** Per-feature mean and standard deviation from {@link featureStatistics}, for {@link standardize}. */
export interface FeatureStatistics {
  /** Mean of each feature (column). */
  readonly mean: Float64Array;
  /** Population standard deviation of each feature. */
  readonly std: Float64Array;
}

/** `out[i] = bytes[i] / 255`; returns `out`. */
export function scaleBytesInto<T extends FloatArray>(out: T, bytes: Uint8Array): T {
  if (out.length !== bytes.length)
    throw new RangeError(`scaleBytesInto: out has length ${out.length}, bytes ${bytes.length}`);
  for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i] as number) / 255;
  return out;
}

/** Bytes to float32 in [0, 1]. */
export function scaleBytes(bytes: Uint8Array): Float32Array {
  return scaleBytesInto(new Float32Array(bytes.length), bytes);
}

function rowsOf(fn: string, x: ArrayLike<number>, count: number): number {
  assertNumberArray(fn, "x", x);
  if (!Number.isInteger(count) || count < 1 || x.length % count !== 0) {
    throw new RangeError(`${fn}: x (length ${x.length}) must hold count = ${count} ≥ 1 equal rows`);
  }
  return x.length / count;
}

/** Per-feature mean and population standard deviation of `count` rows of `x` (row-major). */
export function featureStatistics(x: ArrayLike<number>, count: number): FeatureStatistics {
  const d = rowsOf("featureStatistics", x, count);
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let n = 0; n < count; n++) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[n * d + j] as number);
  for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / count;
  for (let n = 0; n < count; n++) {
    for (let j = 0; j < d; j++) {
      const c = (x[n * d + j] as number) - (mean[j] as number);
      std[j] = (std[j] as number) + c * c;
    }
  }
  for (let j = 0; j < d; j++) std[j] = Math.sqrt((std[j] as number) / count);
  return { mean, std };
}

/**
 * The checks of `standardize` and `standardizeInto` (`fn` names the one called): x an array, `stats`
 * from `featureStatistics` (mean and std of one length), epsilon a finite number ≥ 0. Returns d.
 */
function checkStandardize(fn: string, x: unknown, stats: unknown, epsilon: unknown): number {
  assertNumberArray(fn, "x", x);
  const { mean, std } = (stats ?? {}) as { mean?: unknown; std?: unknown };
  if (stats === null || typeof stats !== "object" || !isNumberArray(mean) || !isNumberArray(std)) {
    throw new TypeError(
      `${fn}: stats must be { mean, std } arrays, as featureStatistics returns them (got ${typeof stats === "object" && stats !== null ? `{ mean: ${kindOf(mean)}, std: ${kindOf(std)} }` : kindOf(stats)})`,
    );
  }
  if (typeof epsilon !== "number") throw new TypeError(`${fn}: epsilon must be a number (got ${kindOf(epsilon)})`);
  if (!(epsilon >= 0 && Number.isFinite(epsilon)))
    throw new RangeError(`${fn}: epsilon must be a finite number ≥ 0 (got ${epsilon})`);
  const d = mean.length;
  if (std.length !== d) throw new RangeError(`${fn}: stats.mean has ${d} features, stats.std ${std.length}`);
  if (d === 0 || x.length % d !== 0)
    throw new RangeError(`${fn}: x (length ${x.length}) is not a whole number of rows of ${d} features`);
  return d;
}

/** `out = (x − μ) / σ` row by row (σ ≤ epsilon → only centred); `out` may alias `x`. Returns `out`. */
export function standardizeInto<T extends FloatArray>(
  out: T,
  x: ArrayLike<number>,
  stats: FeatureStatistics,
  epsilon = 1e-8,
): T {
  const fn = "standardizeInto";
  const d = checkStandardize(fn, x, stats, epsilon);
  if (!(out instanceof Float32Array || out instanceof Float64Array))
    throw new TypeError(`${fn}: out must be a Float32Array or Float64Array (got ${kindOf(out)})`);
  if (out.length !== x.length) throw new RangeError(`${fn}: out has length ${out.length}, x ${x.length}`);
  return standardizeRows(out, x, stats, epsilon, d);
}

function standardizeRows<T extends FloatArray>(
  out: T,
  x: ArrayLike<number>,
  stats: FeatureStatistics,
  epsilon: number,
  d: number,
): T {
  for (let i = 0; i < x.length; i++) {
    const j = i % d;
    const s = stats.std[j] as number;
    out[i] = ((x[i] as number) - (stats.mean[j] as number)) / (s > epsilon ? s : 1);
  }
  return out;
}

/** Standardised float32 copy of `x`. */
export function standardize(x: ArrayLike<number>, stats: FeatureStatistics, epsilon = 1e-8): Float32Array {
  const d = checkStandardize("standardize", x, stats, epsilon);
  return standardizeRows(new Float32Array(x.length), x, stats, epsilon, d);
}

/** `out[n·classes + labels[n]] = 1`, zeros elsewhere; labels must be integers in [0, classes). */
export function oneHotInto<T extends FloatArray>(out: T, labels: ArrayLike<number>, classes: number): T {
  assertNumberArray("oneHotInto", "labels", labels);
  if (!Number.isInteger(classes) || classes < 1)
    throw new RangeError(`oneHotInto: classes must be a positive integer (got ${classes})`);
  if (out.length !== labels.length * classes) {
    throw new RangeError(
      `oneHotInto: out has length ${out.length}, expected labels·classes = ${labels.length}·${classes}`,
    );
  }
  out.fill(0);
  for (let n = 0; n < labels.length; n++) {
    const y = labels[n] as number;
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new RangeError(`oneHotInto: label ${n} is ${y}, outside [0, ${classes})`);
    out[n * classes + y] = 1;
  }
  return out;
}

/** One-hot float32 rows. */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  return oneHotInto(new Float32Array(labels.length * classes), labels, classes);
}
