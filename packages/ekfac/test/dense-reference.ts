/**
 * Naive dense references for the ekfac tests: random statistics, a dense solver, explicit matrices.
 * Everything in float64, written for clarity, never used by library code. Closeness is linalg's
 * `assertClose` (the one closeness helper); the proofs catalogue keeps its own references in
 * packages/proofs/src/internal/dense.ts (proofs depends on ekfac, so neither can import the other's).
 */
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import type { LayerBatch } from "../src/capture.ts";

export interface DenseCase {
  readonly shape: {
    readonly kind: "dense" | "conv2d";
    readonly outDim: number;
    readonly inDim: number;
    readonly hasBias: boolean;
    readonly groups: number;
  };
  readonly stats: LayerBatch;
}

/** Random statistics for a layer: ā rows with the trailing 1 when hasBias; g rows N(0,1)·scale. */
export function randomCase(
  seed: number,
  kind: "dense" | "conv2d",
  outDim: number,
  inDim: number,
  hasBias: boolean,
  n: number,
  t = 1,
  groups = 1,
  options: { sameA?: boolean } = {},
): DenseCase {
  const rng = new Rng(seed);
  const aDim = inDim + (hasBias ? 1 : 0);
  const gDim = outDim / groups;
  const rows = n * t;
  const a = new Float64Array(groups * rows * aDim);
  const g = new Float64Array(groups * rows * gDim);
  const shared = Array.from({ length: aDim }, () => rng.normal());
  for (let k = 0; k < groups; k++) {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < inDim; j++) {
        a[(k * rows + r) * aDim + j] = options.sameA ? (shared[j] as number) : rng.normal();
      }
      if (hasBias) a[(k * rows + r) * aDim + inDim] = 1;
      for (let i = 0; i < gDim; i++) g[(k * rows + r) * gDim + i] = rng.normal();
    }
  }
  return { shape: { kind, outDim, inDim, hasBias, groups }, stats: { batchSize: n, positions: t, a, g } };
}

/** The sizes of a random layer case: conv2d with groups and T positions, or dense (one group, T = 1). */
export interface LayerSizes {
  readonly seed: number;
  readonly conv: boolean;
  readonly groups: number;
  readonly outPerGroup: number;
  readonly inDim: number;
  readonly hasBias: boolean;
  readonly n: number;
  readonly t: number;
}

/** Random {@link LayerSizes} up to the given limits (groups ≤ 2); `kinds` "conv2d" keeps every case conv. */
export function layerSizesArb(
  max: { readonly outPerGroup: number; readonly inDim: number; readonly n: number; readonly t: number },
  kinds: "conv2d" | "dense or conv2d" = "conv2d",
): fc.Arbitrary<LayerSizes> {
  const upTo = (m: number) => fc.integer({ min: 1, max: m });
  return fc.record({
    seed: fc.integer(),
    conv: kinds === "conv2d" ? fc.constant(true) : fc.boolean(),
    groups: upTo(2),
    outPerGroup: upTo(max.outPerGroup),
    inDim: upTo(max.inDim),
    hasBias: fc.boolean(),
    n: upTo(max.n),
    t: upTo(max.t),
  });
}

/** The random case of `s` (seed shifted by `seedShift`): dense cases use outPerGroup outputs, one group. */
export function caseOfSizes(s: LayerSizes, seedShift = 0): DenseCase {
  return s.conv
    ? randomCase(s.seed + seedShift, "conv2d", s.groups * s.outPerGroup, s.inDim, s.hasBias, s.n, s.t, s.groups)
    : randomCase(s.seed + seedShift, "dense", s.outPerGroup, s.inDim, s.hasBias, s.n);
}

/** Solves M x = b (M p × p row-major) by Gaussian elimination with partial pivoting. */
export function denseSolve(m: Float64Array, b: Float64Array): Float64Array {
  const p = b.length;
  const a = m.slice();
  const x = b.slice();
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(a[r * p + c] as number) > Math.abs(a[piv * p + c] as number)) piv = r;
    if (piv !== c) {
      for (let j = 0; j < p; j++) {
        const tmp = a[c * p + j] as number;
        a[c * p + j] = a[piv * p + j] as number;
        a[piv * p + j] = tmp;
      }
      const tmp = x[c] as number;
      x[c] = x[piv] as number;
      x[piv] = tmp;
    }
    const d = a[c * p + c] as number;
    for (let r = c + 1; r < p; r++) {
      const f = (a[r * p + c] as number) / d;
      if (f === 0) continue;
      for (let j = c; j < p; j++) a[r * p + j] = (a[r * p + j] as number) - f * (a[c * p + j] as number);
      x[r] = (x[r] as number) - f * (x[c] as number);
    }
  }
  for (let r = p - 1; r >= 0; r--) {
    let s = x[r] as number;
    for (let j = r + 1; j < p; j++) s -= (a[r * p + j] as number) * (x[j] as number);
    x[r] = s / (a[r * p + r] as number);
  }
  return x;
}

/** M + c·I for a p × p matrix (copy). */
export function addIdentity(m: Float64Array, c: number): Float64Array {
  const p = Math.round(Math.sqrt(m.length));
  const out = m.slice();
  for (let i = 0; i < p; i++) out[i * p + i] = (out[i * p + i] as number) + c;
  return out;
}

/** U_Gᵀ ∇ U_A (g × a) for a row-major ∇ (g × a) and column-eigenvector bases, by the triple sum. */
export function rotateIntoEigenbasis(
  uG: ArrayLike<number>,
  uA: ArrayLike<number>,
  grad: ArrayLike<number>,
  g: number,
  a: number,
): Float64Array {
  const out = new Float64Array(g * a);
  for (let i = 0; i < g; i++)
    for (let j = 0; j < a; j++) {
      let r = 0;
      for (let k = 0; k < g; k++)
        for (let l = 0; l < a; l++)
          r += (uG[k * g + i] as number) * (grad[k * a + l] as number) * (uA[l * a + j] as number);
      out[i * a + j] = r;
    }
  return out;
}
