/**
 * Laws of the first-order transforms (@ekfac-ts/ekfac optim): conventions that distinguish PyTorch's
 * algorithms from their look-alikes, checked against closed forms.
 */
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { labelled, seedArb } from "../arbitraries.ts";
import { defineLaw, type Law, type Measurement } from "../law.ts";

const EPS = 2 ** -52;

const adamArb = fc
  .record({
    size: fc.integer({ min: 1, max: 8 }),
    beta1: fc.oneof(fc.constantFrom(0, 0.9), fc.double({ min: 0, max: 0.99, noNaN: true })),
    beta2: fc.oneof(fc.constantFrom(0, 0.999), fc.double({ min: 0, max: 0.9999, noNaN: true })),
    eps: fc.constantFrom(0, 1e-8, 1e-6),
    logLr: fc.double({ min: -5, max: 0, noNaN: true }),
    seed: seedArb,
  })
  .map((c) => labelled(c, JSON.stringify(c)));

const adamFirstStep = defineLaw({
  id: "optim.adam.first-step",
  title: "Adam's first step is −η·g/(|g| + ε) (≈ −η·sign g)",
  statement:
    "with bias-corrected moments m̂₁ = g, v̂₁ = g²: θ₁ − θ₀ = −η·m̂₁/(√v̂₁ + ε) = −η·g/(|g| + ε) elementwise, whatever β₁, β₂",
  source:
    'Kingma & Ba (2015) Algorithm 1 and §3 (bias correction; "the effective first step is ±η"); torch.optim.Adam documentation',
  generator:
    "1–8 parameters, θ₀ and g with |g| = 10^U(−6, 6) and random signs, β₁ ∈ {0, 0.9} ∪ [0, 0.99], β₂ ∈ {0, 0.999} ∪ [0, 0.9999], ε ∈ {0, 1e-8, 1e-6}, η = 10^U(−5, 0), float64",
  tolerance: "max_i |θ₁ᵢ − θ₀ᵢ + η·gᵢ/(|gᵢ| + ε)| ≤ 8·ε_mach·(|θ₀ᵢ| + η)",
  why: "Without bias correction the first step would be −η(1 − β₁)/√(1 − β₂)·sign g, off by up to 3.2× at the defaults. With it the moments cancel to g and |g| up to a few roundings, and θ₁ = θ₀ + u adds one rounding relative to |θ₀|.",
  arbitrary: adamArb,
  measure(impl, c): Measurement {
    const rng = new Rng(c.seed);
    const theta = rng.fillNormal(new Float64Array(c.size));
    const g = new Float64Array(c.size);
    for (let i = 0; i < c.size; i++) g[i] = (rng.uniform() < 0.5 ? -1 : 1) * 10 ** (12 * rng.uniform() - 6);
    const lr = 10 ** c.logLr;
    const theta0 = theta.slice();
    const t = impl.optim.adam(lr, { beta1: c.beta1, beta2: c.beta2, eps: c.eps });
    const params = [theta];
    const state = t.init(params);
    const u = [g.slice()];
    t.update(u, state, params);
    impl.optim.applyUpdates(params, u);
    let worst = 0;
    for (let i = 0; i < c.size; i++) {
      const gi = g[i] as number;
      const want = (theta0[i] as number) - (lr * gi) / (Math.abs(gi) + c.eps);
      const r = Math.abs((theta[i] as number) - want) / (8 * EPS * (Math.abs(theta0[i] as number) + lr));
      worst = Number.isNaN(r) ? Number.NaN : Math.max(worst, r);
    }
    return { error: worst, tolerance: 1 };
  },
});

const momentumArb = fc
  .record({
    size: fc.integer({ min: 1, max: 4 }),
    mu: fc.oneof(fc.constantFrom(0, 0.9), fc.double({ min: 0, max: 0.99, noNaN: true })),
    nesterov: fc.boolean(),
    steps: fc.integer({ min: 1, max: 40 }),
    logLr: fc.double({ min: -4, max: 0, noNaN: true }),
    seed: seedArb,
  })
  // PyTorch (and this library) reject Nesterov without momentum.
  .map((c) =>
    labelled({ ...c, nesterov: c.nesterov && c.mu > 0 }, JSON.stringify({ ...c, nesterov: c.nesterov && c.mu > 0 })),
  );

const sgdMomentum = defineLaw({
  id: "optim.sgd.momentum-closed-form",
  title: "SGD momentum trajectory = closed form (constant gradient)",
  statement:
    "PyTorch heavy ball b₁ = g, b_t = μ·b_{t−1} + g ⇒ b_t = g·(1 − μᵗ)/(1 − μ), θ_T = θ₀ − η·g·Σ_{t≤T} (1 − μᵗ)/(1 − μ); Nesterov steps with g + μ·b_t: θ_T = θ₀ − η·g·Σ_{t≤T} (1 + μ(1 − μᵗ)/(1 − μ))",
  source: "torch.optim.SGD algorithm box (dampening τ = 0); Sutskever et al. (2013) for the Nesterov form",
  generator:
    "1–4 parameters, constant N(0, 1) gradient, μ ∈ {0, 0.9} ∪ [0, 0.99], heavy ball or Nesterov, T ∈ [1, 40] steps, η = 10^U(−4, 0), float64",
  tolerance: "max_i |θ_T − θ_T^closed| ≤ 8·(T + 2)·ε·(|θ₀| + η·|g|·Σ_t c_t), c_t the closed-form coefficients",
  why: "Each step adds one rounding of size ε·|θ| and the buffer recursion one of size ε·|b|; over T steps they add up linearly. The EMA convention b ← μb + (1 − μ)g (tfjs/Keras-style dampening) gives a different trajectory from step 2 on.",
  arbitrary: momentumArb,
  measure(impl, c): Measurement {
    const rng = new Rng(c.seed);
    const theta = rng.fillNormal(new Float64Array(c.size));
    const g = rng.fillNormal(new Float64Array(c.size));
    const lr = 10 ** c.logLr;
    const theta0 = theta.slice();
    const t = impl.optim.sgd(lr, { momentum: c.mu, nesterov: c.nesterov });
    const params = [theta];
    const state = t.init(params);
    for (let s = 0; s < c.steps; s++) {
      const u = [g.slice()];
      t.update(u, state, params);
      impl.optim.applyUpdates(params, u);
    }
    let coef = 0;
    for (let s = 1; s <= c.steps; s++) {
      const b = c.mu === 0 ? 1 : (1 - c.mu ** s) / (1 - c.mu);
      coef += c.nesterov ? 1 + c.mu * b : b;
    }
    let worst = 0;
    for (let i = 0; i < c.size; i++) {
      const gi = g[i] as number;
      const want = (theta0[i] as number) - lr * gi * coef;
      const bound = 8 * (c.steps + 2) * EPS * (Math.abs(theta0[i] as number) + lr * Math.abs(gi) * coef);
      const r = Math.abs((theta[i] as number) - want) / bound;
      worst = Number.isNaN(r) ? Number.NaN : Math.max(worst, r);
    }
    return { error: worst, tolerance: 1 };
  },
});

export const optimLaws: readonly Law[] = [adamFirstStep, sgdMomentum];
