import type * as linalg from "@ekfac-ts/linalg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { symmetricEigenInto } from "./sym-eigen.ts";

// The guards after `eigh` are checked against each outcome eigh's contract allows, by replacing eigh's
// result: "no-convergence" with finite numbers (its QR route reports that), a success with a non-finite
// vector, a missing vector matrix. Real eigh is used unless a test sets `override`.
let override: ((a: linalg.Matrix) => linalg.EighResult) | null = null;
const calls: linalg.Matrix[] = [];
vi.mock("@ekfac-ts/linalg", async (importOriginal) => {
  const real = await importOriginal<typeof linalg>();
  return {
    ...real,
    eigh: (a: linalg.Matrix, options?: linalg.EighOptions) => {
      calls.push(a);
      return override === null ? real.eigh(a, options) : override(a);
    },
  };
});

afterEach(() => {
  override = null;
  calls.length = 0;
});

const X = new Float64Array([2, 1, 1, 3]);
const good = (): linalg.EighResult => ({
  status: "success",
  values: new Float64Array([1, 4]),
  vectors: { rows: 2, cols: 2, data: new Float64Array([1, 0, 0, 1]) },
  iterations: 1,
});

function run(): { ok: boolean; u: number[]; lam: number[] } {
  const u = new Float64Array(4).fill(5);
  const lam = new Float64Array(2).fill(5);
  const ok = symmetricEigenInto(X, 0, 2, u, 0, lam, 0);
  return { ok, u: Array.from(u), lam: Array.from(lam) };
}

describe("symmetricEigenInto's guards around eigh", () => {
  it("the injected eigh is used: a clean result is copied out", () => {
    override = good;
    expect(run()).toEqual({ ok: true, u: [1, 0, 0, 1], lam: [1, 4] });
  });

  it('status "no-convergence" with finite numbers is a failure: U and λ untouched', () => {
    override = () => ({ ...good(), status: "no-convergence" });
    expect(run()).toEqual({ ok: false, u: [5, 5, 5, 5], lam: [5, 5] });
  });

  it("a success without vectors is a failure", () => {
    override = () => ({ ...good(), vectors: null });
    expect(run()).toEqual({ ok: false, u: [5, 5, 5, 5], lam: [5, 5] });
  });

  it("a success with a non-finite entry anywhere in U is a failure", () => {
    for (const at of [0, 3]) {
      override = () => {
        const r = good();
        (r.vectors as linalg.Matrix).data[at] = Number.NaN;
        return r;
      };
      expect(run()).toEqual({ ok: false, u: [5, 5, 5, 5], lam: [5, 5] });
    }
  });

  it("a success with a non-finite eigenvalue is a failure", () => {
    for (const at of [0, 1]) {
      override = () => {
        const r = good();
        r.values[at] = Number.POSITIVE_INFINITY;
        return r;
      };
      expect(run()).toEqual({ ok: false, u: [5, 5, 5, 5], lam: [5, 5] });
    }
  });

  it("non-finite input is refused before eigh is called, and eigh sees (X + Xᵀ)/2", () => {
    const u = new Float64Array(4);
    const lam = new Float64Array(2);
    expect(symmetricEigenInto(new Float64Array([1, Number.NaN, 0, 1]), 0, 2, u, 0, lam, 0)).toBe(false);
    expect(calls.length).toBe(0);
    expect(symmetricEigenInto(new Float64Array([2, 3, 1, 4]), 0, 2, u, 0, lam, 0)).toBe(true);
    expect(calls.length).toBe(1);
    expect(Array.from((calls[0] as linalg.Matrix).data)).toEqual([2, 2, 2, 4]);
  });
});
