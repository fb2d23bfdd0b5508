/** The README's "write your own law" example, kept compiling and passing. */
import { expect, it } from "vitest";
import { defaultImplementation, defineLaw, runLaw, symmetricArb, withImplementation } from "./index.ts";

const traceIsSumOfEigenvalues = defineLaw({
  id: "user.eigh.trace",
  title: "trace(A) = Σ λᵢ",
  statement: "for symmetric A, Σᵢ λᵢ(A) = Σᵢ aᵢᵢ",
  source: "GVL §8.1 (the trace is a similarity invariant)",
  generator: "symmetricArb(): every spectrum kind, n ∈ [0, 16], float64",
  tolerance: "|Σλ − tr A| ≤ 8·n·ε·‖A‖_F",
  why: "λ̂ are exact for A + E with ‖E‖ = O(n·ε·‖A‖), and |tr E| ≤ √n·‖E‖_F",
  arbitrary: symmetricArb({ dtypes: ["float64"] }),
  measure(impl, c) {
    const r = impl.linalg.eigh(c.matrix, { vectors: false });
    let tr = 0;
    let sum = 0;
    let norm = 0;
    for (let i = 0; i < c.n; i++) {
      tr += c.matrix.data[i * c.n + i] as number;
      sum += r.values[i] as number;
    }
    for (const v of c.matrix.data) norm += v * v;
    return { error: Math.abs(sum - tr), tolerance: 8 * Math.max(c.n, 1) * 2 ** -52 * Math.sqrt(norm) };
  },
});

it("a user-defined law runs through the same runner, and catches a broken eigh", () => {
  const report = runLaw(traceIsSumOfEigenvalues, { runs: 200, seed: 1 });
  expect(report.ok, report.message ?? "").toBe(true);
  const broken = withImplementation({
    linalg: {
      eigh: (a, o) => {
        const r = defaultImplementation.linalg.eigh(a, o);
        if (r.values.length > 0) r.values[0] = (r.values[0] as number) * 1.001;
        return r;
      },
    },
  });
  expect(runLaw(traceIsSumOfEigenvalues, { runs: 200, seed: 1, impl: broken }).ok).toBe(false);
});
