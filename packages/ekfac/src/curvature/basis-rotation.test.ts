import { assertClose, gemmStrided, Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BasisRotation } from "./basis-rotation.ts";

/**
 * An n × n orthogonal basis (row-major, columns = vectors) with `units` signed unit columns at random
 * rows and columns, the rest an orthogonal block on the other rows and columns: the structure
 * internal/sym-eigen.ts produces for a factor with zero coordinates, in any order, with signs (and
 * one scaled unit in three, which only the products' exactness cares about).
 */
function structuredBasis(n: number, units: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const rows = rng.permutation(n);
  const cols = rng.permutation(n);
  const m = n - units;
  // Orthogonal m × m block by Gram–Schmidt on normal columns.
  const q = new Float64Array(m * m);
  for (let j = 0; j < m; j++) {
    const v = Array.from({ length: m }, () => rng.normal());
    for (let p = 0; p < j; p++) {
      let d = 0;
      for (let i = 0; i < m; i++) d += (v[i] as number) * (q[i * m + p] as number);
      for (let i = 0; i < m; i++) v[i] = (v[i] as number) - d * (q[i * m + p] as number);
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < m; i++) q[i * m + j] = (v[i] as number) / norm;
  }
  const u = new Float64Array(n * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) u[(rows[i] as number) * n + (cols[j] as number)] = q[i * m + j] as number;
  // ±1 as in an orthogonal basis, or 0.75: the products use the entry as it is.
  for (let k = 0; k < units; k++)
    u[(rows[m + k] as number) * n + (cols[m + k] as number)] = [1, -1, 0.75][k % 3] as number;
  return u;
}

const caseArb = fc
  .record({
    n: fc.integer({ min: 1, max: 9 }),
    seed: fc.integer({ min: 0, max: 1e6 }),
    k: fc.integer({ min: 1, max: 7 }),
  })
  .chain((c) => fc.record({ units: fc.integer({ min: 0, max: c.n }), f32: fc.boolean() }).map((u) => ({ ...c, ...u })));

describe("BasisRotation: products with a basis that has unit columns", () => {
  it("X U, X Uᵀ, U X and Uᵀ X equal the dense products, for any number of unit columns, signs and offsets", () => {
    fc.assert(
      fc.property(caseArb, ({ n, seed, k, units, f32 }) => {
        const u64 = structuredBasis(n, units, seed);
        const make = (len: number) => (f32 ? new Float32Array(len) : new Float64Array(len));
        const rng = new Rng(seed + 1);
        const u = make(3 + n * n);
        u.set(u64, 3);
        const rot = new BasisRotation(u).reset(u, 3, n);
        // A 1 × 1 orthogonal block is ±1: a unit column itself.
        const m = n - units === 1 ? 0 : n - units;
        expect(rot.m).toBe(m);
        expect(rot.deflated).toBe(m < n);
        const x = make(2 + k * n);
        for (let i = 2; i < x.length; i++) x[i] = rng.normal();
        const tol = f32 ? 1e-5 : 1e-13;
        for (const transpose of [false, true]) {
          // X is k × n (right: X·op(U)) or n × k (left: op(U)·X) at offset 2; out at offset 1 (the entry
          // before is kept), against the dense gemm.
          for (const side of ["right", "left"] as const) {
            const want = make(k * n);
            if (side === "right") gemmStrided(false, transpose, k, n, n, 1, x, 2, n, u, 3, n, 0, want, 0, n);
            else gemmStrided(transpose, false, n, k, n, 1, u, 3, n, x, 2, k, 0, want, 0, k);
            const out = make(1 + k * n).fill(7);
            rot[side](x, 2, k, out, 1, transpose);
            expect(out[0]).toBe(7);
            assertClose(out.subarray(1), want, { rtol: tol, atol: tol });
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("a unit column whose row has another nonzero entry is not taken as a unit (the product stays exact)", () => {
    // Column 0 is e_0, but row 0 also holds 0.5 in column 1: not the structure, so the dense path.
    const u = new Float64Array([1, 0.5, 0, 1]);
    const rot = new BasisRotation(u).reset(u, 0, 2);
    expect(rot.deflated).toBe(false);
    const x = new Float64Array([2, 3]);
    expect(Array.from(rot.right(x, 0, 1, new Float64Array(2), 0, false))).toEqual([2, 4]);
  });

  it("the identity basis (before any refresh) is all units: the products are copies", () => {
    const n = 4;
    const u = new Float32Array(n * n);
    for (let i = 0; i < n; i++) u[i * n + i] = 1;
    const rot = new BasisRotation(u).reset(u, 0, n);
    expect(rot.m).toBe(0);
    const x = Float32Array.from([1, -2, 3, Number.NaN, 5, 6, 7, 8]);
    expect(Array.from(rot.right(x, 0, 2, new Float32Array(8), 0, true))).toEqual(Array.from(x));
    expect(Array.from(rot.left(x, 0, 2, new Float32Array(8), 0, false))).toEqual(Array.from(x));
  });

  it("reset re-reads a changed basis, and the products allocate nothing once their workspaces have grown", () => {
    const n = 6;
    const u = structuredBasis(n, 2, 11);
    const rot = new BasisRotation(u).reset(u, 0, n);
    const x = new Float64Array(5 * n).map((_, i) => Math.sin(i));
    const out = new Float64Array(5 * n);
    rot.right(x, 0, 5, out, 0, false);
    const ws = (rot as unknown as { ws1: Float64Array; ws2: Float64Array }).ws1;
    rot.right(x, 0, 5, out, 0, true);
    rot.left(x, 0, 5, out, 0, true);
    expect((rot as unknown as { ws1: Float64Array }).ws1).toBe(ws);
    u.set(structuredBasis(n, 0, 12));
    rot.reset(u, 0, n);
    expect(rot.deflated).toBe(false);
    const want = new Float64Array(5 * n);
    gemmStrided(false, false, 5, n, n, 1, x, 0, n, u, 0, n, 0, want, 0, n);
    assertClose(rot.right(x, 0, 5, out, 0, false), want, { rtol: 1e-13, atol: 1e-13 });
  });
});
