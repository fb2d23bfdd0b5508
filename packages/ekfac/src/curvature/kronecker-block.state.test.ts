/**
 * The Kronecker block's plain-data state (kronecker-block.ts header, "State"): a fresh state is zero
 * factors, identity bases and zero counters; `checkState` refuses a malformed record with an error
 * naming the caller and the field; `bindState` adopts a record without copying it, and both
 * `bindState` and `stateRestored` drop what was derived from the old arrays — the float32 copies of
 * the bases and the shared rows of the last `updateScaling` — so that the next `precondition` reads the
 * new state only. The getters are the live state arrays.
 */
import { assertClose } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { randomCase } from "../../test/dense-reference.ts";
import { meanGradient } from "./exact-fisher.ts";
import { DenseEigenCorrected, DenseKroneckerFactored, type KroneckerBlockOptions } from "./kronecker-block.ts";

const shape = { outDim: 3, inDim: 4, hasBias: true };

function fitted(seed: number, options: KroneckerBlockOptions = {}): DenseEigenCorrected {
  const c = randomCase(seed, "dense", 3, 4, true, 5);
  const b = new DenseEigenCorrected(shape, { factorDecay: 0, scalingDecay: 0, ...options });
  b.updateFactors(c.stats);
  b.updateBasis();
  b.updateScaling(c.stats);
  return b;
}

describe("the state record", () => {
  it("a fresh state: zero factors and scaling, identity bases, counters 0; the getters are its arrays", () => {
    const b = new DenseKroneckerFactored(shape);
    const st = b.state;
    expect(st.A).toEqual(new Float64Array(25));
    expect(st.G).toEqual(new Float64Array(9));
    expect(st.S).toEqual(new Float64Array(15));
    expect(st.lambdaA).toEqual(new Float64Array(5));
    expect(st.lambdaG).toEqual(new Float64Array(3));
    const eye = (n: number) => Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0));
    expect(st.uA).toEqual(eye(5));
    expect(st.uG).toEqual(eye(3));
    expect([st.factorUpdates, st.basisRefreshes, st.basisFailures, st.scalingUpdates, st.hasBasis]).toEqual([
      0, 0, 0, 0, 0,
    ]);
    expect(b.A).toBe(st.A);
    expect(b.G).toBe(st.G);
    expect(b.uA).toBe(st.uA);
    expect(b.uG).toBe(st.uG);
    expect(b.lambdaA).toBe(st.lambdaA);
    expect(b.lambdaG).toBe(st.lambdaG);
    expect(b.S).toBe(st.S);
    expect(b.initState()).toEqual(st);
    expect(b.initState()).not.toBe(st);
    // With groups: one identity per group.
    const c = new DenseEigenCorrected({ outDim: 2, inDim: 1, hasBias: false });
    expect(c.uA).toEqual(new Float64Array([1]));
    expect(c.uG).toEqual(eye(2));
  });

  it("checkState names the caller and the field; hasBasis must be 0 or 1", () => {
    const b = fitted(1);
    const ok = structuredClone(b.state);
    expect(() => b.checkState("load", ok)).not.toThrow();
    expect(() => b.checkState("load", { ...ok, hasBasis: 0 })).not.toThrow();
    expect(() => b.checkState("load", { ...ok, hasBasis: 2 })).toThrow(RangeError);
    expect(() => b.checkState("load", { ...ok, hasBasis: 2 })).toThrow(/^load: hasBasis must be 0 or 1 \(got 2\)$/);
    expect(() => b.checkState("load", { ...ok, uA: new Float64Array(3) })).toThrow(
      /^load: state\.uA must be a Float64Array of length 25/,
    );
    expect(() => b.checkState("load", { ...ok, scalingUpdates: -1 })).toThrow(
      /^load: state\.scalingUpdates must be an integer/,
    );
    for (const key of ["factorUpdates", "basisRefreshes", "basisFailures", "scalingUpdates", "hasBasis"] as const) {
      expect(() => b.checkState("load", { ...ok, [key]: 0.5 })).toThrow(
        new RegExp(`^load: state\\.${key} must be an integer ≥ 0 \\(got 0\\.5\\)`),
      );
    }
    expect(() => b.checkState("load", null)).toThrow(TypeError);
    const { S: _s, ...noS } = ok;
    expect(() => b.checkState("load", noS)).toThrow(/^load: state has keys/);
  });

  it("bindState checks, then adopts the record itself; a bad one leaves the old state", () => {
    const b = fitted(2);
    const other = fitted(3).state;
    const own = b.state;
    b.bindState("restore", own);
    expect(b.state).toBe(own);
    expect(() => b.bindState("restore", { ...other, hasBasis: 3 })).toThrow(
      /^restore: hasBasis must be 0 or 1 \(got 3\)/,
    );
    expect(b.state).toBe(own);
    b.bindState("restore", other);
    expect(b.state).toBe(other);
    expect(b.S).toBe(other.S);
  });
});

describe("what bindState and stateRestored invalidate", () => {
  const grad = Float64Array.from({ length: 15 }, (_, i) => Math.sin(1 + i));

  it("float32 bases are rounded again from the new state (bindState and stateRestored)", () => {
    const b = fitted(4, { precision: "float32" });
    const c = fitted(5, { precision: "float32" });
    b.precondition(grad, new Float64Array(15), 0.1); // rounds b's bases
    const want = c.precondition(grad, new Float64Array(15), 0.1);
    b.bindState("test", structuredClone(c.state));
    expect(b.precondition(grad, new Float64Array(15), 0.1)).toEqual(want);
    // In place, as the optimizer's restore does: overwrite the arrays, then stateRestored.
    const d = fitted(6, { precision: "float32" });
    const wantD = d.precondition(grad, new Float64Array(15), 0.1);
    for (const key of ["uA", "uG", "lambdaA", "lambdaG", "S", "A", "G"] as const) b.state[key].set(d.state[key]);
    b.stateRestored();
    expect(b.precondition(grad, new Float64Array(15), 0.1)).toEqual(wantD);
    // A refresh too rounds the new bases.
    const c2 = randomCase(7, "dense", 3, 4, true, 5);
    for (const x of [b, d]) {
      x.updateFactors(c2.stats);
      x.updateBasis();
    }
    expect(b.precondition(grad, new Float64Array(15), 0.1)).toEqual(d.precondition(grad, new Float64Array(15), 0.1));
  });

  for (const precision of ["float64", "float32"] as const) {
    it(`shared rows serve only the precondition right after updateScaling, in the same state (${precision})`, () => {
      const c = randomCase(8, "dense", 3, 4, true, 2);
      const g = meanGradient(c.shape, c.stats);
      const opts = { factorDecay: 0, scalingDecay: 0, precision, gradientFromStatistics: true } as const;
      const b = new DenseEigenCorrected(shape, opts);
      b.updateFactors(c.stats);
      b.updateBasis();
      const prime = (): void => {
        b.updateScaling(c.stats);
      };
      // S* of c.stats, then `action`, then one step: how many steps so far were served the shared rows.
      const sharedAfter = (action: () => void): number => {
        prime();
        action();
        b.precondition(g, new Float64Array(15), 0.1);
        return b.sharedRotations;
      };
      expect(sharedAfter(() => {})).toBe(1);
      expect(sharedAfter(() => b.stateRestored())).toBe(1);
      expect(sharedAfter(() => b.bindState("test", structuredClone(b.state)))).toBe(1);
      expect(sharedAfter(() => b.bindState("test", b.state))).toBe(2); // the same record: nothing to invalidate
      expect(sharedAfter(() => b.updateBasis())).toBe(2);
      // And what it served is the plain rotation's direction.
      prime();
      const plain = new DenseEigenCorrected(shape, { ...opts, gradientFromStatistics: false });
      plain.bindState("test", structuredClone(b.state));
      assertClose(b.precondition(g, new Float64Array(15), 0.1), plain.precondition(g, new Float64Array(15), 0.1), {
        rtol: precision === "float64" ? 1e-12 : 1e-4,
      });
      expect(b.sharedRotations).toBe(3);
    });
  }
});

describe("the refresh's Gram route (kept rows) follows the factors", () => {
  // a = 13 with 4 rows: A is exactly the batch's (1/N)·āᵀā when ρ = 0, and 2·4 ≤ 13 keeps the rows.
  const wide = { outDim: 3, inDim: 12, hasBias: true };
  const a = 13;
  function residualA(b: DenseEigenCorrected): number {
    let worst = 0;
    for (let i = 0; i < a; i++)
      for (let j = 0; j < a; j++) {
        let s = 0;
        for (let k = 0; k < a; k++)
          s += (b.uA[i * a + k] as number) * (b.lambdaA[k] as number) * (b.uA[j * a + k] as number);
        worst = Math.max(worst, Math.abs(s - (b.A[i * a + j] as number)));
      }
    return worst;
  }

  it("ρ = 0: the basis decomposes the batch factor, its complement with eigenvalue exactly 0", () => {
    const c = randomCase(11, "dense", 3, 12, true, 4);
    const b = new DenseEigenCorrected(wide, { factorDecay: 0 });
    b.updateFactors(c.stats);
    expect(b.updateBasis()).toEqual({ succeeded: 2, failed: 0 });
    expect(residualA(b)).toBeLessThan(1e-13);
    expect(Array.from(b.lambdaA).filter((v) => v === 0).length).toBeGreaterThanOrEqual(a - 4);
  });

  it("factors written by hand (stateRestored) or averaged over two batches are decomposed themselves, not the kept rows", () => {
    const c = randomCase(12, "dense", 3, 12, true, 4);
    const b = new DenseEigenCorrected(wide, { factorDecay: 0 });
    b.updateFactors(c.stats);
    // A by hand: diag(1 … 13), then the documented notice.
    b.A.fill(0);
    for (let i = 0; i < a; i++) b.A[i * a + i] = i + 1;
    b.stateRestored();
    b.updateBasis();
    expect(residualA(b)).toBeLessThan(1e-13);
    expect(Array.from(b.lambdaA)).toEqual(Array.from({ length: a }, (_, i) => i + 1));
    // ρ = 0.5: the second update averages two batches, so the last batch's rows no longer describe A.
    const avg = new DenseEigenCorrected(wide, { factorDecay: 0.5 });
    avg.updateFactors(c.stats);
    avg.updateFactors(randomCase(13, "dense", 3, 12, true, 4).stats);
    avg.updateBasis();
    expect(residualA(avg)).toBeLessThan(1e-13);
  });
});
