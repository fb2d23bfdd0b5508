/** Test-only generators shared by the autodiff tests (not part of the package). */
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { type Tensor, tensor } from "../src/index.ts";

/** Float64 tensor of N(0,1) values, requiring grad. */
export function normal(rng: Rng, shape: readonly number[], requiresGrad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(rng.fillNormal(new Float64Array(n)), shape, { dtype: "float64", requiresGrad });
}

export const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

export function rngOf(seed: number): Rng {
  return new Rng(seed);
}
