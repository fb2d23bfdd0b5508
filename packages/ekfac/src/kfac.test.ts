import { describe, expect, it } from "vitest";
import { blobs, lowRankData, TinyMlp } from "../test/tiny-mlp.ts";
import { curvaturePrecondition } from "./adapter.ts";
import type { KroneckerBlock } from "./curvature/kronecker-block.ts";
import { ekfac } from "./ekfac.ts";
import { type CurvatureOptimizer, type CurvatureOptimizerOptions, diagonalFisher, kfac } from "./kfac.ts";
import { scaleByLearningRate, traceMomentum } from "./optim/basic.ts";
import { applyUpdates, chain } from "./optim/transform.ts";
import { restoreCurvatureState, saveCurvatureState } from "./state.ts";

// Training tests use a hand-written two-layer network (test/tiny-mlp.ts) computing ā and g by hand:
// nn's MLP was not available when these were written.

interface Task {
  readonly model: TinyMlp;
  readonly batch: (step: number) => { x: Float64Array; y: Float64Array | Int32Array; n: number };
  readonly fullLoss: () => number;
}

function classifier(seed = 1): Task {
  const dim = 6;
  const total = 96;
  const bs = 32;
  const { x, y } = blobs(seed, total, dim);
  // Badly scaled features (0.1 … 10): curvature methods are nearly invariant to this, SGD is not.
  for (let e = 0; e < total; e++)
    for (let j = 0; j < dim; j++) x[e * dim + j] = (x[e * dim + j] as number) * 10 ** ((2 * j) / (dim - 1) - 1);
  const model = new TinyMlp([dim, 12, 3], seed + 100, "softmax-ce");
  return {
    model,
    batch: (s) => {
      const o = (s % (total / bs)) * bs;
      return { x: x.subarray(o * dim, (o + bs) * dim), y: y.subarray(o, o + bs), n: bs };
    },
    fullLoss: () => model.forwardBackward(x, y, total),
  };
}

function autoencoder(seed = 2): Task {
  const dim = 8;
  const total = 64;
  const bs = 32;
  const x = lowRankData(seed, total, dim, 2);
  const model = new TinyMlp([dim, 3, dim], seed + 100, "squared");
  return {
    model,
    batch: (s) => {
      const o = (s % (total / bs)) * bs;
      const xb = x.subarray(o * dim, (o + bs) * dim);
      return { x: xb, y: xb, n: bs };
    },
    fullLoss: () => model.forwardBackward(x, x, total),
  };
}

function trainCurvature(task: Task, make: (t: Task) => CurvatureOptimizer, steps: number): number {
  const opt = make(task);
  for (let s = 0; s < steps; s++) {
    const b = task.batch(s);
    task.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
  }
  return task.fullLoss();
}

function trainSgd(task: Task, lr: number, steps: number): number {
  const params = task.model.parameters();
  const values = params.map((p) => p.value);
  const t = chain(traceMomentum({ momentum: 0.9 }), scaleByLearningRate(lr));
  const state = t.init(values);
  for (let s = 0; s < steps; s++) {
    const b = task.batch(s);
    task.model.forwardBackward(b.x, b.y, b.n);
    const u = params.map((p) => Float32Array.from(p.grad as Float32Array));
    t.update(u, state, values);
    applyUpdates(values, u);
  }
  return task.fullLoss();
}

// SGD (momentum 0.9) gets the best of a learning-rate grid; the curvature settings were picked from a
// small grid (damping {0.03, 0.1, 0.3} × momentum {0.5, 0.9} × lr {0.02 … 0.2}) in the middle of a
// region where neighbouring settings also beat SGD, so that rounding changes in linalg do not flip it.
const classifierOptions: CurvatureOptimizerOptions = { learningRate: 0.1, damping: 0.1, momentum: 0.9, basisEvery: 5 };
const autoencoderOptions: CurvatureOptimizerOptions = {
  learningRate: 0.05,
  damping: 0.1,
  momentum: 0.5,
  basisEvery: 5,
};
const sgdGrid = [0.01, 0.03, 0.1, 0.3];

describe("training (hand-written MLP; fixed seeds, generous margins)", () => {
  const steps = 30;
  for (const [name, make, options] of [
    ["MLP classifier", classifier, classifierOptions],
    ["autoencoder", autoencoder, autoencoderOptions],
  ] as const) {
    it(`KFAC and EKFAC reach a lower training loss than SGD after ${steps} steps (${name})`, () => {
      const sgd = Math.min(...sgdGrid.map((lr) => trainSgd(make(), lr, steps)));
      const k = trainCurvature(make(), (t) => kfac(t.model, options), steps);
      const e = trainCurvature(make(), (t) => ekfac(t.model, options), steps);
      expect(k).toBeLessThan(0.8 * sgd);
      expect(e).toBeLessThan(0.8 * sgd);
    });
  }
});

function runSteps(task: Task, opt: CurvatureOptimizer, from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const b = task.batch(s);
    task.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
  }
}

function sameBits(x: ArrayLike<number>, y: ArrayLike<number>): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  return true;
}

describe("state save and restore", () => {
  const variants: [string, (m: TinyMlp) => CurvatureOptimizer][] = [
    ["kfac", (m) => kfac(m, { ...classifierOptions, kfacDamping: "factored-tikhonov" })],
    ["ekfac", (m) => ekfac(m, { ...classifierOptions, klClip: 1e-2 })],
    ["ekfac-ra", (m) => ekfac(m, { ...classifierOptions, scaling: "ra" })],
    ["diagonal", (m) => diagonalFisher(m, classifierOptions)],
  ];
  for (const [name, make] of variants) {
    it(`checkpoint → restore → continue equals uninterrupted training bit for bit (${name})`, () => {
      const a = classifier();
      const optA = make(a.model);
      runSteps(a, optA, 0, 13);
      const b = classifier();
      const optB = make(b.model);
      runSteps(b, optB, 0, 7);
      const saved = saveCurvatureState(optB);
      const params = b.model.snapshot();
      // Through JSON and fresh typed arrays, as a file would.
      const json = JSON.parse(JSON.stringify(saved.json));
      const arrays = Object.fromEntries(Object.entries(saved.arrays).map(([k, v]) => [k, v.slice()]));
      const c = classifier();
      const optC = make(c.model);
      c.model.load(params);
      restoreCurvatureState(optC, { json, arrays });
      runSteps(c, optC, 7, 13);
      const pa = a.model.parameters();
      const pc = c.model.parameters();
      for (let i = 0; i < pa.length; i++)
        expect(sameBits(pc[i]?.value as Float32Array, pa[i]?.value as Float32Array)).toBe(true);
      expect(optC.stats).toEqual(optA.stats);
    });
  }

  it("restore rejects a snapshot of another approximation or structure", () => {
    const a = classifier();
    const opt = kfac(a.model, classifierOptions);
    runSteps(a, opt, 0, 1);
    const saved = saveCurvatureState(opt);
    expect(() => restoreCurvatureState(ekfac(classifier().model, classifierOptions), saved)).toThrow(TypeError);
    expect(() => restoreCurvatureState(kfac(autoencoder().model, autoencoderOptions), saved)).toThrow(/array|layer/);
  });
});

describe("guards: non-finite input, bad arguments, failed eigendecompositions", () => {
  it("a NaN gradient skips the step, counts it, and leaves the parameters unchanged", () => {
    const t = classifier();
    const opt = ekfac(t.model, classifierOptions);
    runSteps(t, opt, 0, 2);
    const before = t.model.snapshot();
    const b = t.batch(2);
    t.model.forwardBackward(b.x, b.y, b.n);
    (t.model.parameters()[0]?.grad as Float32Array)[3] = Number.NaN;
    const r = opt.step();
    expect(r.skipped).toBe(true);
    expect(opt.stats.skippedSteps).toBe(1);
    expect(opt.stats.steps).toBe(2);
    const after = t.model.snapshot();
    for (let i = 0; i < before.length; i++)
      expect(sameBits(after[i] as Float32Array, before[i] as Float32Array)).toBe(true);
  });

  it("an infinite captured statistic skips the step too", () => {
    const t = classifier();
    const opt = kfac(t.model, classifierOptions);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    const stats = t.model.curvatureLayers()[1]?.statistics;
    (stats?.g as Float32Array)[0] = Number.POSITIVE_INFINITY;
    expect(opt.step().skipped).toBe(true);
    expect(opt.stats).toMatchObject({ steps: 0, skippedSteps: 1 });
  });

  it("bad options and mismatched capture shapes throw errors naming the argument", () => {
    const m = classifier().model;
    expect(() => kfac(m, { learningRate: 0.1, damping: -1 })).toThrow(RangeError);
    expect(() => kfac(m, { learningRate: 0.1, damping: -1 })).toThrow(/damping must be a finite number > 0 \(got -1\)/);
    expect(() => ekfac(m, { learningRate: 0.1, basisEvery: 0 })).toThrow(
      /basisEvery \(T_kfe\) must be an integer ≥ 1 \(got 0\)/,
    );
    expect(() => ekfac(m, { learningRate: 0.1, scalingEvery: 1.5 })).toThrow(/T_s/);
    expect(() => ekfac(m, { learningRate: 0 })).toThrow(/learningRate/);
    expect(() => ekfac(m, { learningRate: 0.1, factorDecay: 1 })).toThrow(
      /factorDecay must be a number in \[0, 1\) \(got 1\)/,
    );
    expect(() => ekfac(m, { learningRate: 0.1, klClip: -1 })).toThrow(/klClip/);
    const t = classifier();
    const opt = ekfac(t.model, classifierOptions);
    expect(() => opt.step()).toThrow(/layer fc0 has no captured statistics/);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    const layer = t.model.curvatureLayers()[0] as { statistics: unknown };
    const s = layer.statistics as { batchSize: number; positions: number; a: Float32Array; g: Float32Array };
    layer.statistics = { ...s, a: s.a.subarray(1) };
    expect(() => opt.step()).toThrow(RangeError);
    expect(() => opt.step()).toThrow(/statistics\.a has length 223, expected groups·N·T·aDim = 1·32·1·7 = 224/);
    layer.statistics = { ...s, positions: 2 };
    expect(() => opt.step()).toThrow(/dense layer has statistics.positions = 1 \(got 2\)/);
  });

  it("a failed eigendecomposition keeps the previous basis, is counted, and the step stays finite", () => {
    const t = classifier();
    const opt = ekfac(t.model, { ...classifierOptions, basisEvery: 2 });
    runSteps(t, opt, 0, 2);
    const block = opt.adapter.layers[0]?.block as KroneckerBlock;
    const uA = block.uA.slice();
    block.A[0] = Number.NaN; // poisons the moving average, as an overflow would
    const b = t.batch(2);
    t.model.forwardBackward(b.x, b.y, b.n);
    const r = opt.step();
    expect(r.skipped).toBe(false);
    expect(r.basisFailures).toBe(1);
    expect(opt.stats.basisFailures).toBe(1);
    expect(sameBits(block.uA, uA)).toBe(true);
    for (const p of t.model.parameters()) for (const v of p.value) expect(Number.isFinite(v)).toBe(true);
  });
});

describe("update paths allocate nothing after warm-up", () => {
  it("buffer identity after warm-up (workspaces, directions, momentum) for KFAC, EKFAC, EKFAC-ra, diagonal", () => {
    for (const make of [
      (m: TinyMlp) => kfac(m, classifierOptions),
      (m: TinyMlp) => ekfac(m, classifierOptions),
      (m: TinyMlp) => ekfac(m, { ...classifierOptions, scaling: "ra" }),
      (m: TinyMlp) => diagonalFisher(m, classifierOptions),
    ]) {
      const t = classifier();
      const opt = make(t.model);
      runSteps(t, opt, 0, 6);
      const buffers = (): unknown[] => {
        const out: unknown[] = [...opt.directions];
        for (const l of opt.adapter.layers) {
          const b = l.block as unknown as Record<string, unknown>;
          out.push(l.grad, l.direction);
          for (const k of ["wsA", "wsG", "sBatch", "rot1", "rot2", "batch"]) out.push(b[k]);
          const ws = (b.scalingWs ?? b.ws) as Record<string, unknown>;
          out.push(ws.rows, ws.m1, ws.m2);
        }
        out.push(...((opt.firstOrderState as unknown[])[0] as { trace: unknown[] }).trace);
        return out;
      };
      const before = buffers();
      runSteps(t, opt, 6, 14);
      const after = buffers();
      expect(after.length).toBe(before.length);
      for (let i = 0; i < before.length; i++) expect(after[i]).toBe(before[i]);
    }
  });
});

describe("adapter, KL-clipping, schedule", () => {
  it("every parameter has a stated rule: curvature layers' weights and biases, nothing skipped", () => {
    const opt = ekfac(classifier().model, classifierOptions);
    expect(opt.adapter.plan.map((p) => `${p.name}:${p.rule}`)).toEqual([
      "fc0.weight:ekfac",
      "fc0.bias:ekfac",
      "fc1.weight:ekfac",
      "fc1.bias:ekfac",
    ]);
  });

  it("a parameter outside the curvature layers follows the first-order rule: Δ = −η∇ without momentum", () => {
    const t = classifier();
    const extra = { name: "extra", value: new Float32Array([1, 2]), grad: new Float32Array([0.5, -0.25]) };
    const model = {
      curvatureLayers: () => t.model.curvatureLayers(),
      parameters: () => [...t.model.parameters(), extra],
      setCapture: (on: boolean) => t.model.setCapture(on),
    };
    const opt = kfac(model, { ...classifierOptions, momentum: 0 });
    expect(opt.adapter.plan[4]).toEqual({ name: "extra", layer: null, role: "other", rule: "first-order" });
    expect(opt.adapter.describe()).toContain("extra: first-order");
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
    expect(extra.value[0]).toBeCloseTo(1 - 0.1 * 0.5, 6);
    expect(extra.value[1]).toBeCloseTo(2 + 0.1 * 0.25, 6);
  });

  it("KL-clipping scales the step by ν = min(1, sqrt(κ / (η² Σ Δᵀ∇)))", () => {
    const run = (klClip: number | null): { nu: number; delta: number } => {
      const t = classifier();
      const opt = kfac(t.model, { ...classifierOptions, momentum: 0, klClip });
      const before = t.model.snapshot();
      const b = t.batch(0);
      t.model.forwardBackward(b.x, b.y, b.n);
      opt.step();
      let d2 = 0;
      t.model.parameters().forEach((p, i) => {
        for (let j = 0; j < p.value.length; j++)
          d2 += ((p.value[j] as number) - ((before[i] as Float32Array)[j] as number)) ** 2;
      });
      return { nu: opt.stats.lastKlScale, delta: Math.sqrt(d2) };
    };
    const free = run(null);
    const clipped = run(1e-4);
    expect(free.nu).toBe(1);
    expect(clipped.nu).toBeGreaterThan(0);
    expect(clipped.nu).toBeLessThan(1);
    expect(clipped.delta).toBeCloseTo(clipped.nu * free.delta, 5);
  });

  it("EKFAC re-estimates S on every new basis (never reuses scalings across bases)", () => {
    const t = classifier();
    const opt = ekfac(t.model, { ...classifierOptions, basisEvery: 3, scalingDecay: 0.9 });
    runSteps(t, opt, 0, 3);
    const block = opt.adapter.layers[1]?.block as KroneckerBlock;
    expect(block.scalingUpdates).toBe(3);
    runSteps(t, opt, 3, 4); // refresh at step 3: S restarts from this batch's S*
    expect(block.scalingUpdates).toBe(1);
  });

  it("wantsStatistics follows the schedule (diagonal every T_s steps; EKFAC-ra only for factors/bases)", () => {
    const t = classifier();
    const opt = diagonalFisher(t.model, { ...classifierOptions, scalingEvery: 2 });
    expect(opt.wantsStatistics).toBe(true);
    runSteps(t, opt, 0, 1);
    expect(opt.wantsStatistics).toBe(false);
    const ra = ekfac(classifier().model, { ...classifierOptions, scaling: "ra", factorsEvery: 2, basisEvery: 4 });
    expect(ra.wantsStatistics).toBe(true);
  });
});

describe("the preconditioner as a first-order transform", () => {
  it("chain(curvaturePrecondition, …) preconditions curvature parameters and passes the others through", () => {
    const t = classifier();
    const opt = ekfac(t.model, classifierOptions);
    runSteps(t, opt, 0, 3);
    const params = t.model.parameters();
    // Updates that differ from the stored gradients (×2), so the transform must read its input.
    const updates = params.map((p) => Float32Array.from(p.grad as Float32Array, (v) => 2 * v));
    const transform = chain(curvaturePrecondition(opt.adapter, 0.1));
    transform.update(updates, transform.init(params.map((p) => p.value)));
    const l = opt.adapter.layers[1];
    if (l === undefined) throw new Error("no layer");
    opt.adapter.packGradient(l);
    const want = (l.block as KroneckerBlock).precondition(l.grad, new Float64Array(l.grad.length), 0.1);
    const w = updates[2] as Float32Array;
    const b = updates[3] as Float32Array;
    for (let r = 0; r < 3; r++) {
      for (let j = 0; j < 12; j++) expect(w[r * 12 + j]).toBeCloseTo(2 * (want[r * 13 + j] as number), 5);
      expect(b[r]).toBeCloseTo(2 * (want[r * 13 + 12] as number), 5);
    }
    expect(() => curvaturePrecondition(opt.adapter, 0)).toThrow(/damping must be a finite number > 0 \(got 0\)/);
  });
});
