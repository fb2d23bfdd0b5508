/** Test-only generators shared by the autodiff tests (not part of the package). */
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { type Tensor, tensor } from "../src/index.ts";

/** Float64 tensor of N(0,1) values, requiring grad. */
export function normal(rng: Rng, shape: readonly number[], requiresGrad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(rng.fillNormal(new Float64Array(n)), shape, { dtype: "float64", requiresGrad });
}

/** Float64 tensor of N(0, k²) values, requiring grad. */
export function scaled(rng: Rng, shape: readonly number[], k: number): Tensor {
  const t = normal(rng, shape);
  for (let i = 0; i < t.size; i++) t.data[i] = k * (t.data[i] as number);
  return t;
}

/** Values with |x| ≥ gap: away from the kinks of relu, abs, leakyRelu. */
export function awayFromZero(rng: Rng, shape: readonly number[], gap = 0.1): Tensor {
  const t = normal(rng, shape);
  for (let i = 0; i < t.size; i++) {
    const v = t.data[i] as number;
    t.data[i] = Math.sign(v || 1) * (gap + Math.abs(v));
  }
  return t;
}

/** Positive values in [lo, lo + |N(0,1)|]. */
export function positive(rng: Rng, shape: readonly number[], lo = 0.5): Tensor {
  const t = normal(rng, shape);
  for (let i = 0; i < t.size; i++) t.data[i] = lo + Math.abs(t.data[i] as number);
  return t;
}

/** Distinct values at spacing ≥ 0.05 in random order (no ties for max and max pooling). */
export function distinct(rng: Rng, shape: readonly number[]): Tensor {
  const t = normal(rng, shape);
  const perm = rng.permutation(t.size);
  for (let i = 0; i < t.size; i++) t.data[i] = 0.1 * (perm[i] as number) - 0.05 * t.size + 0.04 * rng.uniform();
  return t;
}

/** A shape of rank 1..maxRank with sizes 1..maxDim. */
export const shapeArb = (maxRank = 3, maxDim = 4) =>
  fc.array(fc.integer({ min: 1, max: maxDim }), { minLength: 1, maxLength: maxRank });

/** Two shapes that broadcast together: drop leading axes and set some axes to 1, independently. */
export const broadcastPairArb = fc
  .tuple(shapeArb(3, 4), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.nat(3), fc.nat(3))
  .map(([out, ones, dropA, dropB]) => {
    const a = out.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(dropA, out.length - 1));
    const b = out.map((d, i) => (ones[i + 3] ? 1 : d)).slice(Math.min(dropB, out.length - 1));
    return [a, b] as const;
  });

export const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

export function rngOf(seed: number): Rng {
  return new Rng(seed);
}
