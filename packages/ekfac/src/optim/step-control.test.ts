/**
 * Adaptive step control of the curvature transform (optim/curvature.ts, header 0 and 3'–5'; MATH.md §11):
 * the step the optimizer applies is the minimiser of the quadratic model over span{Δ, δ₀}, computed here
 * independently from brute-force per-example gradients; the Levenberg–Marquardt rule moves λ in the
 * right direction on the loss the closure reports; burn-in, checkpoints and the refusals a user meets.
 */
import { describe, expect, it } from "vitest";
import { blobs, TinyMlp } from "../../test/tiny-mlp.ts";
import { type CurvatureOptimizerOptions, curvature, ekfac, kfac, Optimizer } from "../index.ts";
import { ADAPTIVE_DEFAULTS } from "../kfac.ts";

type Data = { x: Float64Array; y: Int32Array };

const N = 16;
const SIZES = [4, 5, 3] as const;

function flat(arrays: readonly ArrayLike<number>[]): Float64Array {
  const n = arrays.reduce((s, a) => s + a.length, 0);
  const out = new Float64Array(n);
  let o = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) out[o++] = a[i] as number;
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** The training gradient and the N per-example gradients (each of its own loss) at the model's parameters. */
function gradients(model: TinyMlp, { x, y }: Data): { grad: Float64Array; perExample: Float64Array[] } {
  const dim = SIZES[0];
  const n = y.length;
  model.setCapture(false);
  const perExample: Float64Array[] = [];
  for (let e = 0; e < n; e++) {
    model.forwardBackward(x.subarray(e * dim, (e + 1) * dim), y.subarray(e, e + 1), 1);
    perExample.push(flat(model.parameters().map((p) => p.grad as Float32Array)));
  }
  model.setCapture(true); // back to the optimizer's request (TinyMlp keeps it)
  model.forwardBackward(x, y, n);
  const grad = flat(model.parameters().map((p) => p.grad as Float32Array));
  return { grad, perExample };
}

/** vᵀFw with the empirical Fisher F = (1/N) Σ ∇ℓ_n ∇ℓ_nᵀ. */
function fisherProduct(perExample: readonly Float64Array[], v: Float64Array, w: Float64Array): number {
  let s = 0;
  for (const g of perExample) s += dot(g, v) * dot(g, w);
  return s / perExample.length;
}

/** One step of `opt` on `model` (capture as the optimizer asked); returns the applied update. */
function step(model: TinyMlp, opt: Optimizer, { x, y }: Data): Float64Array {
  const before = flat(model.parameters().map((p) => p.value));
  model.forwardBackward(x, y, y.length);
  opt.step(() => model.evaluate(x, y, y.length));
  const after = flat(model.parameters().map((p) => p.value));
  return after.map((v, i) => v - (before[i] as number));
}

const common = { fisher: "empirical", precision: "float64", basisEvery: 1 } as const;

describe("adaptive step control: the step minimises the quadratic model", () => {
  // γ = null: the blocks precondition with λ; γ = 0.05: with γ, while the model keeps λ = 0.3.
  for (const [approximation, gamma] of [
    ["kfac", null],
    ["ekfac", null],
    ["kfac", 0.05],
    ["ekfac", 0.05],
  ] as const) {
    it(`${approximation}, γ ${gamma ?? "= λ"}: step 1 is α·Δ with Δ = (F̂ + γ)⁻¹∇, α = −∇ᵀΔ / (ΔᵀFΔ + λΔᵀΔ); step 2 solves the 2×2 system over {Δ, δ₀}`, () => {
      const make = approximation === "kfac" ? kfac : ekfac;
      const lambda = 0.3;
      const data = blobs(7, N, SIZES[0]);
      const model = new TinyMlp(SIZES, 11, "softmax-ce");
      const twin = new TinyMlp(SIZES, 11, "softmax-ce");
      const adaptive = new Optimizer(
        make(model, {
          ...common,
          damping: lambda,
          adaptiveDamping: false,
          burnIn: 0,
          preconditionerDamping: gamma,
          rateAveraging: 0,
        }),
        model,
      );
      // The same curvature damped by γ with lr 1, no momentum, no clipping applies −Δ: it exposes Δ.
      const fixed = new Optimizer(
        make(twin, { ...common, damping: gamma ?? lambda, learningRate: 1, momentum: 0, klClip: null }),
        twin,
      );

      // Step 1: no δ₀, α only.
      const g1 = gradients(model, data);
      const d1 = step(model, adaptive, data);
      const delta1 = step(twin, fixed, data).map((v) => -v);
      const alpha1 =
        -dot(g1.grad, delta1) / (fisherProduct(g1.perExample, delta1, delta1) + lambda * dot(delta1, delta1));
      expect(alpha1).toBeLessThan(0);
      const scale = Math.max(...delta1.map(Math.abs)) * Math.abs(alpha1);
      for (let i = 0; i < d1.length; i++)
        expect(Math.abs((d1[i] as number) - alpha1 * (delta1[i] as number))).toBeLessThan(1e-5 * scale);

      // Step 2 from the same parameters: the twin copies the adaptive model's weights, so its Δ is Δ₂.
      twin.load(model.snapshot());
      const g2 = gradients(model, data);
      const d2 = step(model, adaptive, data);
      const delta2 = step(twin, fixed, data).map((v) => -v);
      const c11 = fisherProduct(g2.perExample, delta2, delta2) + lambda * dot(delta2, delta2);
      const c12 = fisherProduct(g2.perExample, delta2, d1) + lambda * dot(delta2, d1);
      const c22 = fisherProduct(g2.perExample, d1, d1) + lambda * dot(d1, d1);
      const b1 = dot(g2.grad, delta2);
      const b2 = dot(g2.grad, d1);
      const det = c11 * c22 - c12 * c12;
      const alpha = -(c22 * b1 - c12 * b2) / det;
      const mu = -(c11 * b2 - c12 * b1) / det;
      const scale2 = Math.max(...d2.map(Math.abs));
      for (let i = 0; i < d2.length; i++) {
        const want = alpha * (delta2[i] as number) + mu * (d1[i] as number);
        expect(Math.abs((d2[i] as number) - want)).toBeLessThan(1e-4 * scale2);
      }
    });
  }

  // N = 300 > 128: the per-example norms of every third example (⌈300/128⌉ = 3), 100 of them, stand for the batch's.
  for (const [approximation, n] of [
    ["kfac", N],
    ["ekfac", N],
    ["kfac", 300],
    ["ekfac", 300],
  ] as const) {
    it(`${approximation}, N ${n}, rateAveraging 0.9: β from the last layer's per-example gradients in its P-metric; α = θ(1 − β) × the ratio of running averages of −∇ᵀΔ and Δᵀ(F + λ)Δ (θ: the alias's over-relaxation, 1.5 for kfac and ekfac); μ = max(β, the model's μ given α clipped to [0, 0.9])`, () => {
      const make = approximation === "kfac" ? kfac : ekfac;
      const theta = 1.5; // both aliases' default (ADAPTIVE_DEFAULTS.overRelaxation); dropping θ fails here
      const [lambda, gamma, betaMax] = [0.3, 0.05, 0.9];
      const data = blobs(7, n, SIZES[0]);
      const stride = Math.ceil(n / 128);
      const model = new TinyMlp(SIZES, 11, "softmax-ce");
      const twin = new TinyMlp(SIZES, 11, "softmax-ce");
      const chain = make(model, {
        ...common,
        damping: lambda,
        adaptiveDamping: false,
        burnIn: 0,
        preconditionerDamping: gamma,
        rateAveraging: betaMax,
      });
      const adaptive = new Optimizer(chain, model);
      const fixed = new Optimizer(
        make(twin, { ...common, damping: gamma, learningRate: 1, momentum: 0, klClip: null }),
        twin,
      );
      const last = chain.curvature.blocks.at(-1)?.block;
      if (last === undefined) throw new Error("no block");
      // The last layer's part of a flat gradient, in the block's W̄ = [W | b] layout (outDim × (inDim + 1)).
      const [inDim, outDim] = [SIZES[1], SIZES[2]];
      const offset = SIZES[0] * SIZES[1] + SIZES[1];
      const lastPart = (v: Float64Array): Float64Array => {
        const out = new Float64Array(outDim * (inDim + 1));
        for (let r = 0; r < outDim; r++) {
          for (let j = 0; j < inDim; j++) out[r * (inDim + 1) + j] = v[offset + r * inDim + j] as number;
          out[r * (inDim + 1) + inDim] = v[offset + outDim * inDim + r] as number;
        }
        return out;
      };
      const pNorm = (v: Float64Array): number => dot(v, last.precondition(v, new Float64Array(v.length), gamma));
      let [signal, total, rateLinear, rateCurvature] = [0, 0, 0, 0];
      let previous: Float64Array | null = null;
      const betas: number[] = [];
      let floored = 0;
      for (let k = 0; k < 4; k++) {
        if (k > 0) twin.load(model.snapshot());
        const g = gradients(model, data);
        const before = flat(model.parameters().map((p) => p.value));
        model.forwardBackward(data.x, data.y, n);
        const report = adaptive.step(() => model.evaluate(data.x, data.y, n));
        const d = flat(model.parameters().map((p) => p.value)).map((v, i) => v - (before[i] as number));
        const delta = step(twin, fixed, data).map((v) => -v);
        // The noise estimate, brute force: the per-example gradients' sample variance over N in P's metric,
        // the mean of their norms taken over examples 0, s, 2s, … (s = 1 up to N = 128).
        const sampled = g.perExample.filter((_, e) => e % stride === 0);
        const perExample = sampled.reduce((s, v) => s + pNorm(lastPart(v)), 0) / sampled.length;
        const q = pNorm(lastPart(g.grad));
        const noise = (perExample - q) / (n - 1);
        signal = 0.9 * signal + 0.1 * (q - noise);
        total = 0.9 * total + 0.1 * q;
        const beta = Math.min(betaMax, Math.max(0, 1 - signal / total));
        betas.push(beta);
        expect(report.curvature?.averaging).toBeCloseTo(beta, 6); // float32 parameter gradients here
        const c11 = fisherProduct(g.perExample, delta, delta) + lambda * dot(delta, delta);
        rateLinear = beta * rateLinear - (1 - beta) * dot(g.grad, delta);
        rateCurvature = beta * rateCurvature + (1 - beta) * c11;
        // The averaged rate times the signal fraction 1 − β, over-relaxed by θ; μ at least β (the model's
        // μ given α above it).
        const alpha = theta * (1 - beta) * (rateLinear / rateCurvature);
        let mu = 0;
        if (previous !== null) {
          const c12 = fisherProduct(g.perExample, delta, previous) + lambda * dot(delta, previous);
          const c22 = fisherProduct(g.perExample, previous, previous) + lambda * dot(previous, previous);
          const free = -(dot(g.grad, previous) + alpha * c12) / c22;
          if (free < beta) floored++;
          mu = Math.max(beta, Math.min(0.9, free));
        }
        const scale = Math.max(...d.map(Math.abs));
        for (let i = 0; i < d.length; i++) {
          const want = alpha * (delta[i] as number) + (previous === null ? 0 : mu * (previous[i] as number));
          expect(Math.abs((d[i] as number) - want)).toBeLessThan(1e-4 * scale);
        }
        previous = d;
      }
      // Not a vacuous check: the averaging was on (β > 0) on some step after the first, and at N = 16
      // (β ≈ 0.25–0.3; at N = 300 β ≈ 0.016) μ = β was taken over a smaller model μ on some step.
      expect(Math.max(...betas.slice(1))).toBeGreaterThan(0);
      if (n === N) expect(floored).toBeGreaterThan(0);
    });
  }

  it("each alias preconditions with its own default γ: 0.001 for kfac, 3e-4 for ekfac (MATH.md §11)", () => {
    const data = blobs(3, N, SIZES[0]);
    for (const [make, gamma] of [
      [kfac, 0.001],
      [ekfac, 3e-4],
    ] as const) {
      const model = new TinyMlp(SIZES, 5, "softmax-ce");
      const opt = new Optimizer(make(model, { ...common, adaptiveDamping: false, burnIn: 0 }), model);
      model.forwardBackward(data.x, data.y, N);
      expect(opt.step().curvature?.preconditionerDamping).toBe(gamma);
    }
  });

  it("the report carries λ, γ, α, μ and the step control; momentum: 0 keeps μ = 0 and no previous step", () => {
    const data = blobs(3, N, SIZES[0]);
    const model = new TinyMlp(SIZES, 5, "softmax-ce");
    const opt = new Optimizer(
      ekfac(model, { ...common, damping: 0.5, adaptiveDamping: false, burnIn: 0, momentum: 0 }),
      model,
    );
    for (let k = 0; k < 3; k++) {
      model.forwardBackward(data.x, data.y, N);
      const r = opt.step();
      expect(r.curvature?.stepControl).toBe("alpha-only");
      expect(r.curvature?.momentum).toBe(0);
      expect(r.curvature?.alpha).toBeLessThan(0);
      expect(r.curvature?.damping).toBe(0.5);
      expect(r.curvature?.preconditionerDamping).toBe(ADAPTIVE_DEFAULTS.preconditionerDamping.ekfac);
      expect(r.curvature?.rho).toBeNull();
    }
  });
});

describe("adaptive step control: burn-in and Levenberg–Marquardt", () => {
  it("burn-in steps apply a zero update and report it; the first basis comes after them", () => {
    const data = blobs(4, N, SIZES[0]);
    const model = new TinyMlp(SIZES, 6, "softmax-ce");
    const opt = new Optimizer(ekfac(model, { ...common, basisEvery: 4, burnIn: 3 }), model);
    for (let k = 0; k < 4; k++) {
      const d = step(model, opt, data);
      if (k < 3) expect(d.every((v) => v === 0)).toBe(true);
      else expect(d.some((v) => v !== 0)).toBe(true);
    }
    const chainState = opt.skipState?.inner as unknown as [{ basisRefreshes: number; step: number }];
    expect(chainState[0].basisRefreshes).toBe(1); // at k = 3 (j = 0), not at k = 0
    expect(chainState[0].step).toBe(4);
  });

  it("λ shrinks by ω after a step that beat the model (ρ > 3/4), grows by 1/ω after one that raised the loss or gave NaN", () => {
    const data = blobs(5, N, SIZES[0]);
    const interval = 2;
    const decay = 0.9;
    const omega = decay ** interval;
    const model = new TinyMlp(SIZES, 8, "softmax-ce");
    const opt = new Optimizer(
      ekfac(model, { ...common, damping: 1, burnIn: 1, dampingAdaptation: { interval, decay }, checkEveryStep: false }),
      model,
    );
    // The closure reports h(θ) = 0 before and a chosen h(θ + δ) after: ρ = after / M(δ) with M(δ) < 0.
    let calls = 0;
    const closure = (after: number) => () => (calls++ % 2 === 0 ? 0 : after);
    const run = (after: number) => {
      model.forwardBackward(data.x, data.y, N);
      return opt.step(closure(after));
    };
    expect(run(-1e9).curvature?.stepControl).toBe("burn-in"); // k = 0: burn-in, no loss asked
    expect(calls).toBe(0);
    let r = run(-1e9); // k = 1 = burnIn: an adaptation step, huge decrease → ρ ≫ 3/4
    expect(calls).toBe(2);
    expect(r.curvature?.damping).toBe(1);
    expect(r.curvature?.rho).toBeGreaterThan(0.75);
    r = run(-1e9); // k = 2: not an adaptation step (interval 2)
    expect(calls).toBe(2);
    expect(r.curvature?.damping).toBeCloseTo(omega, 14);
    expect(r.curvature?.rho).toBeNull();
    r = run(+1); // k = 3: the loss rose → ρ < 0 → λ ← λ/ω, and the step is withdrawn
    expect(r.curvature?.rho).toBeLessThan(0);
    expect(r).toMatchObject({ skipped: true, reason: "loss increased" });
    r = run(-1e9); // k = 4: measured although off the interval (after a withdrawn step); kept, λ stays
    expect(calls).toBe(6);
    expect(r.curvature?.damping).toBeCloseTo(1, 12); // ω · (1/ω)
    expect(r.skipped).toBe(false);
    r = run(Number.NaN); // k = 5: on the interval; a NaN loss is a failed step, withdrawn too
    expect(r.curvature?.damping).toBeCloseTo(1, 12); // unchanged by the kept off-interval step 4
    expect(r.curvature?.rho).toBe(-Infinity);
    expect(r.reason).toBe("loss increased");
    r = run(0); // k = 6: measured again (after the withdrawal), kept (no rise); off the interval: λ stays
    expect(calls).toBe(10);
    expect(r.skipped).toBe(false);
    expect(r.curvature?.damping).toBeCloseTo(1 / omega, 12); // raised by the withdrawal at 5
    r = run(0); // k = 7: on the interval again; ρ = 0 < 1/4 raises λ after it
    expect(calls).toBe(12);
    expect(r.curvature?.damping).toBeCloseTo(1 / omega, 12);
    r = run(0); // k = 8: off the interval, and the last measured step was kept: not measured
    expect(calls).toBe(12);
    expect(r.curvature?.damping).toBeCloseTo(1 / omega ** 2, 12);
    expect(opt.stepsSkipped).toBe(2);
  });

  it("a step that raised its minibatch's loss is withdrawn: parameters bit-identical, δ₀ forgotten, λ raised, ρ measured until a step is kept", () => {
    for (const make of [kfac, ekfac]) {
      const data = blobs(9, N, SIZES[0]);
      const model = new TinyMlp(SIZES, 12, "softmax-ce");
      const decay = 0.95;
      const opt = new Optimizer(
        make(model, {
          ...common,
          damping: 0.5,
          burnIn: 0,
          dampingAdaptation: { interval: 3, decay },
          checkEveryStep: false,
        }),
        model,
      );
      const omega = decay ** 3;
      const measured: number[] = [];
      // Steps 0–2 are honest; step 3 (an adaptation step) and 4 (measured because 3 was withdrawn)
      // report a rise; step 5 is honest and kept; 6 is on the interval, 7 off it.
      const lie = new Set([3, 4]);
      const reports = [];
      for (let k = 0; k < 8; k++) {
        model.forwardBackward(data.x, data.y, N);
        const before = model.snapshot();
        let calls = 0;
        const r = opt.step(() => {
          calls++;
          const h = model.evaluate(data.x, data.y, N);
          return calls === 2 && lie.has(k) ? h + 1 : h;
        });
        if (calls > 0) measured.push(k);
        if (lie.has(k)) {
          expect(r).toMatchObject({ skipped: true, reason: "loss increased" });
          expect(model.snapshot()).toEqual(before); // bit for bit, float32 parameters included
        } else expect(r.skipped).toBe(false);
        reports.push(r.curvature);
      }
      expect(measured).toEqual([0, 3, 4, 5, 6]);
      // λ of steps 4 and 5: raised by 1/ω after each withdrawn step (ρ < 0).
      expect(reports[4]?.damping).toBeCloseTo((reports[3]?.damping as number) / omega, 12);
      expect(reports[5]?.damping).toBeCloseTo((reports[3]?.damping as number) / omega ** 2, 12);
      // δ₀ of a withdrawn step is forgotten: the steps after 3 and 4 solve for α alone.
      expect(reports[4]?.stepControl).toBe("alpha-only");
      expect(reports[5]?.stepControl).toBe("alpha-only");
      expect(reports[6]?.stepControl).toBe("joint");
      expect(opt.stepsSkipped).toBe(2);
      expect(opt.stepsApplied).toBe(6);
    }
  });

  it("checkEveryStep (the default): every step after the burn-in is measured and withdrawn if it raised the loss; λ moves only on the rule's steps and after a withdrawal", () => {
    const data = blobs(10, N, SIZES[0]);
    const decay = 0.9;
    const interval = 4;
    const omega = decay ** interval;
    const model = new TinyMlp(SIZES, 13, "softmax-ce");
    const opt = new Optimizer(
      ekfac(model, { ...common, damping: 1, burnIn: 2, dampingAdaptation: { interval, decay } }),
      model,
    );
    // h(θ) = 0 before; after: a huge decrease (ρ ≫ 3/4) except on the steps listed as rises.
    const rises = new Set([4, 9]);
    const measured: number[] = [];
    const lambdas: number[] = [];
    for (let k = 0; k < 12; k++) {
      model.forwardBackward(data.x, data.y, N);
      let calls = 0;
      const r = opt.step(() => (calls++ % 2 === 0 ? 0 : rises.has(k) ? 1 : -1e9));
      if (calls > 0) measured.push(k);
      expect(r.skipped).toBe(rises.has(k));
      lambdas.push(r.curvature?.damping as number);
    }
    expect(measured).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]); // all but the burn-in
    // λ used by each step: decreased after the rule's steps 2, 6, 10 (ρ ≫ 3/4), raised after the
    // withdrawn steps 4 and 9, unchanged after the other kept steps.
    const want = [1, 1, 1, omega, omega, 1, 1, omega, omega, omega, 1, omega];
    lambdas.forEach((l, k) => {
      expect(l).toBeCloseTo(want[k] as number, 12);
    });
    expect(opt.stepsWithdrawn).toBe(2);
  });

  it("checkEveryStep must be a boolean and needs adaptive damping; a learning rate refuses it", () => {
    const model = new TinyMlp(SIZES, 14, "softmax-ce");
    expect(() => ekfac(model, { checkEveryStep: "yes" as unknown as boolean })).toThrow(
      /ekfac: options\.checkEveryStep must be true or false \(got "yes"\)/,
    );
    expect(() => kfac(model, { adaptiveDamping: false, checkEveryStep: true })).toThrow(RangeError);
    expect(() => kfac(model, { learningRate: 0.1, checkEveryStep: false })).toThrow(
      /applies to adaptive step control only/,
    );
    expect(() => kfac(model, { adaptiveDamping: false })).not.toThrow();
  });

  it("a step without the loss closure is a TypeError before anything changes; adaptiveDamping: false needs none", () => {
    const data = blobs(6, N, SIZES[0]);
    const model = new TinyMlp(SIZES, 9, "softmax-ce");
    const opt = new Optimizer(ekfac(model, { ...common, burnIn: 0 }), model);
    model.forwardBackward(data.x, data.y, N);
    const params = model.snapshot();
    const state = opt.state();
    expect(() => opt.step()).toThrow(TypeError);
    expect(() => opt.step()).toThrow(/Optimizer\.step: .*needs the loss.*adaptiveDamping: false/);
    expect(model.snapshot()).toEqual(params);
    expect(opt.state()).toEqual(state);
    expect(() => opt.step(() => "0.5" as unknown as number)).toThrow(/loss closure must return a number/);

    const plain = new Optimizer(ekfac(model, { ...common, adaptiveDamping: false }), model);
    expect(() => plain.step()).not.toThrow();
  });

  it("trains with the defaults alone: the loss falls and no step is skipped", () => {
    const data = blobs(2, 64, SIZES[0]);
    const model = new TinyMlp(SIZES, 3, "softmax-ce");
    const opt = new Optimizer(ekfac(model), model);
    const first = model.evaluate(data.x, data.y, 64);
    for (let k = 0; k < 40; k++) {
      model.forwardBackward(data.x, data.y, 64);
      opt.step(() => model.evaluate(data.x, data.y, 64));
    }
    expect(model.evaluate(data.x, data.y, 64)).toBeLessThan(0.5 * first);
    expect(opt.stepsSkipped).toBe(0);
    expect(ADAPTIVE_DEFAULTS.burnIn).toBe(5);
  });

  it("each alias starts from its own λ₀ (EKFAC 0.1, KFAC 1) and a given damping replaces it", () => {
    const data = blobs(4, N, SIZES[0]);
    const firstLambda = (make: (m: TinyMlp) => ConstructorParameters<typeof Optimizer>[0]) => {
      const model = new TinyMlp(SIZES, 7, "softmax-ce");
      const opt = new Optimizer(make(model), model);
      model.forwardBackward(data.x, data.y, N);
      return opt.step(() => model.evaluate(data.x, data.y, N)).curvature?.damping;
    };
    expect(ADAPTIVE_DEFAULTS.damping).toEqual({ kfac: 1, ekfac: 0.1, diagonal: 1 });
    expect(firstLambda((m) => ekfac(m))).toBe(0.1);
    expect(firstLambda((m) => kfac(m))).toBe(1);
    expect(firstLambda((m) => ekfac(m, { damping: 0.3 }))).toBe(0.3);
    expect(firstLambda((m) => kfac(m, { damping: 0.3 }))).toBe(0.3);
  });

  it("save → restore → continue is bit-identical (λ, δ₀ and the LM bookkeeping are state)", () => {
    const data = blobs(8, N, SIZES[0]);
    const run = (restoreAt: number | null) => {
      const model = new TinyMlp(SIZES, 10, "softmax-ce");
      const options: CurvatureOptimizerOptions = { ...common, burnIn: 1, dampingAdaptation: { interval: 2 } };
      let opt = new Optimizer(ekfac(model, options), model);
      for (let k = 0; k < 8; k++) {
        if (k === restoreAt) {
          const saved = opt.state();
          opt = new Optimizer(ekfac(model, options), model);
          opt.load(saved);
        }
        model.forwardBackward(data.x, data.y, N);
        opt.step(() => model.evaluate(data.x, data.y, N));
      }
      return model.snapshot();
    };
    expect(run(5)).toEqual(run(null));
  });

  it("a fixed-step state does not load into an adaptive optimizer (and nothing changes)", () => {
    const model = new TinyMlp(SIZES, 12, "softmax-ce");
    const fixed = new Optimizer(ekfac(model, { ...common, learningRate: 0.1 }), model);
    const adaptive = new Optimizer(ekfac(model, common), model);
    const before = adaptive.state();
    expect(() => adaptive.load(fixed.state())).toThrow(RangeError);
    expect(adaptive.state()).toEqual(before);
  });
});

describe("adaptive step control: options", () => {
  const model = new TinyMlp(SIZES, 1, "softmax-ce");
  it("adaptive-only options with a learning rate, and a missing fallback κ, are RangeErrors naming the option", () => {
    expect(() => ekfac(model, { learningRate: 0.1, burnIn: 2 })).toThrow(/ekfac: options\.burnIn applies to adaptive/);
    expect(() => kfac(model, { learningRate: 0.1, adaptiveDamping: true })).toThrow(/options\.adaptiveDamping/);
    expect(() => ekfac(model, { klClip: null })).toThrow(/ekfac: options\.klClip = null/);
    expect(() => ekfac(model, { adaptiveDamping: false, dampingAdaptation: { interval: 3 } })).toThrow(
      /dampingAdaptation has no effect/,
    );
    // Named as the user wrote them (the alias maps them into stepControl).
    expect(() => ekfac(model, { burnIn: -1 })).toThrow(/^ekfac: options\.burnIn/);
    expect(() => ekfac(model, { momentum: 1 })).toThrow(/^ekfac: options\.momentum/);
    expect(() => ekfac(model, { dampingAdaptation: { interval: 0 } })).toThrow(
      /^ekfac: options\.dampingAdaptation\.interval/,
    );
    expect(() => kfac(model, { learningRate: 0.1, preconditionerDamping: 0.01 })).toThrow(
      /kfac: options\.preconditionerDamping applies to adaptive/,
    );
    for (const bad of [0, -1, Number.NaN, Infinity]) {
      expect(() => ekfac(model, { preconditionerDamping: bad })).toThrow(/ekfac: options\.preconditionerDamping/);
    }
    expect(() => ekfac(model, { preconditionerDamping: "0.01" as unknown as number })).toThrow(TypeError);
    expect(() => kfac(model, { learningRate: 0.1, rateAveraging: 0.5 })).toThrow(
      /kfac: options\.rateAveraging applies to adaptive/,
    );
    for (const bad of [1, -0.1, Number.NaN]) {
      expect(() => ekfac(model, { rateAveraging: bad })).toThrow(/ekfac: options\.rateAveraging/);
    }
    expect(() => ekfac(model, { rateAveraging: "0.9" as unknown as number })).toThrow(TypeError);
    expect(() => kfac(model, { learningRate: 0.1, overRelaxation: 1.2 })).toThrow(
      /kfac: options\.overRelaxation applies to adaptive/,
    );
    for (const bad of [0, 2, -0.5, Number.NaN, Infinity]) {
      expect(() => kfac(model, { overRelaxation: bad })).toThrow(RangeError);
      expect(() => kfac(model, { overRelaxation: bad })).toThrow(/kfac: options\.overRelaxation/);
    }
    expect(() => ekfac(model, { overRelaxation: "1.5" as unknown as number })).toThrow(TypeError);
  });

  it("the transform refuses KL-clipping together with step control", () => {
    expect(() =>
      curvature(model, "ekfac", {
        klClip: { kappa: 1e-3, learningRate: 0.1 },
        stepControl: { dampingAdaptation: null, burnIn: 0, kappa: 1e-3 },
      }),
    ).toThrow(/klClip and options\.stepControl exclude each other/);
  });
});
