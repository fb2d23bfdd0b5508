import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DivideConquerWorkspace, divideConquerKernel } from "./internal/divide-conquer.ts";
import { tridiagonalQRKernel } from "./internal/symmetric-eigen.ts";
import { Rng } from "./random.ts";

const EPS = 2 ** -52;

/** ‖T·Y − Y·Λ‖_F / ‖T‖_F and ‖YᵀY − I‖_F for T = tridiag(e, d, e), Y's columns the eigenvectors. */
function laws(d: number[], e: number[], lam: Float64Array, y: Float64Array): { res: number; orth: number } {
  const n = d.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) den += (d[i] as number) ** 2 + 2 * (i < n - 1 ? (e[i] as number) ** 2 : 0);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) {
      let t = (d[i] as number) * (y[i * n + j] as number);
      if (i > 0) t += (e[i - 1] as number) * (y[(i - 1) * n + j] as number);
      if (i + 1 < n) t += (e[i] as number) * (y[(i + 1) * n + j] as number);
      num += (t - (lam[j] as number) * (y[i * n + j] as number)) ** 2;
    }
  }
  let orth = 0;
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (y[k * n + a] as number) * (y[k * n + b] as number);
      orth += (s - (a === b ? 1 : 0)) ** 2;
    }
  }
  return { res: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), orth: Math.sqrt(orth) };
}

function expectDivideConquer(d: number[], e: number[], label: string): void {
  const n = d.length;
  const m = Math.max(n, 4);
  const ws = new DivideConquerWorkspace(n);
  const dd = Float64Array.from(d);
  const ee = Float64Array.from(e);
  expect(divideConquerKernel(n, dd, ee, ws, 30 * n), label).toBe("success");
  const { res, orth } = laws(d, e, dd, ws.y);
  expect(res, `${label} ‖TY − YΛ‖/‖T‖`).toBeLessThanOrEqual(8 * m * EPS);
  expect(orth, `${label} ‖YᵀY − I‖`).toBeLessThanOrEqual(8 * m ** 1.5 * EPS);
  // Same eigenvalues as implicit QR (both backward stable: agreement to O(ε‖T‖)).
  const dq = Float64Array.from(d);
  const eq = Float64Array.from(e);
  expect(tridiagonalQRKernel(n, dq, eq, null, 0, null, 30 * n)).toBeGreaterThanOrEqual(0);
  const a = Array.from(dd).sort((x, y) => x - y);
  const b = Array.from(dq).sort((x, y) => x - y);
  let scale = 0;
  for (const v of [...d, ...e]) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < n; i++) {
    expect(Math.abs((a[i] as number) - (b[i] as number)), `${label} λ${i}`).toBeLessThanOrEqual(8 * m * EPS * scale);
  }
}

describe("divide and conquer on the tridiagonal (internal kernel)", () => {
  it("T·Y = Y·Λ, YᵀY = I and λ = the QR eigenvalues on random tridiagonals, n ∈ [1, 150]", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, seed) => {
        const rng = new Rng(seed);
        const d = Array.from({ length: n }, () => rng.normal());
        const e = Array.from({ length: n - 1 }, () => rng.normal());
        expectDivideConquer(d, e, `n=${n} seed=${seed}`);
      }),
      { numRuns: 25 },
    );
  });

  it("glued Wilkinson W⁺₂₁ blocks (coupling 1e-14: clusters of near-equal eigenvalues, heavy deflation)", () => {
    const d: number[] = [];
    const e: number[] = [];
    for (let b = 0; b < 6; b++) {
      for (let i = 0; i < 21; i++) {
        d.push(Math.abs(10 - i));
        if (i < 20) e.push(1);
      }
      if (b < 5) e.push(1e-14);
    }
    expectDivideConquer(d, e, "glued W21+");
  });

  it("constant diagonal with tiny couplings (every z component deflates) and a graded diagonal", () => {
    const n = 100;
    expectDivideConquer(
      Array.from({ length: n }, () => 1),
      Array.from({ length: n - 1 }, (_, i) => (i % 2 ? 1e-300 : 1e-17)),
      "constant",
    );
    const rng = new Rng(3);
    expectDivideConquer(
      Array.from({ length: n }, (_, i) => 10 ** (-i / 10)),
      Array.from({ length: n - 1 }, (_, i) => rng.normal() * 10 ** (-i / 10)),
      "graded",
    );
  });

  it("reports the leaves' sweep cap, and never reports success on NaN input", () => {
    const rng = new Rng(1);
    const n = 100;
    const d = Float64Array.from({ length: n }, () => rng.normal());
    const e = Float64Array.from({ length: n - 1 }, () => rng.normal());
    const ws = new DivideConquerWorkspace(n);
    expect(divideConquerKernel(n, d.slice(), e.slice(), ws, 0)).toBe("sweep-cap");
    for (const at of [3, 49, 70]) {
      const eBad = e.slice();
      eBad[at] = Number.NaN;
      expect(divideConquerKernel(n, d.slice(), eBad, ws, 30 * n)).not.toBe("success");
    }
  });
});
