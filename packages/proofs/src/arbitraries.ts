/**
 * Reusable fast-check generators of the cases the laws are tried on, exported so that users can write
 * their own laws: symmetric matrices with a chosen spectrum (clustered, repeated, graded, wide-range,
 * rank-deficient covariances, Wilkinson's matrix), SPD matrices of chosen condition, captured layer
 * statistics for dense and conv2d layers (with the special cases of the EKFAC theorem), and layer
 * configurations for nn's Linear and Conv2d.
 *
 * Every case is built deterministically from a small record (kind, sizes, seed) through linalg's
 * `Rng`, so fast-check shrinks the sizes and the seed, and a counterexample prints as that record
 * (`fc.toStringMethod`) instead of hundreds of numbers.
 */
import type { LayerBatch, LayerShape } from "@ekfac-ts/ekfac";
import {
  type DType,
  gradedSymmetric,
  type Matrix,
  Rng,
  randomCovariance,
  randomSymmetric,
  randomTridiagonal,
  symmetricWithSpectrum,
  wilkinsonMatrix,
} from "@ekfac-ts/linalg";
import fc from "fast-check";

/** Attaches the label fast-check prints for this value in a counterexample. */
export function labelled<T extends object>(value: T, label: string): T {
  Object.defineProperty(value, fc.toStringMethod, { value: () => label, enumerable: false });
  return value;
}

/** Seeds for `Rng` (any 32-bit integer). */
export const seedArb: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0x7fffffff });

// ---------------------------------------------------------------------------------------------------
// Symmetric matrices

export type SpectrumKind =
  | "random"
  | "uniform"
  | "clustered"
  | "repeated"
  | "wide"
  | "graded"
  | "covariance"
  | "wilkinson"
  | "tridiagonal"
  | "diagonal"
  | "zero";

export const spectrumKinds: readonly SpectrumKind[] = [
  "random",
  "uniform",
  "clustered",
  "repeated",
  "wide",
  "graded",
  "covariance",
  "wilkinson",
  "tridiagonal",
  "diagonal",
  "zero",
];

export interface SymmetricCase {
  readonly kind: SpectrumKind;
  readonly n: number;
  readonly seed: number;
  readonly dtype: DType;
  readonly matrix: Matrix;
  /** The exact eigenvalues, ascending, when the construction prescribes them (else null). */
  readonly spectrum: Float64Array | null;
}

export interface SymmetricOptions {
  readonly minN?: number;
  readonly maxN?: number;
  readonly kinds?: readonly SpectrumKind[];
  readonly dtypes?: readonly DType[];
}

function prescribed(kind: SpectrumKind, n: number, rng: Rng): Float64Array | null {
  const v = new Float64Array(n);
  switch (kind) {
    case "uniform":
      for (let i = 0; i < n; i++) v[i] = 2 * rng.uniform() - 1;
      return v;
    case "clustered": {
      // Half the values within 1e-9 of 1 (nearly repeated), the rest spread out.
      for (let i = 0; i < n; i++) v[i] = i % 2 === 0 ? 1 + 1e-9 * rng.uniform() : 4 * rng.uniform() - 2;
      return v;
    }
    case "repeated": {
      const pool = [-1, 0, 2];
      for (let i = 0; i < n; i++) v[i] = pool[rng.int(pool.length)] as number;
      return v;
    }
    case "wide":
      for (let i = 0; i < n; i++) v[i] = (rng.uniform() < 0.5 ? -1 : 1) * 10 ** (16 * rng.uniform() - 8);
      return v;
    default:
      return null;
  }
}

function buildSymmetric(kind: SpectrumKind, n: number, seed: number, dtype: DType): SymmetricCase {
  const rng = new Rng(seed);
  let matrix: Matrix;
  let spectrum = prescribed(kind, n, rng);
  switch (kind) {
    case "random":
      matrix = randomSymmetric(n, rng, dtype);
      break;
    case "graded":
      matrix = gradedSymmetric(n, rng, 1e-6, 1e6, dtype);
      break;
    case "covariance":
      // Rank min(samples, n) ≤ n: rank-deficient when samples < n, as KFAC factors of small batches.
      matrix = randomCovariance(n, 1 + rng.int(Math.max(n, 1)), rng, dtype);
      break;
    case "wilkinson":
      matrix = wilkinsonMatrix(n, dtype);
      break;
    case "tridiagonal":
      matrix = randomTridiagonal(n, rng, dtype);
      break;
    case "diagonal":
    case "zero": {
      const d = new Float64Array(n);
      if (kind === "diagonal") for (let i = 0; i < n; i++) d[i] = 2 * rng.normal();
      const data = dtype === "float64" ? new Float64Array(n * n) : new Float32Array(n * n);
      for (let i = 0; i < n; i++) data[i * n + i] = d[i] as number;
      matrix = { rows: n, cols: n, data };
      spectrum = Float64Array.from(data.filter((_, k) => k % (n + 1) === 0));
      break;
    }
    default:
      matrix = symmetricWithSpectrum(spectrum as Float64Array, rng, dtype);
  }
  if (spectrum !== null) spectrum.sort();
  return labelled(
    { kind, n, seed, dtype, matrix, spectrum },
    `{ kind: "${kind}", n: ${n}, seed: ${seed}, dtype: "${dtype}" }`,
  );
}

/** Symmetric n×n matrices of the given kinds (default all) and element types (default float64). */
export function symmetricArb(options: SymmetricOptions = {}): fc.Arbitrary<SymmetricCase> {
  const kinds = options.kinds ?? spectrumKinds;
  const dtypes = options.dtypes ?? (["float64"] as const);
  return fc
    .record({
      kind: fc.constantFrom(...kinds),
      n: fc.integer({ min: options.minN ?? 0, max: options.maxN ?? 16 }),
      seed: seedArb,
      dtype: fc.constantFrom(...dtypes),
    })
    .map(({ kind, n, seed, dtype }) => buildSymmetric(kind, n, seed, dtype));
}

export interface SpdCase {
  readonly n: number;
  readonly seed: number;
  /** κ₂(A) = λ_max/λ_min. */
  readonly condition: number;
  readonly matrix: Matrix<Float64Array>;
}

/** Symmetric positive definite float64 matrices with spectrum geometric from 1 to κ, κ ∈ [1, maxCondition]. */
export function spdArb(
  options: { readonly maxN?: number; readonly maxCondition?: number } = {},
): fc.Arbitrary<SpdCase> {
  const maxLog = Math.log10(options.maxCondition ?? 1e8);
  return fc
    .record({
      n: fc.integer({ min: 1, max: options.maxN ?? 12 }),
      seed: seedArb,
      logCondition: fc.double({ min: 0, max: maxLog, noNaN: true }),
    })
    .map(({ n, seed, logCondition }) => {
      const condition = 10 ** logCondition;
      const values = Array.from({ length: n }, (_, i) => condition ** (n > 1 ? i / (n - 1) : 0));
      const matrix = symmetricWithSpectrum(values, new Rng(seed), "float64") as Matrix<Float64Array>;
      return labelled(
        { n, seed, condition, matrix },
        `{ n: ${n}, seed: ${seed}, condition: ${condition.toExponential(3)} }`,
      );
    });
}

/** A rows×cols float64 or float32 matrix of N(0, 1) entries from `rng`. */
export function gaussianMatrix(rows: number, cols: number, rng: Rng, dtype: DType = "float64"): Matrix {
  const data = dtype === "float64" ? new Float64Array(rows * cols) : new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return { rows, cols, data };
}

// ---------------------------------------------------------------------------------------------------
// Captured layer statistics (the input of every curvature block)

/**
 * - generic: independent N(0, 1) inputs and output gradients;
 * - one-example: N = 1 (and T = 1 for conv): KFAC is exact;
 * - same-input: every ā_n is the same vector (dense): KFAC is exact;
 * - rank-deficient: N < min(aDim, gDim) so both factors are singular;
 * - scaled: g multiplied by 10^±4, ā by 10^∓2 (scale invariance of the relative laws);
 * - dead: ⌊inDim/3⌋ inputs (at least one when inDim ≥ 2) and ⌊gDim/3⌋ output gradients are 0 on every
 *   row (MNIST's untouched pixels, dead ReLU units): the factors have exactly-zero rows, so the bases
 *   are deflated (ekfac's internal/sym-eigen.ts) and the rotations take the compact path
 *   (curvature/basis-rotation.ts).
 */
export type LayerSpecial = "generic" | "one-example" | "same-input" | "rank-deficient" | "scaled" | "dead";

export interface LayerCase {
  readonly shape: LayerShape;
  readonly stats: LayerBatch & { readonly a: Float64Array; readonly g: Float64Array };
  readonly special: LayerSpecial;
  readonly seed: number;
}

function buildLayerCase(
  kind: "dense" | "conv2d",
  special: LayerSpecial,
  groups: number,
  gDim: number,
  inDim: number,
  hasBias: boolean,
  n0: number,
  t0: number,
  seed: number,
): LayerCase {
  const rng = new Rng(seed);
  const aDim = inDim + (hasBias ? 1 : 0);
  let n = n0;
  let t = kind === "dense" ? 1 : t0;
  if (special === "one-example") {
    n = 1;
    t = 1;
  }
  if (special === "rank-deficient") n = Math.max(1, Math.min(n, Math.min(aDim, gDim) - 1));
  const rows = n * t;
  const a = new Float64Array(groups * rows * aDim);
  const g = new Float64Array(groups * rows * gDim);
  const shared = Array.from({ length: inDim }, () => rng.normal());
  const gScale = special === "scaled" ? 10 ** (rng.uniform() < 0.5 ? -4 : 4) : 1;
  const aScale = special === "scaled" ? 10 ** (rng.uniform() < 0.5 ? -2 : 2) : 1;
  for (let k = 0; k < groups; k++) {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < inDim; j++)
        a[(k * rows + r) * aDim + j] = special === "same-input" ? (shared[j] as number) : aScale * rng.normal();
      if (hasBias) a[(k * rows + r) * aDim + inDim] = 1;
      for (let i = 0; i < gDim; i++) g[(k * rows + r) * gDim + i] = gScale * rng.normal();
    }
  }
  if (special === "dead") {
    // Random coordinates, the same in every group and row (drawn after the values: other specials'
    // cases keep their numbers).
    const deadIn = rng.permutation(inDim).slice(0, inDim >= 2 ? Math.max(1, Math.floor(inDim / 3)) : 0);
    const deadOut = rng.permutation(gDim).slice(0, Math.floor(gDim / 3));
    for (let r = 0; r < groups * rows; r++) {
      for (const j of deadIn) a[r * aDim + j] = 0;
      for (const i of deadOut) g[r * gDim + i] = 0;
    }
  }
  const shape: LayerShape = { kind, outDim: groups * gDim, inDim, hasBias, groups };
  const label =
    `{ kind: "${kind}", special: "${special}", outDim: ${groups * gDim}, inDim: ${inDim}, hasBias: ${hasBias}, ` +
    `groups: ${groups}, N: ${n}, T: ${t}, seed: ${seed} }`;
  return labelled({ shape, stats: { batchSize: n, positions: t, a, g }, special, seed }, label);
}

export interface DenseLayerOptions {
  readonly maxOut?: number;
  readonly maxIn?: number;
  readonly maxN?: number;
  readonly specials?: readonly LayerSpecial[];
}

/** Statistics (ā_n, g_n) of a dense layer: outDim ≤ maxOut (8), inDim ≤ maxIn (8), N ≤ maxN (32). */
export function denseLayerArb(options: DenseLayerOptions = {}): fc.Arbitrary<LayerCase> {
  const specials =
    options.specials ?? (["generic", "one-example", "same-input", "rank-deficient", "scaled", "dead"] as const);
  return fc
    .record({
      special: fc.constantFrom(...specials),
      outDim: fc.integer({ min: 1, max: options.maxOut ?? 8 }),
      inDim: fc.integer({ min: 1, max: options.maxIn ?? 8 }),
      hasBias: fc.boolean(),
      n: fc.integer({ min: 1, max: options.maxN ?? 32 }),
      seed: seedArb,
    })
    .map((c) => buildLayerCase("dense", c.special, 1, c.outDim, c.inDim, c.hasBias, c.n, 1, c.seed));
}

export interface ConvLayerOptions {
  readonly maxGroups?: number;
  readonly maxOutPerGroup?: number;
  readonly maxIn?: number;
  readonly maxN?: number;
  readonly maxT?: number;
  readonly specials?: readonly LayerSpecial[];
}

/** Statistics of a (grouped) conv2d layer with T output positions (patches ā_{n,t}, g_{n,t}). */
export function convLayerArb(options: ConvLayerOptions = {}): fc.Arbitrary<LayerCase> {
  const specials = options.specials ?? (["generic", "one-example", "rank-deficient", "scaled", "dead"] as const);
  return fc
    .record({
      special: fc.constantFrom(...specials),
      groups: fc.integer({ min: 1, max: options.maxGroups ?? 2 }),
      outPerGroup: fc.integer({ min: 1, max: options.maxOutPerGroup ?? 3 }),
      inDim: fc.integer({ min: 1, max: options.maxIn ?? 5 }),
      hasBias: fc.boolean(),
      n: fc.integer({ min: 1, max: options.maxN ?? 5 }),
      t: fc.integer({ min: 1, max: options.maxT ?? 4 }),
      seed: seedArb,
    })
    .map((c) => buildLayerCase("conv2d", c.special, c.groups, c.outPerGroup, c.inDim, c.hasBias, c.n, c.t, c.seed));
}

// ---------------------------------------------------------------------------------------------------
// nn layer configurations (the laws build the layers from the implementation under test)

export interface LinearConfig {
  readonly inDim: number;
  readonly outDim: number;
  readonly bias: boolean;
  readonly n: number;
  readonly seed: number;
}

export function linearConfigArb(
  options: { readonly maxIn?: number; readonly maxOut?: number; readonly maxN?: number } = {},
): fc.Arbitrary<LinearConfig> {
  return fc.record({
    inDim: fc.integer({ min: 1, max: options.maxIn ?? 6 }),
    outDim: fc.integer({ min: 1, max: options.maxOut ?? 6 }),
    bias: fc.boolean(),
    n: fc.integer({ min: 1, max: options.maxN ?? 6 }),
    seed: seedArb,
  });
}

export interface Conv2dConfig {
  readonly groups: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: readonly [number, number];
  readonly stride: readonly [number, number];
  readonly padding: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly bias: boolean;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly seed: number;
}

/** Limits of {@link conv2dConfigArb}: the defaults are the nn capture law's, wider for the conv laws. */
export interface Conv2dConfigOptions {
  /** Examples N ∈ [1, maxN] (default 3). */
  readonly maxN?: number;
  /** Groups ∈ [1, maxGroups] (default 2); 1–2 input and output channels per group. */
  readonly maxGroups?: number;
  /** Stride per axis ∈ [1, maxStride] (default 2). */
  readonly maxStride?: number;
  /** Zero padding per side and axis ∈ [0, maxPadding] (default 1). */
  readonly maxPadding?: number;
  /** Input rows/columns beyond the least that gives one output, ∈ [0, maxExtra] (default 3). */
  readonly maxExtra?: number;
}

/**
 * Conv2d geometries (groups, kernel 1–3 × 1–3, stride, padding, dilation 1–2) with inputs just large
 * enough for one output position — smaller than the dilated kernel where the padding allows — plus extra.
 */
export function conv2dConfigArb(options: Conv2dConfigOptions = {}): fc.Arbitrary<Conv2dConfig> {
  const small = (min: number, max: number) => fc.integer({ min, max });
  const stride = options.maxStride ?? 2;
  const pad = options.maxPadding ?? 1;
  const extra = options.maxExtra ?? 3;
  return fc
    .record({
      groups: small(1, options.maxGroups ?? 2),
      cin: small(1, 2),
      cout: small(1, 2),
      kh: small(1, 3),
      kw: small(1, 3),
      sh: small(1, stride),
      sw: small(1, stride),
      ph: small(0, pad),
      pw: small(0, pad),
      dh: small(1, 2),
      dw: small(1, 2),
      bias: fc.boolean(),
      n: small(1, options.maxN ?? 3),
      extraH: small(0, extra),
      extraW: small(0, extra),
      seed: seedArb,
    })
    .map((c) => ({
      groups: c.groups,
      inChannels: c.groups * c.cin,
      outChannels: c.groups * c.cout,
      kernel: [c.kh, c.kw] as const,
      stride: [c.sh, c.sw] as const,
      padding: [c.ph, c.pw] as const,
      dilation: [c.dh, c.dw] as const,
      bias: c.bias,
      n: c.n,
      h: Math.max(1, c.dh * (c.kh - 1) + 1 - 2 * c.ph) + c.extraH,
      w: Math.max(1, c.dw * (c.kw - 1) + 1 - 2 * c.pw) + c.extraW,
      seed: c.seed,
    }));
}
