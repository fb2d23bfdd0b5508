/**
 * After `init`, an update allocates no typed arrays and keeps every state buffer's identity.
 *
 * The typed-array constructors are replaced by counting proxies for the duration of the loop (module
 * code looks the globals up at call time), with a positive control showing the spy does count.
 */
import { describe, expect, it } from "vitest";
import { countTypedArrayConstructions } from "../../test/allocation-spy.ts";
import { everyOptimizer } from "../../test/optimizers.ts";
import { blobs, TinyMlp } from "../../test/tiny-mlp.ts";
import type { KroneckerBlock } from "../curvature/kronecker-block.ts";
import { adam, applyUpdates, diagonalFisher, ekfac, kfac, Optimizer, type StateValue } from "../index.ts";

type FloatArray = Float32Array | Float64Array;

function buffersOf(state: unknown, out: FloatArray[] = []): FloatArray[] {
  if (state instanceof Float32Array || state instanceof Float64Array) out.push(state);
  else if (Array.isArray(state)) for (const s of state) buffersOf(s, out);
  else if (state !== null && typeof state === "object") for (const v of Object.values(state)) buffersOf(v, out);
  return out;
}

describe("no allocation per step after init", () => {
  it("positive control: the spy counts typed-array constructions", () => {
    expect(
      countTypedArrayConstructions(() => {
        new Float64Array(3);
        adam().init([new Float32Array(4)]); // the argument, then Adam's m and v
      }),
    ).toBe(4);
  });

  for (const [name, make] of everyOptimizer) {
    it(`${name}: 1000 updates create no typed array and keep the state's buffers`, () => {
      const params = [new Float32Array(16).fill(0.5), new Float64Array(5).fill(-0.25)];
      const grads = [new Float32Array(16), new Float64Array(5)];
      const t = make();
      const state: StateValue = t.init(params);
      const before = buffersOf(state);
      const created = countTypedArrayConstructions(() => {
        for (let s = 0; s < 1000; s++) {
          for (let k = 0; k < grads.length; k++) {
            const g = grads[k] as FloatArray;
            const p = params[k] as FloatArray;
            for (let i = 0; i < g.length; i++) g[i] = Math.sin(s + i) + 0.1 * (p[i] as number);
          }
          t.update(grads, state, params);
          applyUpdates(params, grads);
        }
      });
      expect(created).toBe(0);
      const after = buffersOf(state);
      expect(after.length).toBe(before.length);
      after.forEach((b, i) => {
        expect(b).toBe(before[i]);
      });
      for (const p of params) for (const x of p) expect(Number.isFinite(x)).toBe(true);
    });
  }

  it("Optimizer.step: 1000 steps create no typed array", () => {
    const params = [new Float32Array(8).fill(1)];
    const opt = new Optimizer(adam(1e-2), params);
    const g = [new Float32Array(8)];
    const created = countTypedArrayConstructions(() => {
      for (let s = 0; s < 1000; s++) {
        g[0]?.fill(Math.cos(s));
        opt.step(g);
      }
    });
    expect(created).toBe(0);
    expect(opt.stepsApplied).toBe(1000);
  });

  for (const [name, make] of [
    ["kfac", (m: TinyMlp) => kfac(m, { learningRate: 0.05, basisEvery: 1000 })],
    ["ekfac", (m: TinyMlp) => ekfac(m, { learningRate: 0.05, basisEvery: 1000 })],
    ["ekfac ra", (m: TinyMlp) => ekfac(m, { learningRate: 0.05, basisEvery: 1000, scaling: "ra", scalingEvery: 2 })],
    ["diagonalFisher", (m: TinyMlp) => diagonalFisher(m, { learningRate: 0.05 })],
    // Adaptive step control: quadratic model, 2×2 solve, δ₀ and the Levenberg–Marquardt bookkeeping
    // (the closure is a constant: the model's own forward pass is not what is counted).
    ["ekfac adaptive", (m: TinyMlp) => ekfac(m, { basisEvery: 1000, burnIn: 1, dampingAdaptation: { interval: 2 } })],
    ["kfac adaptive", (m: TinyMlp) => kfac(m, { basisEvery: 1000, burnIn: 1 })],
    // statisticsFraction: the prefix views are made once while the captured buffers stay the same.
    [
      "ekfac adaptive, statisticsFraction 0.5",
      (m: TinyMlp) => ekfac(m, { basisEvery: 1000, burnIn: 1, statisticsFraction: 0.5 }),
    ],
    [
      "kfac, statisticsFraction 0.25",
      (m: TinyMlp) => kfac(m, { learningRate: 0.05, basisEvery: 1000, statisticsFraction: 0.25 }),
    ],
  ] as const) {
    it(`Optimizer.step with ${name} (curvature chain): 20 steps after warm-up create no typed array`, () => {
      const { x, y } = blobs(3, 32, 5);
      const model = new TinyMlp([5, 7, 3], 4, "softmax-ce");
      const opt = new Optimizer(make(model), model);
      const stepOnce = (count: boolean): number => {
        model.forwardBackward(x, y, 32); // the model's own pass allocates; only the step is counted
        if (count) return countTypedArrayConstructions(() => opt.step(() => 1));
        opt.step(() => 1);
        return 0;
      };
      for (let s = 0; s < 2; s++) stepOnce(false); // warm-up: workspaces and the first eigendecomposition
      let created = 0;
      for (let s = 0; s < 20; s++) created += stepOnce(true);
      expect(created).toBe(0);
      expect(opt.stepsApplied).toBe(22);
    });
  }

  // Deflated bases (curvature/basis-rotation.ts): input 0 is zero in every example, so the first
  // layer's A has an exactly-zero row and its basis a unit column; the products take the compact path.
  for (const name of ["kfac", "ekfac"] as const) {
    it(`Optimizer.step with ${name} on a deflated basis (an input zero in every example): 20 steps create no typed array`, () => {
      const { x, y } = blobs(3, 32, 5);
      for (let r = 0; r < 32; r++) x[r * 5] = 0;
      const model = new TinyMlp([5, 7, 3], 4, "softmax-ce");
      const chain = (name === "kfac" ? kfac : ekfac)(model, { learningRate: 0.05, basisEvery: 1000 });
      const opt = new Optimizer(chain, model);
      const stepOnce = (count: boolean): number => {
        model.forwardBackward(x, y, 32);
        if (count) return countTypedArrayConstructions(() => opt.step());
        opt.step();
        return 0;
      };
      for (let s = 0; s < 2; s++) stepOnce(false);
      const first = chain.curvature.blocks[0]?.block as KroneckerBlock;
      // U_A's first column is e_0 exactly: the basis is deflated.
      const a = first.dims.aDim;
      for (let r = 0; r < a; r++) expect(first.uA[r * a]).toBe(r === 0 ? 1 : 0);
      let created = 0;
      for (let s = 0; s < 20; s++) created += stepOnce(true);
      expect(created).toBe(0);
    });
  }

  // Every layer takes its rotated gradient from S*'s rows (scaling.ts cost model): with the empirical
  // Fisher N = 2 ≪ a + g; with the true Fisher, N = 2 against 20 → 16 → 2 keeps the loss's rows below
  // the rotation's multiply-adds on both layers.
  const sharedCases = [
    { fisher: "empirical", rows: "S*'s rows", sizes: [5, 7, 3], classes: 3 },
    { fisher: "true", rows: "rows from the loss's signals", sizes: [20, 16, 2], classes: 2 },
  ] as const;
  for (const precision of ["float32", "float64"] as const) {
    for (const { fisher, rows, sizes, classes } of sharedCases) {
      it(`Optimizer.step with ekfac, ${fisher} Fisher, ${rows} (${precision}): 20 steps create no typed array`, () => {
        const { x, y } = blobs(3, 2, sizes[0], classes);
        const model = new TinyMlp([...sizes], 4, "softmax-ce");
        const chain = ekfac(model, { learningRate: 0.05, basisEvery: 1000, fisher, precision });
        const opt = new Optimizer(chain, model);
        const stepOnce = (count: boolean): number => {
          model.forwardBackward(x, y, 2);
          if (count) return countTypedArrayConstructions(() => opt.step());
          opt.step();
          return 0;
        };
        for (let s = 0; s < 2; s++) stepOnce(false);
        let created = 0;
        for (let s = 0; s < 20; s++) created += stepOnce(true);
        expect(created).toBe(0);
        for (const { block } of chain.curvature.blocks) expect((block as KroneckerBlock).sharedRotations).toBe(22);
      });
    }
  }
});
