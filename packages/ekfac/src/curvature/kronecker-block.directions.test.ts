/**
 * The damped directions of the Kronecker blocks against explicit dense float64 solves, with groups and
 * T > 1 (kronecker-block.ts header, "Update"; MATH.md §7): EKFAC (Q diag(vec S) Qᵀ + εI)⁻¹ ∇, KFAC with
 * eigenbasis damping (G ⊗ A + εI)⁻¹ ∇, and KFAC with factored Tikhonov damping
 * ((G + √ε/π I) ⊗ (A + π√ε I))⁻¹ ∇ with π = √((tr A / a)/(tr G / g)) per group (1 when a trace is 0).
 * The proofs catalogue states these as laws; they are repeated here, per group and per precision, so
 * that the narrowed mutation run of kronecker-block.ts sees them (the catalogue is not in its test list),
 * together with `pi`, `eigenScaling` and `denseApproximation` against the factors themselves, and
 * EKFAC's scaling per group against its definitions: S* = (1/N) Σ_n (U_Gᵀ ∇_n U_A)² for every strategy
 * with its moving average, and "ra"'s S ← α S + (1−α) N (U_Gᵀ ∇ U_A)² (overwritten first after a refresh).
 */
import { assertClose } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addIdentity,
  denseSolve,
  layerSizesArb,
  randomCase,
  rotateIntoEigenbasis,
} from "../../test/dense-reference.ts";
import { kroneckerDense, meanGradient, perExampleGradients } from "./exact-fisher.ts";
import { Conv2dEigenCorrected, Conv2dKroneckerFactored, type KroneckerBlock } from "./kronecker-block.ts";

const convArb = layerSizesArb({ outPerGroup: 3, inDim: 3, n: 4, t: 3 });
const epsArb = fc.double({ min: 1e-2, max: 1, noNaN: true });

/** The P × P block-diagonal matrix of per-group g·a × g·a blocks made by `blockOf(k)`. */
function blockDiagonal(b: KroneckerBlock, blockOf: (k: number) => Float64Array): Float64Array {
  const { gDim: g, aDim: a, groups, size: p } = b.dims;
  const ga = g * a;
  const out = new Float64Array(p * p);
  for (let k = 0; k < groups; k++) {
    const m = blockOf(k);
    for (let r = 0; r < ga; r++)
      for (let c = 0; c < ga; c++) out[(k * ga + r) * p + k * ga + c] = m[r * ga + c] as number;
  }
  return out;
}

/** Factor k of a groups × n² array, plus c·I. */
function factor(x: Float64Array, n: number, k: number, c = 0): Float64Array {
  const m = x.slice(k * n * n, (k + 1) * n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = (m[i * n + i] as number) + c;
  return m;
}

function traceOf(x: Float64Array, n: number, k: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += x[k * n * n + i * n + i] as number;
  return s;
}

function fitted<B extends KroneckerBlock>(b: B, c: ReturnType<typeof randomCase>): B {
  b.updateFactors(c.stats);
  b.updateBasis();
  b.updateScaling(c.stats);
  return b;
}

function caseOf(s: {
  seed: number;
  groups: number;
  outPerGroup: number;
  inDim: number;
  hasBias: boolean;
  n: number;
  t: number;
}) {
  return randomCase(s.seed, "conv2d", s.groups * s.outPerGroup, s.inDim, s.hasBias, s.n, s.t, s.groups);
}

describe("damped directions against dense solves, per group (MATH.md §7)", () => {
  for (const precision of ["float64", "float32"] as const) {
    const rtol = precision === "float64" ? 1e-9 : 2e-4;

    it(`EKFAC: precondition(∇, ε) = (Q diag(vec S) Qᵀ + εI)⁻¹ ∇ (${precision})`, () => {
      fc.assert(
        fc.property(convArb, epsArb, (s, e) => {
          const c = caseOf(s);
          const b = fitted(new Conv2dEigenCorrected(c.shape, { factorDecay: 0, scalingDecay: 0, precision }), c);
          const eps = e * Math.max(...b.eigenScaling(), 1e-3);
          const grad = meanGradient(c.shape, c.stats);
          const got = b.precondition(grad, new Float64Array(b.size), eps);
          assertClose(got, denseSolve(addIdentity(b.denseApproximation(), eps), grad), { rtol });
        }),
        { numRuns: 25 },
      );
    });

    it(`KFAC, eigenbasis damping: precondition(∇, ε) = (G ⊗ A + εI)⁻¹ ∇ (${precision})`, () => {
      fc.assert(
        fc.property(convArb, epsArb, (s, e) => {
          const c = caseOf(s);
          const b = fitted(new Conv2dKroneckerFactored(c.shape, { factorDecay: 0, precision }), c);
          const { aDim: a, gDim: g } = b.dims;
          const eps = e * Math.max(...b.eigenScaling(), 1e-3);
          const m = blockDiagonal(b, (k) => kroneckerDense(factor(b.G, g, k), g, factor(b.A, a, k), a));
          const grad = meanGradient(c.shape, c.stats);
          const got = b.precondition(grad, new Float64Array(b.size), eps);
          assertClose(got, denseSolve(addIdentity(m, eps), grad), { rtol });
        }),
        { numRuns: 25 },
      );
    });

    it(`KFAC, factored Tikhonov: precondition(∇, ε) = ((G + √ε/π I) ⊗ (A + π√ε I))⁻¹ ∇ (${precision})`, () => {
      fc.assert(
        fc.property(convArb, epsArb, (s, e) => {
          const c = caseOf(s);
          const b = fitted(
            new Conv2dKroneckerFactored(c.shape, { factorDecay: 0, precision, kfacDamping: "factored-tikhonov" }),
            c,
          );
          const { aDim: a, gDim: g } = b.dims;
          const eps = e * Math.max(...b.eigenScaling(), 1e-3);
          const r = Math.sqrt(eps);
          const m = blockDiagonal(b, (k) => {
            const pi = Math.sqrt(traceOf(b.A, a, k) / a / (traceOf(b.G, g, k) / g));
            // π comes from the eigenvalues, clamped at 0 (the factors are PSD); the float32 path forms
            // the factors' batch products in float32, so their rounding-level negative eigenvalues are
            // float32-sized and the eigenvalue sum departs from the trace by that much.
            expect(Math.abs(b.pi(k) - pi)).toBeLessThanOrEqual((precision === "float64" ? 1e-10 : 1e-6) * pi);
            return kroneckerDense(factor(b.G, g, k, r / pi), g, factor(b.A, a, k, pi * r), a);
          });
          const grad = meanGradient(c.shape, c.stats);
          const got = b.precondition(grad, new Float64Array(b.size), eps);
          assertClose(got, denseSolve(m, grad), { rtol });
        }),
        { numRuns: 25 },
      );
    });
  }

  it("π uses each group's own traces and is 1 when a trace is 0", () => {
    // Two groups with different scales of ā and g: π differs per group. Zero g rows: tr G = 0, π = 1.
    const c = randomCase(4, "conv2d", 4, 3, false, 3, 2, 2);
    const a = c.stats.a.slice();
    for (let i = a.length / 2; i < a.length; i++) a[i] = 5 * (a[i] as number);
    const b = new Conv2dKroneckerFactored(c.shape, { kfacDamping: "factored-tikhonov" });
    b.updateFactors({ ...c.stats, a });
    b.updateBasis();
    for (const k of [0, 1])
      expect(b.pi(k)).toBeCloseTo(Math.sqrt(traceOf(b.A, 3, k) / 3 / (traceOf(b.G, 2, k) / 2)), 12);
    expect(b.pi(1)).toBeGreaterThan(2 * b.pi(0)); // the second group's ā are 5× larger
    const z = new Conv2dKroneckerFactored(c.shape, { kfacDamping: "factored-tikhonov" });
    z.updateFactors({ ...c.stats, g: new Float64Array(c.stats.g.length) });
    z.updateBasis();
    expect(z.pi(0)).toBe(1);
    expect(z.pi(1)).toBe(1);
    const y = new Conv2dKroneckerFactored(c.shape, { kfacDamping: "factored-tikhonov" });
    y.updateFactors({ ...c.stats, a: new Float64Array(c.stats.a.length) });
    y.updateBasis();
    expect(y.pi(0)).toBe(1);
    // With tr G = 0 the damped G is √ε I and A + √ε I: Δ = ∇ (A + √ε I)⁻¹ / √ε.
    const eps = 0.25;
    const grad = meanGradient(c.shape, c.stats);
    const got = z.precondition(grad, new Float64Array(z.size), eps);
    const m = blockDiagonal(z, (k) => kroneckerDense(factor(z.G, 2, k, 0.5), 2, factor(z.A, 3, k, 0.5), 3));
    assertClose(got, denseSolve(m, grad), { rtol: 1e-10 });
  });

  it("eigenScaling is λ_G λ_Aᵀ per group for KFAC and a copy of S for EKFAC; denseApproximation is Q diag(vec S) Qᵀ", () => {
    const c = randomCase(8, "conv2d", 4, 2, true, 3, 2, 2);
    const kf = fitted(new Conv2dKroneckerFactored(c.shape, { factorDecay: 0 }), c);
    const { aDim: a, gDim: g } = kf.dims;
    const s = kf.eigenScaling();
    for (let k = 0; k < 2; k++)
      for (let i = 0; i < g; i++)
        for (let j = 0; j < a; j++)
          expect(s[k * g * a + i * a + j]).toBe((kf.lambdaG[k * g + i] as number) * (kf.lambdaA[k * a + j] as number));
    // KFAC's dense approximation is block-diagonal G ⊗ A.
    const m = blockDiagonal(kf, (k) => kroneckerDense(factor(kf.G, g, k), g, factor(kf.A, a, k), a));
    assertClose(kf.denseApproximation(), m, { rtol: 1e-10 });
    const ek = fitted(new Conv2dEigenCorrected(c.shape, { factorDecay: 0, scalingDecay: 0 }), c);
    const se = ek.eigenScaling();
    expect(se).toEqual(ek.S);
    se[0] = 123;
    expect(ek.S[0]).not.toBe(123);
  });
});

/** S*[k] = (1/N) Σ_n (U_Gᵀ ∇_n U_A)² per group k, from the block's bases, by the triple sums. */
function sStarReference(b: KroneckerBlock, c: ReturnType<typeof randomCase>): Float64Array {
  const { aDim: a, gDim: g, groups, size: p } = b.dims;
  const n = c.stats.batchSize;
  const v = perExampleGradients(c.shape, c.stats);
  const out = new Float64Array(p);
  for (let k = 0; k < groups; k++) {
    const uG = b.uG.subarray(k * g * g, (k + 1) * g * g);
    const uA = b.uA.subarray(k * a * a, (k + 1) * a * a);
    for (let e = 0; e < n; e++) {
      const r = rotateIntoEigenbasis(uG, uA, v.subarray(e * p + k * g * a, e * p + (k + 1) * g * a), g, a);
      for (let i = 0; i < g * a; i++) out[k * g * a + i] = (out[k * g * a + i] as number) + (r[i] as number) ** 2 / n;
    }
  }
  return out;
}

describe("EKFAC's scaling per group against the per-example definition", () => {
  for (const precision of ["float64", "float32"] as const) {
    for (const strategy of ["gram", "rotate-rows", "rotate-gradients"] as const) {
      it(`S* = (1/N) Σ_n (U_Gᵀ ∇_n U_A)² per group, then S ← ρS + (1−ρ)S* in the same basis (${strategy}, ${precision})`, () => {
        fc.assert(
          fc.property(convArb, fc.integer(), (s, seed2) => {
            const c = caseOf(s);
            const rho = 0.6;
            const b = new Conv2dEigenCorrected(c.shape, { scalingDecay: rho, scalingStrategy: strategy, precision });
            expect(b.strategyFor(s.n, s.t)).toBe(strategy);
            b.updateFactors(c.stats);
            b.updateBasis();
            b.updateScaling(c.stats);
            const s1 = sStarReference(b, c);
            const rtol = precision === "float64" ? 1e-10 : 1e-4;
            assertClose(b.S, s1, { rtol });
            expect(b.scalingUpdates).toBe(1);
            // A second batch in the same basis (a larger one: the workspaces grow) is averaged in.
            const c2 = caseOf({ ...s, seed: seed2, n: s.n + 2 });
            b.updateScaling(c2.stats);
            const s2 = sStarReference(b, c2);
            assertClose(
              b.S,
              s1.map((x, i) => rho * x + (1 - rho) * (s2[i] as number)),
              { rtol },
            );
            expect(b.scalingUpdates).toBe(2);
          }),
          { numRuns: 10 },
        );
      });
    }
  }

  for (const precision of ["float64", "float32"] as const) {
    it(`"ra": S ← α S + (1−α) N (U_Gᵀ ∇ U_A)² per group; the first update after a refresh overwrites S (${precision})`, () => {
      const c = randomCase(31, "conv2d", 4, 3, true, 3, 2, 2);
      const b = new Conv2dEigenCorrected(c.shape, { scaling: "ra", scalingDecay: 0.7, precision });
      const { aDim: a, gDim: g } = b.dims;
      b.updateFactors(c.stats);
      b.updateBasis();
      const grad = meanGradient(c.shape, c.stats);
      const rotated = new Float64Array(b.size);
      for (let k = 0; k < 2; k++) {
        const r = rotateIntoEigenbasis(
          b.uG.subarray(k * g * g, (k + 1) * g * g),
          b.uA.subarray(k * a * a, (k + 1) * a * a),
          grad.subarray(k * g * a, (k + 1) * g * a),
          g,
          a,
        );
        rotated.set(r, k * g * a);
      }
      const rtol = precision === "float64" ? 1e-10 : 1e-4;
      b.updateScalingFromGradient(grad, 3);
      const first = rotated.map((x) => 3 * x * x);
      assertClose(b.S, first, { rtol });
      expect(b.scalingUpdates).toBe(1);
      b.updateScalingFromGradient(grad, 5);
      assertClose(
        b.S,
        first.map((x, i) => 0.7 * x + 0.3 * 5 * (rotated[i] as number) ** 2),
        { rtol },
      );
      expect(b.scalingUpdates).toBe(2);
      // KFAC has no scaling: a no-op.
      const kf = new Conv2dKroneckerFactored(c.shape);
      kf.updateScalingFromGradient(grad, 3);
      kf.updateScaling(c.stats);
      expect(kf.S).toEqual(new Float64Array(kf.size));
      expect(kf.scalingUpdates).toBe(0);
    });
  }
});

describe("edges of precondition and the float32 bases", () => {
  for (const precision of ["float64", "float32"] as const) {
    it(`precondition may write over its input with several groups (${precision})`, () => {
      const c = randomCase(51, "conv2d", 6, 3, true, 3, 2, 3);
      for (const b of [
        new Conv2dEigenCorrected(c.shape, { precision }),
        new Conv2dKroneckerFactored(c.shape, { precision }),
      ]) {
        fitted(b, c);
        const grad = meanGradient(c.shape, c.stats);
        const want = b.precondition(grad, new Float64Array(b.size), 0.1);
        const inPlace = grad.slice();
        expect(b.precondition(inPlace, inPlace, 0.1)).toBe(inPlace);
        expect(inPlace).toEqual(want);
      }
    });

    it(`before any refresh the bases are the identity: S* = (1/N) Σ_n ∇_n² and Δ = ∇ ⊘ (S + ε) (${precision})`, () => {
      const c = randomCase(52, "conv2d", 4, 2, true, 3, 2, 2);
      const b = new Conv2dEigenCorrected(c.shape, { precision });
      b.updateScaling(c.stats);
      const p = b.size;
      const v = perExampleGradients(c.shape, c.stats);
      const s = new Float64Array(p);
      for (let e = 0; e < 3; e++)
        for (let i = 0; i < p; i++) s[i] = (s[i] as number) + (v[e * p + i] as number) ** 2 / 3;
      const rtol = precision === "float64" ? 1e-12 : 1e-5;
      assertClose(b.S, s, { rtol });
      const grad = meanGradient(c.shape, c.stats);
      assertClose(
        b.precondition(grad, new Float64Array(p), 0.5),
        grad.map((x, i) => x / ((s[i] as number) + 0.5)),
        { rtol },
      );
    });
  }
});
