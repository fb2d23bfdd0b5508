import { describe, expect, it } from "vitest";
import { gramEigenInto, symmetricEigenInto } from "./sym-eigen.ts";

// U diag(λ) Uᵀ for an n×n row-major U (eigenvectors as columns).
function reconstruct(u: Float64Array, uOff: number, lam: Float64Array, lOff: number, n: number): Float64Array {
  const x = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++)
        s += (u[uOff + i * n + k] as number) * (lam[lOff + k] as number) * (u[uOff + j * n + k] as number);
      x[i * n + j] = s;
    }
  return x;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

/** UᵀU = I within 1e-14 entrywise for the n×n row-major U at offset 0. */
function expectOrthonormal(u: Float64Array, n: number): void {
  for (let a = 0; a < n; a++)
    for (let b = 0; b < n; b++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (u[k * n + a] as number) * (u[k * n + b] as number);
      expect(Math.abs(s - (a === b ? 1 : 0))).toBeLessThan(1e-14);
    }
}

// A PSD 3×3 factor with distinct eigenvalues and no zero off-diagonal.
const X3 = [4, 1, 0.5, 1, 3, 0.25, 0.5, 0.25, 2];

describe("symmetricEigenInto", () => {
  it("X = U diag(λ) Uᵀ, UᵀU = I, λ ascending, read and written at the given offsets", () => {
    const n = 3;
    const x = new Float64Array([9, 9, ...X3]); // offset 2
    const u = new Float64Array(1 + n * n + 1).fill(-7);
    const lam = new Float64Array(2 + n + 1).fill(-7);
    expect(symmetricEigenInto(x, 2, n, u, 1, lam, 2)).toBe(true);
    expect(u[0]).toBe(-7);
    expect(lam[0]).toBe(-7);
    expect(lam[1]).toBe(-7);
    // Nothing is written past the n×n block or the n values.
    expect(u[1 + n * n]).toBe(-7);
    expect(lam[2 + n]).toBe(-7);
    expect(maxDiff(reconstruct(u, 1, lam, 2, n), X3)).toBeLessThan(1e-13);
    for (let a = 0; a < n; a++)
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += (u[1 + k * n + a] as number) * (u[1 + k * n + b] as number);
        expect(Math.abs(s - (a === b ? 1 : 0))).toBeLessThan(1e-14);
      }
    expect(lam[2] as number).toBeLessThan(lam[3] as number);
    expect(lam[3] as number).toBeLessThan(lam[4] as number);
    // trace = Σλ
    expect((lam[2] as number) + (lam[3] as number) + (lam[4] as number)).toBeCloseTo(9, 13);
  });

  it("an asymmetric input is symmetrised, (X + Xᵀ)/2, not read from one triangle", () => {
    // Upper triangle carries +1, lower −1 around the symmetric X3: (X + Xᵀ)/2 = X3.
    const x = Float64Array.from(X3);
    x[1] = (x[1] as number) + 1;
    x[3] = (x[3] as number) - 1;
    x[2] = (x[2] as number) + 0.5;
    x[6] = (x[6] as number) - 0.5;
    x[5] = (x[5] as number) - 2;
    x[7] = (x[7] as number) + 2;
    const u = new Float64Array(9);
    const lam = new Float64Array(3);
    expect(symmetricEigenInto(x, 0, 3, u, 0, lam, 0)).toBe(true);
    expect(maxDiff(reconstruct(u, 0, lam, 0, 3), X3)).toBeLessThan(1e-13);
  });

  it("negative eigenvalues (rounding in a PSD factor) are clamped to 0; positive ones are kept", () => {
    // [[0, 1], [1, 0]] has λ = −1, 1.
    const u = new Float64Array(4);
    const lam = new Float64Array(2);
    expect(symmetricEigenInto(new Float64Array([0, 1, 1, 0]), 0, 2, u, 0, lam, 0)).toBe(true);
    expect(Object.is(lam[0], 0)).toBe(true);
    expect(lam[1]).toBeCloseTo(1, 14);
    // The vectors are still the eigenvectors of the unclamped matrix: (1, 1)/√2 for λ = 1.
    expect(Math.abs(u[1] as number)).toBeCloseTo(Math.SQRT1_2, 14);
    expect(Math.abs(u[3] as number)).toBeCloseTo(Math.SQRT1_2, 14);
  });

  it("a non-finite entry anywhere returns false and leaves U and λ untouched", () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const at of [0, 1, 3, 8]) {
        const x = Float64Array.from(X3);
        x[at] = bad;
        const u = new Float64Array(9).fill(5);
        const lam = new Float64Array(3).fill(5);
        expect(symmetricEigenInto(x, 0, 3, u, 0, lam, 0)).toBe(false);
        expect(Array.from(u)).toEqual(new Array(9).fill(5));
        expect(Array.from(lam)).toEqual([5, 5, 5]);
      }
    }
  });

  it("finite entries whose average overflows ((x_ij + x_ji)/2 = ±Inf) are refused like non-finite input", () => {
    const x = new Float64Array([1, Number.MAX_VALUE, Number.MAX_VALUE, 1]);
    const u = new Float64Array(4).fill(5);
    const lam = new Float64Array(2).fill(5);
    expect(symmetricEigenInto(x, 0, 2, u, 0, lam, 0)).toBe(false);
    expect(Array.from(lam)).toEqual([5, 5]);
  });

  it("the eigensolver failing on FINITE input (sweep cap 0) returns false and leaves U and λ untouched", () => {
    const u = new Float64Array(9).fill(5);
    const lam = new Float64Array(3).fill(5);
    expect(symmetricEigenInto(Float64Array.from(X3), 0, 3, u, 0, lam, 0, { maxIterations: 0 })).toBe(false);
    expect(Array.from(u)).toEqual(new Array(9).fill(5));
    expect(Array.from(lam)).toEqual([5, 5, 5]);
    // The same input with the default cap succeeds: the cap, not the input, made it fail.
    expect(symmetricEigenInto(Float64Array.from(X3), 0, 3, u, 0, lam, 0, {})).toBe(true);
    expect(symmetricEigenInto(Float64Array.from(X3), 0, 3, u, 0, lam, 0, { maxIterations: 90 })).toBe(true);
  });

  it("a finite input whose eigenvalues overflow after unscaling returns false and leaves U and λ untouched", () => {
    // All entries M/2 (M = MAX_VALUE; (x_ij + x_ji)/2 stays finite): λ = 0, 0, 3M/2 = +Inf.
    const h = Number.MAX_VALUE / 2;
    const u = new Float64Array(9).fill(5);
    const lam = new Float64Array(3).fill(5);
    expect(symmetricEigenInto(new Float64Array(9).fill(h), 0, 3, u, 0, lam, 0)).toBe(false);
    expect(Array.from(u)).toEqual(new Array(9).fill(5));
    expect(Array.from(lam)).toEqual([5, 5, 5]);
  });

  it("an argument error from eigh propagates (a caller bug, not a numerical failure)", () => {
    expect(() =>
      symmetricEigenInto(Float64Array.from(X3), 0, 3, new Float64Array(9), 0, new Float64Array(3), 0, {
        maxIterations: -1,
      }),
    ).toThrow(/maxIterations/);
  });

  it("a 1×1 factor is its own eigenvalue with vector 1; n = 0 succeeds with nothing to write", () => {
    const u = new Float64Array(1);
    const lam = new Float64Array(1);
    expect(symmetricEigenInto(new Float64Array([2.5]), 0, 1, u, 0, lam, 0)).toBe(true);
    expect(lam[0]).toBe(2.5);
    expect(Math.abs(u[0] as number)).toBe(1);
    expect(symmetricEigenInto(new Float64Array(0), 0, 0, new Float64Array(0), 0, new Float64Array(0), 0)).toBe(true);
  });

  it("exactly-zero rows are deflated: e_r with λ = 0 first, the rest decomposed alone; X = UΛUᵀ, UᵀU = I, λ ascending", () => {
    // X3 embedded at coordinates 1, 2, 4 of a 5×5 factor whose rows 0 and 3 are zero (an input that is
    // 0 on every example).
    const n = 5;
    const active = [1, 2, 4];
    const x = new Float64Array(n * n);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) x[(active[i] as number) * n + (active[j] as number)] = X3[i * 3 + j] as number;
    const u = new Float64Array(n * n).fill(9);
    const lam = new Float64Array(n).fill(9);
    expect(symmetricEigenInto(x, 0, n, u, 0, lam, 0)).toBe(true);
    // Columns 0 and 1 are exactly e_0 and e_3; the others are exactly 0 at rows 0 and 3.
    for (let r = 0; r < n; r++) {
      expect(u[r * n]).toBe(r === 0 ? 1 : 0);
      expect(u[r * n + 1]).toBe(r === 3 ? 1 : 0);
    }
    for (let c = 2; c < n; c++) {
      expect(u[c]).toBe(0);
      expect(u[3 * n + c]).toBe(0);
    }
    expect([lam[0], lam[1]]).toEqual([0, 0]);
    for (let i = 1; i < n; i++) expect(lam[i] as number).toBeGreaterThanOrEqual(lam[i - 1] as number);
    expect(maxDiff(reconstruct(u, 0, lam, 0, n), x)).toBeLessThan(1e-13);
    expectOrthonormal(u, n);
    // The nonzero eigenvalues are X3's.
    const u3 = new Float64Array(9);
    const lam3 = new Float64Array(3);
    expect(symmetricEigenInto(Float64Array.from(X3), 0, 3, u3, 0, lam3, 0)).toBe(true);
    expect(maxDiff(lam.subarray(2), lam3)).toBeLessThan(1e-14);
  });

  it("an all-zero factor gives the identity with λ = 0; its argument errors still propagate", () => {
    const u = new Float64Array(9).fill(9);
    const lam = new Float64Array(3).fill(9);
    expect(symmetricEigenInto(new Float64Array(9), 0, 3, u, 0, lam, 0)).toBe(true);
    expect(Array.from(u)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(Array.from(lam)).toEqual([0, 0, 0]);
    expect(() => symmetricEigenInto(new Float64Array(9), 0, 3, u, 0, lam, 0, { maxIterations: -1 })).toThrow(
      /maxIterations/,
    );
  });
});

describe("gramEigenInto: the factor s·XᵀX from its rows", () => {
  /** r × n rows with the given columns exactly zero, the rest N(0, 1) (a seeded LCG-free pattern). */
  function rows(r: number, n: number, zeroCols: readonly number[], seed: number): Float64Array {
    const x = new Float64Array(r * n);
    let s = seed;
    for (let i = 0; i < r * n; i++) {
      s = (s * 1103515245 + 12345) % 2 ** 31;
      x[i] = s / 2 ** 30 - 1;
    }
    for (const j of zeroCols) for (let i = 0; i < r; i++) x[i * n + j] = 0;
    return x;
  }
  function gram(x: Float64Array, r: number, n: number, s: number): Float64Array {
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let t = 0;
        for (let k = 0; k < r; k++) t += (x[k * n + i] as number) * (x[k * n + j] as number);
        a[i * n + j] = s * t;
      }
    return a;
  }

  it("an exact eigendecomposition, zero columns deflated to unit vectors as symmetricEigenInto does", () => {
    const r = 3;
    const n = 11;
    const zeroCols = [0, 4, 9];
    const x = new Float64Array([5, 5, ...rows(r, n, zeroCols, 7)]); // offset 2
    const a = gram(x.subarray(2), r, n, 1 / r);
    const u = new Float64Array(n * n).fill(-7);
    const lam = new Float64Array(n).fill(-7);
    expect(gramEigenInto(x, 2, r, n, 1 / r, u, 0, lam, 0)).toBe(true);
    expect(maxDiff(reconstruct(u, 0, lam, 0, n), a)).toBeLessThan(1e-14);
    expectOrthonormal(u, n);
    // The zero coordinates' unit vectors first, as symmetricEigenInto writes them (the rotations'
    // deflation looks for exactly these columns).
    const uRef = new Float64Array(n * n);
    const lamRef = new Float64Array(n);
    expect(symmetricEigenInto(a, 0, n, uRef, 0, lamRef, 0)).toBe(true);
    for (let c = 0; c < zeroCols.length; c++)
      for (let i = 0; i < n; i++) {
        expect(u[i * n + c]).toBe(i === zeroCols[c] ? 1 : 0);
        expect(uRef[i * n + c]).toBe(i === zeroCols[c] ? 1 : 0);
      }
    // The same spectrum; the 8 − 3 = 5 active directions outside the rows' span have exactly 0.
    expect(maxDiff(lam, lamRef)).toBeLessThan(1e-14);
    for (let c = 0; c < n - r; c++) expect(lam[c]).toBe(0);
    expect(lam[n - r] as number).toBeGreaterThan(0);
  });

  it("returns null (not worth it) unless the active size is at least twice the rows, and false on NaN", () => {
    const n = 8;
    const u = new Float64Array(n * n).fill(-7);
    const lam = new Float64Array(n).fill(-7);
    expect(gramEigenInto(rows(5, n, [], 1), 0, 5, n, 1, u, 0, lam, 0)).toBe(null);
    expect(gramEigenInto(rows(3, n, [1, 2, 3], 1), 0, 3, n, 1, u, 0, lam, 0)).toBe(null); // 5 active < 6
    expect(u[0]).toBe(-7);
    const bad = rows(3, n, [], 1);
    bad[4] = Number.NaN;
    expect(gramEigenInto(bad, 0, 3, n, 1, u, 0, lam, 0)).toBe(false);
    expect(u.every((v) => v === -7) && lam.every((v) => v === -7)).toBe(true);
  });
});
