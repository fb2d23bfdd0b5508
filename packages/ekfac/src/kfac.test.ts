import { describe, expect, it } from "vitest";
import { rotateIntoEigenbasis } from "../test/dense-reference.ts";
import { blobs, lowRankData, TinyMlp } from "../test/tiny-mlp.ts";
import type { CaptureRequest, CurvatureModel, ParameterRef, ScaleShiftLayer } from "./capture.ts";
import { meanGradient } from "./curvature/exact-fisher.ts";
import { DenseEigenCorrected, type KroneckerBlock } from "./curvature/kronecker-block.ts";
import { ekfac } from "./ekfac.ts";
import { type CurvatureChain, type CurvatureOptimizerOptions, diagonalFisher, kfac } from "./kfac.ts";
import { adam } from "./optim/aliases.ts";
import { scaleByLearningRate, traceMomentum } from "./optim/basic.ts";
import { type CurvatureState, describeCurvature } from "./optim/curvature.ts";
import { Optimizer } from "./optim/optimizer.ts";
import { saveState } from "./optim/state.ts";
import { applyUpdates, chain } from "./optim/transform.ts";

// Training tests use a hand-written two-layer network (test/tiny-mlp.ts) computing ā and g by hand and
// following the capture contract (fisher, pass, setCapture(on, request)).

interface Task {
  readonly model: TinyMlp;
  readonly batch: (step: number) => { x: Float64Array; y: Float64Array | Int32Array; n: number };
  readonly fullLoss: () => number;
  readonly x: Float64Array;
  readonly dim: number;
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
    x,
    dim,
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
    x,
    dim,
    batch: (s) => {
      const o = (s % (total / bs)) * bs;
      const xb = x.subarray(o * dim, (o + bs) * dim);
      return { x: xb, y: xb, n: bs };
    },
    fullLoss: () => model.forwardBackward(x, x, total),
  };
}

type Alias = (m: CurvatureModel, o: CurvatureOptimizerOptions) => CurvatureChain;

function build(task: Task, alias: Alias, options: CurvatureOptimizerOptions): { opt: Optimizer; t: CurvatureChain } {
  const t = alias(task.model, options);
  return { opt: new Optimizer(t, task.model), t };
}

/**
 * Gives the task's model float64 parameter arrays (the hand-written model reads them as they are), so that a
 * step read back from θ is not rounded to float32. Returns the task.
 */
function withFloat64Parameters(task: Task): Task {
  for (const p of task.model.parameters())
    (p as { value: Float32Array | Float64Array }).value = Float64Array.from(p.value);
  return task;
}

function runSteps(task: Task, opt: Optimizer, from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const b = task.batch(s);
    task.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
  }
}

/** A fresh classifier and its optimizer after `steps` steps from step 0. */
function trained(alias: Alias, options: CurvatureOptimizerOptions, steps: number): { task: Task; opt: Optimizer } {
  const task = classifier();
  const { opt } = build(task, alias, options);
  runSteps(task, opt, 0, steps);
  return { task, opt };
}

/** The arrays are pairwise identical to the bit (Object.is per element: NaN = NaN, +0 ≠ −0). */
function expectSameValues(got: readonly ArrayLike<number>[], want: readonly ArrayLike<number>[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) expect(sameBits(got[i] ?? [], want[i] ?? []), `array ${i}`).toBe(true);
}

function expectSameParameters(x: Task, y: Task): void {
  const values = (t: Task) => t.model.parameters().map((p) => p.value);
  expectSameValues(values(x), values(y));
}

function curvatureState(opt: Optimizer): CurvatureState {
  // Optimizer state: skipNonFinite { inner: chain [curvature, …] }.
  return ((opt.currentState as { inner: unknown[] }).inner as unknown[])[0] as CurvatureState;
}

function trainSgd(task: Task, lr: number, steps: number): number {
  const params = task.model.parameters();
  const values = params.map((p) => p.value);
  const t = chain(traceMomentum({ momentum: 0.9 }), scaleByLearningRate(lr));
  const state = t.init(values);
  task.model.setCapture(false);
  for (let s = 0; s < steps; s++) {
    const b = task.batch(s);
    task.model.forwardBackward(b.x, b.y, b.n);
    const u = params.map((p) => Float32Array.from(p.grad as Float32Array));
    t.update(u, state, values);
    applyUpdates(values, u);
  }
  return task.fullLoss();
}

function sameBits(x: ArrayLike<number>, y: ArrayLike<number>): boolean {
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  return true;
}

function stateBits(opt: Optimizer): string {
  const s = saveState(opt.currentState);
  return (
    JSON.stringify(s.meta) +
    s.arrays.map((a) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).join(",")).join("|")
  );
}

/** The task's model with one more parameter that no layer owns. */
function withExtra(t: Task, extra: ParameterRef): CurvatureModel {
  return {
    curvatureLayers: () => t.model.curvatureLayers(),
    parameters: () => [...t.model.parameters(), extra],
    setCapture: (on, request) => t.model.setCapture(on, request),
  };
}

// Curvature settings: for the classifier the library defaults (true Fisher, KL-clipping κ = 1e-3,
// damping 0.1, momentum 0.9) plus a learning rate and T_kfe = 5 — measured: KFAC 0.136, EKFAC 0.133
// against the best SGD of the grid 0.158 after 30 steps, so the margin asserted is 0.9 (the defaults
// favour robustness over speed on this toy problem); for the autoencoder the previous hand-picked
// settings (damping 0.1, momentum 0.5, no clipping: κ = 1e-3 slows it below SGD's best), margin 0.8.
const classifierOptions: CurvatureOptimizerOptions = { learningRate: 0.1, basisEvery: 5 };
const autoencoderOptions: CurvatureOptimizerOptions = {
  learningRate: 0.05,
  damping: 0.1,
  momentum: 0.5,
  basisEvery: 5,
  klClip: null,
};
const sgdGrid = [0.01, 0.03, 0.1, 0.3];

describe("training (hand-written MLP; fixed seeds, generous margins)", () => {
  const steps = 30;
  for (const [name, make, options, margin] of [
    ["MLP classifier", classifier, classifierOptions, 0.9],
    ["autoencoder", autoencoder, autoencoderOptions, 0.8],
  ] as const) {
    // Averaged over three seeds (data, weights and the Fisher's random signs): one seed's ratio
    // ranges 0.15–0.99 on the classifier, so a single seed would test the seed, not the method.
    it(`KFAC and EKFAC reach a lower training loss than the best SGD after ${steps} steps, mean ratio over seeds 1–3 (${name})`, () => {
      const seeds = [1, 2, 3];
      for (const alias of [kfac, ekfac]) {
        let ratio = 0;
        for (const seed of seeds) {
          const sgd = Math.min(...sgdGrid.map((lr) => trainSgd(make(seed), lr, steps)));
          const task = make(seed);
          const { opt } = build(task, alias, { ...options, seed });
          runSteps(task, opt, 0, steps);
          task.model.setCapture(false);
          ratio += task.fullLoss() / sgd / seeds.length;
        }
        expect(ratio).toBeLessThan(margin);
      }
    });
  }
});

describe("one optimizer: Optimizer.step for curvature chains", () => {
  it("step() reads the gradients from the model's refs and step(grads) gives the same bits", () => {
    const a = classifier();
    const b = classifier();
    const { opt: oa } = build(a, ekfac, classifierOptions);
    const { opt: ob } = build(b, ekfac, classifierOptions);
    for (let s = 0; s < 4; s++) {
      const x = a.batch(s);
      a.model.forwardBackward(x.x, x.y, x.n);
      b.model.forwardBackward(x.x, x.y, x.n);
      expect(oa.step().skipped).toBe(false);
      expect(ob.step(b.model.parameters().map((p) => p.grad as Float32Array)).skipped).toBe(false);
    }
    expectSameParameters(a, b);
  });

  it("first-order chains take the model too: Optimizer(adam, model).step() = step(grads), report without curvature", () => {
    const a = classifier();
    const b = classifier();
    const oa = new Optimizer(adam(1e-2), a.model);
    const ob = new Optimizer(
      adam(1e-2),
      b.model.parameters().map((p) => p.value),
    );
    a.model.setCapture(false);
    b.model.setCapture(false);
    for (let s = 0; s < 3; s++) {
      const x = a.batch(s);
      a.model.forwardBackward(x.x, x.y, x.n);
      b.model.forwardBackward(x.x, x.y, x.n);
      expect(oa.step()).toEqual({ skipped: false, reason: null, curvature: null });
      ob.step(b.model.parameters().map((p) => p.grad as Float32Array));
    }
    expectSameParameters(a, b);
    expect(() => ob.step()).toThrow(/grads is required/);
  });

  it("the report says when the basis was refreshed and how much KL-clipping scaled the step", () => {
    const t = withFloat64Parameters(classifier());
    const eta = 0.1;
    const mu = 0.9; // kfac's default momentum
    const kappa = 1e-3; // kfac's default klClip
    const { opt } = build(t, kfac, { ...classifierOptions, learningRate: eta, basisEvery: 3 });
    const reports = [];
    let buffer: Float64Array[] | null = null;
    for (let s = 0; s < 4; s++) {
      const before = t.model.parameters().map((p) => Float64Array.from(p.value));
      const b = t.batch(s);
      t.model.forwardBackward(b.x, b.y, b.n);
      const grads = t.model.parameters().map((p) => Float64Array.from(p.grad as Float32Array));
      const r = opt.step();
      reports.push(r);
      const nu = r.curvature?.klScale as number;
      expect(nu).toBeGreaterThan(0);
      expect(nu).toBeLessThanOrEqual(1);
      // Momentum buffer b = −(θ₁ − θ₀)/η = μ·b_prev + ν·Δ (b = ν·Δ on the first step): ν·Δ is recovered
      // from the parameters, and x = Σ (νΔ)ᵀ∇ = ν·s. ν = min(1, √(κ/(η² s))) then says: ν = κ/(η² x) when
      // ν < 1, and η² x ≤ κ when ν = 1.
      const now = t.model
        .parameters()
        .map((p, k) => Float64Array.from(p.value, (v, i) => -(v - (before[k]?.[i] as number)) / eta));
      let x = 0;
      now.forEach((bk, k) => {
        for (let i = 0; i < bk.length; i++) {
          const scaled = (bk[i] as number) - (buffer === null ? 0 : mu * (buffer[k]?.[i] as number));
          x += scaled * (grads[k]?.[i] as number);
        }
      });
      buffer = now;
      const sDot = x / nu;
      const want = Math.min(1, Math.sqrt(kappa / (eta * eta * sDot)));
      expect(Math.abs(nu - want)).toBeLessThanOrEqual(1e-6 * want);
    }
    expect(reports.map((r) => r.curvature?.basisRefreshed)).toEqual([true, false, false, true]);
  });

  it("the optimizer asks the model for the wanted capture with a fresh seed every step", () => {
    const t = classifier();
    const calls: [boolean, CaptureRequest | undefined][] = [];
    const inner = t.model.setCapture.bind(t.model);
    t.model.setCapture = (on, request) => {
      calls.push([on, request]);
      inner(on, request);
    };
    const { opt } = build(t, diagonalFisher, { learningRate: 0.1, scalingEvery: 2, seed: 7 });
    runSteps(t, opt, 0, 2);
    expect(calls).toEqual([
      [true, { fisher: "curvature-prop", seed: 7 }],
      [false, { fisher: "curvature-prop", seed: 8 }],
      [true, { fisher: "curvature-prop", seed: 9 }],
    ]);
  });
});

describe("state save and restore (one state format)", () => {
  const variants: [string, Alias, CurvatureOptimizerOptions][] = [
    ["kfac", kfac, { ...classifierOptions, kfacDamping: "factored-tikhonov" }],
    ["ekfac", ekfac, { ...classifierOptions, klClip: 1e-2 }],
    ["ekfac-ra", ekfac, { ...classifierOptions, scaling: "ra" }],
    ["diagonal", diagonalFisher, { learningRate: 0.1 }],
  ];
  for (const [name, alias, options] of variants) {
    it(`checkpoint → restore → continue equals uninterrupted training bit for bit (${name})`, () => {
      const { task: a, opt: optA } = trained(alias, options, 13);
      const { task: b, opt: optB } = trained(alias, options, 7);
      const saved = optB.state();
      const params = b.model.snapshot();
      // Through JSON and fresh typed arrays, as a file would.
      const copy = {
        format: saved.format,
        meta: JSON.parse(JSON.stringify(saved.meta)),
        arrays: saved.arrays.map((x) => x.slice()),
      };
      const c = classifier();
      const { opt: optC } = build(c, alias, options);
      c.model.load(params);
      optC.load(copy);
      runSteps(c, optC, 7, 13);
      expectSameParameters(c, a);
      // The pass numbers are the models' own counters (model c counted only its last 6 passes).
      curvatureState(optA).passes.fill(-1);
      curvatureState(optC).passes.fill(-1);
      expect(stateBits(optC)).toBe(stateBits(optA));
    });
  }

  it("restoring into an optimizer that already trained re-rounds its float32 bases from the restored ones", () => {
    // B's basis (refreshed at step 5) differs from C's own (step 0): a stale float32 copy would show.
    const { task: a } = trained(ekfac, classifierOptions, 10);
    const { task: b, opt: optB } = trained(ekfac, classifierOptions, 7);
    const c = classifier();
    const { opt: optC, t } = build(c, ekfac, classifierOptions);
    const first = t.curvature.blocks[0]?.block as KroneckerBlock | undefined;
    expect(first?.precision).toBe("float32");
    runSteps(c, optC, 0, 3);
    c.model.load(b.model.snapshot());
    optC.load(optB.state());
    runSteps(c, optC, 7, 10);
    expectSameParameters(c, a);
  });

  it("options.precision: a TypeError names it; diagonal, which has no rotations, refuses it", () => {
    const t = classifier();
    const bad = { ...classifierOptions, precision: "float16" } as unknown as CurvatureOptimizerOptions;
    expect(() => ekfac(t.model, bad)).toThrow(/options\.precision must be "float32" or "float64" \(got float16\)/);
    expect(() => diagonalFisher(t.model, { learningRate: 0.1, precision: "float64" })).toThrow(RangeError);
  });

  it("a state of another model or configuration throws and leaves every array of the target bit-unchanged", () => {
    const source = (alias: Alias, task: Task, options: CurvatureOptimizerOptions) => {
      const { opt } = build(task, alias, options);
      runSteps(task, opt, 0, 3);
      return opt.state();
    };
    const t = classifier();
    const { opt } = build(t, kfac, classifierOptions);
    runSteps(t, opt, 0, 2);
    const params = t.model.snapshot();
    const before = stateBits(opt);
    const bad = [
      source(ekfac, classifier(), classifierOptions), // another approximation
      source(kfac, autoencoder(), autoencoderOptions), // another model
      source(kfac, classifier(), { ...classifierOptions, momentum: 0 }), // no momentum state
    ];
    for (const s of bad) {
      expect(() => opt.load(s)).toThrow(RangeError);
      expect(stateBits(opt)).toBe(before);
    }
    // The momentum state of this optimizer into a momentum-free one.
    const m = classifier();
    const { opt: free } = build(m, kfac, { ...classifierOptions, momentum: 0 });
    const freeBefore = stateBits(free);
    expect(() => free.load(opt.state())).toThrow(RangeError);
    expect(stateBits(free)).toBe(freeBefore);
    const p2 = t.model.snapshot();
    expectSameValues(p2, params);
  });

  it("restore refuses fractional or negative counters and NaN arrays before writing anything", () => {
    const t = classifier();
    const { opt } = build(t, ekfac, classifierOptions);
    runSteps(t, opt, 0, 2);
    const good = opt.state();
    const before = stateBits(opt);
    const edit = (f: (meta: Record<string, unknown>, arrays: (Float32Array | Float64Array)[]) => void) => {
      const meta = JSON.parse(JSON.stringify(good.meta));
      const arrays = good.arrays.map((a) => a.slice());
      f(meta, arrays);
      return { format: good.format, meta, arrays };
    };
    const curv = (meta: Record<string, unknown>) => (meta.inner as unknown[])[0] as Record<string, unknown>;
    const block = (meta: Record<string, unknown>) =>
      (curv(meta).blocks as Record<string, Record<string, unknown>>)["fc0/DenseEigenCorrected"] as Record<
        string,
        unknown
      >;
    const cases = [
      edit((m) => {
        curv(m).step = 2.5;
      }),
      edit((m) => {
        block(m).factorUpdates = -1;
      }),
      edit((m) => {
        m.skipped = 0.5;
      }),
      edit((_m, arrays) => {
        (arrays[3] as Float64Array)[0] = Number.NaN;
      }),
    ];
    for (const c of cases) {
      expect(() => opt.load(c)).toThrow(RangeError);
      expect(stateBits(opt)).toBe(before);
    }
    opt.load(good);
    expect(stateBits(opt)).toBe(before);
  });
});

describe("guards: non-finite input and output, stale statistics, bad arguments", () => {
  it("a NaN gradient skips the step, counts it, and leaves the parameters unchanged", () => {
    const t = classifier();
    const { opt } = build(t, ekfac, classifierOptions);
    runSteps(t, opt, 0, 2);
    const before = t.model.snapshot();
    const b = t.batch(2);
    t.model.forwardBackward(b.x, b.y, b.n);
    (t.model.parameters()[0]?.grad as Float32Array)[3] = Number.NaN;
    const r = opt.step();
    expect(r).toMatchObject({ skipped: true, reason: "non-finite gradient" });
    expect(opt.stepsSkipped).toBe(1);
    expect(curvatureState(opt).step).toBe(2);
    const after = t.model.snapshot();
    expectSameValues(after, before);
  });

  it("an infinite captured statistic refuses the step before anything is absorbed", () => {
    const t = classifier();
    const { opt } = build(t, kfac, classifierOptions);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    const stats = t.model.curvatureLayers()[1]?.statistics;
    (stats?.g as Float32Array)[0] = Number.POSITIVE_INFINITY;
    const stateBefore = stateBits(opt);
    expect(opt.step()).toMatchObject({ skipped: true, reason: "non-finite statistics" });
    expect(curvatureState(opt)).toMatchObject({ step: 0, refused: 1 });
    const blocks = curvatureState(opt).blocks;
    for (const st of Object.values(blocks)) expect(st.factorUpdates).toBe(0);
    expect(stateBits(opt)).not.toBe(stateBefore); // only the counters moved
  });

  it("tiny damping and a dead input column: the non-finite update is refused, counted, parameters bit-unchanged", () => {
    const t = classifier();
    for (let e = 0; e < t.x.length / t.dim; e++) t.x[e * t.dim + 2] = 0; // feature 2 never fires
    const { opt } = build(t, kfac, { learningRate: 0.1, damping: Number.MIN_VALUE, klClip: null, basisEvery: 1 });
    let refused = 0;
    for (let s = 0; s < 3; s++) {
      const before = t.model.snapshot();
      const b = t.batch(s);
      t.model.forwardBackward(b.x, b.y, b.n);
      const r = opt.step();
      if (r.skipped) {
        refused++;
        expect(r.reason).toBe("non-finite update");
        const after = t.model.snapshot();
        expectSameValues(after, before);
      }
      for (const p of t.model.parameters()) for (const v of p.value) expect(Number.isFinite(v)).toBe(true);
    }
    expect(refused).toBeGreaterThan(0);
    expect(opt.stepsSkipped).toBe(refused);
  });

  it("statistics of the same captured pass twice are an error unless reuseStatistics is set", () => {
    const t = classifier();
    const { opt } = build(t, ekfac, classifierOptions);
    runSteps(t, opt, 0, 1);
    expect(() => opt.step()).toThrow(/stale/);
    const u = classifier();
    const { opt: reuse } = build(u, ekfac, { ...classifierOptions, reuseStatistics: true });
    runSteps(u, reuse, 0, 1);
    expect(reuse.step().skipped).toBe(false);
  });

  it("capture turned off by the user: the next step finds no statistics and says what to do", () => {
    const t = classifier();
    const { opt } = build(t, ekfac, classifierOptions);
    runSteps(t, opt, 0, 1);
    t.model.setCapture(false);
    const b = t.batch(1);
    t.model.forwardBackward(b.x, b.y, b.n);
    expect(() => opt.step()).toThrow(/no captured statistics/);
  });

  it("statistics of another Fisher than requested are an error naming both modes", () => {
    const t = classifier();
    const { opt } = build(t, ekfac, { ...classifierOptions, fisher: "exact" });
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n); // TinyMlp cannot do "exact" and says "empirical"
    expect(() => opt.step()).toThrow(/"empirical" Fisher but this optimizer uses fisher: "exact"/);
  });

  it("negative or NaN momentum is a RangeError (not silently no momentum)", () => {
    const m = classifier().model;
    expect(() => kfac(m, { learningRate: 0.1, momentum: -0.5 })).toThrow(RangeError);
    expect(() => ekfac(m, { learningRate: 0.1, momentum: Number.NaN })).toThrow(/momentum/);
  });

  it("an option the approximation ignores is a RangeError", () => {
    const m = classifier().model;
    expect(() => kfac(m, { learningRate: 0.1, scalingEvery: 2 })).toThrow(/scalingEvery has no effect on kfac/);
    expect(() => kfac(m, { learningRate: 0.1, scaling: "ra" })).toThrow(RangeError);
    expect(() => ekfac(m, { learningRate: 0.1, kfacDamping: "factored-tikhonov" })).toThrow(/kfacDamping/);
    expect(() => diagonalFisher(m, { learningRate: 0.1, basisEvery: 3 })).toThrow(
      /basisEvery has no effect on diagonal/,
    );
  });

  it('fisher "exact" refuses the options that need the real batch size ("ra", the diagonal fallback)', () => {
    const t = classifier();
    expect(() => ekfac(t.model, { learningRate: 0.1, fisher: "exact", scaling: "ra" })).toThrow(/"ra"/);
    const extra = { name: "extra", value: new Float32Array(2), grad: null };
    const model = withExtra(t, extra);
    expect(() => kfac(model, { learningRate: 0.1, fisher: "exact" })).toThrow(/otherParameters: "first-order"/);
    expect(() => kfac(model, { learningRate: 0.1, fisher: "exact", otherParameters: "first-order" })).not.toThrow();
  });

  it("bad options and mismatched capture shapes throw errors naming the argument", () => {
    const m = classifier().model;
    expect(() => kfac(m, { learningRate: 0.1, damping: -1 })).toThrow(/damping must be a finite number > 0 \(got -1\)/);
    expect(() => ekfac(m, { learningRate: 0.1, basisEvery: 0 })).toThrow(
      /basisEvery \(T_kfe\) must be an integer ≥ 1 \(got 0\)/,
    );
    expect(() => ekfac(m, { learningRate: 0.1, scalingEvery: 1.5 })).toThrow(/T_s/);
    expect(() => ekfac(m, { learningRate: 0 })).toThrow(/learningRate/);
    expect(() => ekfac(m, { learningRate: 0.1, factorDecay: 1 })).toThrow(/factorDecay/);
    expect(() => ekfac(m, { learningRate: 0.1, klClip: -1 })).toThrow(/klClip/);
    expect(() => ekfac(m, { learningRate: 0.1, seed: 1.5 })).toThrow(/seed/);
    const t = classifier();
    const { opt } = build(t, ekfac, classifierOptions);
    expect(() => opt.step()).toThrow(/layer fc0 has no captured statistics/);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    const layer = t.model.curvatureLayers()[0] as { statistics: unknown };
    const s = layer.statistics as { a: Float32Array };
    layer.statistics = { ...s, a: s.a.subarray(1) };
    expect(() => opt.step()).toThrow(/statistics\.a has length 223, expected groups·N·T·aDim = 1·32·1·7 = 224/);
  });
});

describe("eigendecomposition guards", () => {
  it("an eigensolver argument error propagates (it is a bug, not a numerical failure)", () => {
    const t = classifier();
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    const stats = t.model.curvatureLayers()[0]?.statistics;
    if (!stats) throw new Error("no statistics");
    const block = new DenseEigenCorrected({ outDim: 12, inDim: 6, hasBias: true });
    // The constructor refuses -1 itself: set behind its back, the eigensolver's own RangeError must surface.
    (block as unknown as { maxEigIterations: number }).maxEigIterations = -1;
    block.updateFactors(stats);
    expect(() => block.updateBasis()).toThrow(RangeError);
  });

  it("a non-finite factor fails once, is reset, and the next refresh succeeds", () => {
    const t = classifier();
    const { opt, t: chainT } = build(t, ekfac, { ...classifierOptions, basisEvery: 2 });
    runSteps(t, opt, 0, 2);
    const block = chainT.curvature.blocks[0]?.block as KroneckerBlock;
    const uA = block.uA.slice();
    block.A[0] = Number.NaN; // poisons the moving average, as an overflow would
    const b = t.batch(2);
    t.model.forwardBackward(b.x, b.y, b.n);
    const r = opt.step();
    expect(r.skipped).toBe(false);
    expect(r.curvature?.basisFailures).toBe(1); // A of layer fc0; its G and the other layer decompose
    expect(sameBits(block.uA, uA)).toBe(true);
    for (const p of t.model.parameters()) for (const v of p.value) expect(Number.isFinite(v)).toBe(true);
    runSteps(t, opt, 3, 4);
    const next = t.batch(4);
    t.model.forwardBackward(next.x, next.y, next.n);
    expect(opt.step().curvature).toMatchObject({ basisRefreshed: true, basisFailures: 0 });
    expect(block.A.every((v) => Number.isFinite(v))).toBe(true);
  });
});

describe('EKFAC "ra": the scaling uses the batch size of the gradient it folds in', () => {
  it("with factors every other step, S = N_current·(U_Gᵀ∇U_A)² (decay 0), not an older batch's N", () => {
    const t = classifier();
    const { opt, t: chainT } = build(t, ekfac, {
      ...classifierOptions,
      scaling: "ra",
      scalingDecay: 0,
      factorsEvery: 2,
      basisEvery: 100,
      klClip: null,
      fisher: "empirical", // so that the mean of the captured g is the training gradient "ra" folds in
      precision: "float64", // the float64 reference below is compared to 1e-6 absolute (float32 rotations: ~5e-7)
    });
    runSteps(t, opt, 0, 1); // N = 32, refresh
    const small = t.batch(1);
    const n = 10;
    t.model.forwardBackward(small.x.subarray(0, n * t.dim), small.y.subarray(0, n), n);
    const block = chainT.curvature.blocks[1]?.block as KroneckerBlock;
    const stats = t.model.curvatureLayers()[1]?.statistics;
    if (!stats) throw new Error("no statistics");
    const grad = meanGradient({ kind: "dense", outDim: 3, inDim: 12, hasBias: true, groups: 1 }, stats);
    opt.step();
    const r = rotateIntoEigenbasis(block.uG, block.uA, grad, block.dims.gDim, block.dims.aDim);
    for (let i = 0; i < r.length; i++) expect(block.S[i]).toBeCloseTo(n * (r[i] as number) ** 2, 6);
  });
});

describe("every parameter is covered", () => {
  it("the plan names a block for every parameter; an extra parameter gets the diagonal fallback", () => {
    const t = classifier();
    const extra = { name: "extra", value: new Float32Array([1, 2]), grad: new Float32Array([0.5, -0.25]) };
    const model = withExtra(t, extra);
    const chainT = ekfac(model, classifierOptions);
    expect(chainT.curvature.plan.map((p) => `${p.name}:${p.rule}`)).toEqual([
      "fc0.weight:DenseEigenCorrected weight",
      "fc0.bias:DenseEigenCorrected bias",
      "fc1.weight:DenseEigenCorrected weight",
      "fc1.bias:DenseEigenCorrected bias",
      "extra:ParameterDiagonal",
    ]);
    expect(describeCurvature(chainT.curvature)).toContain("extra: ParameterDiagonal (extra/ParameterDiagonal)");
    // The same, for programs: what preconditions each parameter, in the options' words.
    expect(chainT.curvature.plan.map((p) => p.approximation)).toEqual([
      "ekfac",
      "ekfac",
      "ekfac",
      "ekfac",
      "diagonal-fallback",
    ]);
    expect(kfac(model, classifierOptions).curvature.plan[0]?.approximation).toBe("kfac");
    expect(diagonalFisher(model, { learningRate: 0.1 }).curvature.plan[1]?.approximation).toBe("diagonal");
    // Δ = ∇ ⊘ (N·∇² + ε) on the first step (momentum 0, no clipping), then −η.
    const opt = new Optimizer(kfac(model, { learningRate: 0.1, momentum: 0, klClip: null, damping: 1e-3 }), model);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
    expect(extra.value[0]).toBeCloseTo(1 - (0.1 * 0.5) / (32 * 0.25 + 1e-3), 6);
    expect(extra.value[1]).toBeCloseTo(2 + (0.1 * 0.25) / (32 * 0.0625 + 1e-3), 6);
  });

  it("a scale-shift layer gets its per-channel 2×2 Fisher: Δ_c = (F_c + εI)⁻¹ ∇_c, checked pass and Fisher", () => {
    const t = classifier();
    const channels = 2;
    const gamma = { name: "bn.weight", value: new Float32Array([1, 1]), grad: new Float32Array([0.3, -0.2]) };
    const beta = { name: "bn.bias", value: new Float32Array([0, 0]), grad: new Float32Array([0.1, 0.4]) };
    const e = 3;
    const xhat = Float64Array.of(1, -1, 0.5, 2, -1.5, 0.25);
    const g = Float64Array.of(0.2, 0.1, -0.4, 0.3, 0.6, -0.2);
    const layer: ScaleShiftLayer = {
      name: "bn",
      kind: "scale-shift",
      channels,
      scale: gamma,
      shift: beta,
      get statistics() {
        return { batchSize: e, positions: 1, xhat, g, fisher: "curvature-prop" as const, pass: t.model.pass };
      },
    };
    const model: CurvatureModel = {
      curvatureLayers: () => t.model.curvatureLayers(),
      scaleShiftLayers: () => [layer],
      parameters: () => [...t.model.parameters(), gamma, beta],
      setCapture: (on, request) => t.model.setCapture(on, request),
    };
    const chainT = ekfac(model, { learningRate: 0.1, momentum: 0, klClip: null, damping: 0.01 });
    expect(chainT.curvature.plan.slice(4).map((p) => p.rule)).toEqual(["ScaleAndShift scale", "ScaleAndShift shift"]);
    expect(chainT.curvature.plan.slice(4).map((p) => p.approximation)).toEqual(["scale-shift", "scale-shift"]);
    const opt = new Optimizer(chainT, model);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
    for (let c = 0; c < channels; c++) {
      let f00 = 0;
      let f01 = 0;
      let f11 = 0;
      for (let n = 0; n < e; n++) {
        const vg = (g[n * channels + c] as number) * (xhat[n * channels + c] as number);
        const vb = g[n * channels + c] as number;
        f00 += (vg * vg) / e;
        f01 += (vg * vb) / e;
        f11 += (vb * vb) / e;
      }
      const a = f00 + 0.01;
      const d = f11 + 0.01;
      const det = a * d - f01 * f01;
      const gg = gamma.grad[c] as number;
      const gb = beta.grad[c] as number;
      expect(gamma.value[c]).toBeCloseTo(1 - (0.1 * (d * gg - f01 * gb)) / det, 5);
      expect(beta.value[c]).toBeCloseTo(-(0.1 * (a * gb - f01 * gg)) / det, 5);
    }
  });

  it('otherParameters: "first-order" gives the raw gradient, as an explicit choice', () => {
    const t = classifier();
    const extra = { name: "extra", value: new Float32Array([1, 2]), grad: new Float32Array([0.5, -0.25]) };
    const model = withExtra(t, extra);
    const chainT = kfac(model, { learningRate: 0.1, momentum: 0, klClip: null, otherParameters: "first-order" });
    expect(chainT.curvature.plan[4]).toEqual({
      name: "extra",
      block: null,
      approximation: "first-order",
      rule: "first-order (raw gradient)",
    });
    const opt = new Optimizer(chainT, model);
    const b = t.batch(0);
    t.model.forwardBackward(b.x, b.y, b.n);
    opt.step();
    expect(extra.value[0]).toBeCloseTo(1 - 0.1 * 0.5, 6);
    expect(extra.value[1]).toBeCloseTo(2 + 0.1 * 0.25, 6);
  });
});

describe("KL-clipping and the schedule", () => {
  it("KL-clipping scales the step by ν = min(1, sqrt(κ / (η² Σ Δᵀ∇))), before momentum", () => {
    const eta = 0.1;
    // One step from the same parameters and minibatch, momentum 0 and a fixed η: θ₁ − θ₀ = −η·ν·Δ.
    const run = (klClip: number | null) => {
      const t = withFloat64Parameters(classifier());
      const { opt } = build(t, kfac, { ...classifierOptions, learningRate: eta, momentum: 0, klClip });
      const before = t.model.parameters().map((p) => Float64Array.from(p.value));
      const b = t.batch(0);
      t.model.forwardBackward(b.x, b.y, b.n);
      const grads = t.model.parameters().map((p) => Float64Array.from(p.grad as Float32Array));
      const r = opt.step();
      const step = t.model
        .parameters()
        .map((p, k) => Float64Array.from(p.value, (v, i) => v - (before[k]?.[i] as number)));
      return { nu: r.curvature?.klScale ?? Number.NaN, step, grads };
    };
    const free = run(null); // klClip null: no clipping
    expect(free.nu).toBe(1);
    // The unclipped direction Δ = −(θ_free − θ₀)/η and s = Σ Δᵀ∇ over every parameter.
    let s = 0;
    free.step.forEach((d, k) => {
      for (let i = 0; i < d.length; i++) s += (-(d[i] as number) / eta) * (free.grads[k]?.[i] as number);
    });
    expect(s).toBeGreaterThan(0);
    const maxStep = Math.max(...free.step.map((d) => Math.max(...d.map(Math.abs))));
    for (const kappa of [1e-4, 1e-5, 1e3]) {
      const want = Math.min(1, Math.sqrt(kappa / (eta * eta * s)));
      expect(want < 1, `κ = ${kappa} clips`).toBe(kappa < 1); // ν ≈ 0.038 and 0.012, then 1
      const clipped = run(kappa);
      expect(Math.abs(clipped.nu - want)).toBeLessThanOrEqual(1e-6 * want);
      // The step actually taken is ν times the free one.
      clipped.step.forEach((d, k) => {
        for (let i = 0; i < d.length; i++)
          expect(Math.abs((d[i] as number) - want * (free.step[k]?.[i] as number))).toBeLessThanOrEqual(
            1e-6 * want * maxStep,
          );
      });
    }
  });

  it("a learning-rate schedule reaches KL-clipping and the last transform at the same step", () => {
    const lrs: number[] = [];
    const schedule = (c: number) => {
      lrs.push(c);
      return 0.1 / (1 + c);
    };
    const t = classifier();
    const { opt } = build(t, kfac, { ...classifierOptions, learningRate: schedule });
    runSteps(t, opt, 0, 3);
    expect(lrs).toEqual([0, 0, 1, 1, 2, 2]);
  });

  it("EKFAC re-estimates S on every new basis (never reuses scalings across bases)", () => {
    const t = classifier();
    const { opt, t: chainT } = build(t, ekfac, { ...classifierOptions, basisEvery: 3, scalingDecay: 0.9 });
    runSteps(t, opt, 0, 3);
    const block = chainT.curvature.blocks[1]?.block as KroneckerBlock;
    expect(block.scalingUpdates).toBe(3);
    runSteps(t, opt, 3, 4); // refresh at step 3: S restarts from this batch's S*
    expect(block.scalingUpdates).toBe(1);
  });
});
