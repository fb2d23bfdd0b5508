/**
 * The random test matrix of the linalg test files (the vitest suites in src/ and the portable cases):
 * rows×cols, dense, entries N(0, 1) or U(−1, 1) from a seeded `Rng`, in float64 unless asked. A test
 * helper, not part of the package's API (src/index.ts does not export it).
 */
import { type DType, type Matrix, type Rng, zeros } from "@ekfac-ts/linalg";

export function randomMatrix(
  rng: Rng,
  rows: number,
  cols: number,
  dtype: DType = "float64",
  entries: "normal" | "uniform" = "normal",
): Matrix {
  const m = zeros(rows, cols, dtype);
  if (entries === "normal") rng.fillNormal(m.data);
  else rng.fillUniform(m.data, -1, 1);
  return m;
}
