/**
 * 5-step trajectories against independent scalar references written out from the torch.optim algorithm
 * boxes (SGD, Adam, AdamW, Adagrad, RMSprop, Adadelta documentation pages), in float64, on a fixed
 * nonlinear separable gradient field. The references are deliberately naive: one coordinate at a time,
 * the box's lines in the box's order, no shared code with the implementation.
 */
import { assertClose } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import {
  adadelta,
  adagrad,
  adam,
  adamw,
  applyUpdates,
  type GradientTransformation,
  momentum,
  nesterov,
  rmsprop,
  sgd,
} from "../index.ts";

const STEPS = 5;
const theta0 = [0.7, -1.3, 2.1, 0.05, -0.4];
const hDiag = [1.5, 0.3, 4, 2, 0.8];
const cVec = [0.2, -0.5, 1, 0, 0.3];

/** ∂f/∂θᵢ for a separable nonconvex f: hᵢθᵢ − cᵢ + 0.3·sin(2θᵢ). */
function gradAt(i: number, th: number): number {
  return (hDiag[i] as number) * th - (cVec[i] as number) + 0.3 * Math.sin(2 * th);
}

/** Our implementation: params split as [2, 3] to exercise the list handling. Returns θ after each step. */
function trajectory(t: GradientTransformation, ctor: Float64ArrayConstructor | Float32ArrayConstructor = Float64Array) {
  const params = [ctor.from(theta0.slice(0, 2)), ctor.from(theta0.slice(2))];
  const grads = [new ctor(2), new ctor(3)];
  const state = t.init(params);
  const out: number[][] = [];
  for (let step = 0; step < STEPS; step++) {
    let i = 0;
    for (const [k, p] of params.entries()) {
      for (let j = 0; j < p.length; j++) (grads[k] as Float64Array)[j] = gradAt(i++, p[j] as number);
    }
    t.update(grads, state, params);
    applyUpdates(params, grads);
    out.push([...(params[0] as Float64Array), ...(params[1] as Float64Array)]);
  }
  return out;
}

/** Runs a per-coordinate scalar reference `stepFn(i, t, θ) → θ'` with its own per-coordinate memory. */
function reference<M>(init: () => M, stepFn: (i: number, t: number, th: number, mem: M) => number): number[][] {
  const th = theta0.slice();
  const mem = th.map(() => init());
  const out: number[][] = [];
  for (let t = 1; t <= STEPS; t++) {
    for (let i = 0; i < th.length; i++) th[i] = stepFn(i, t, th[i] as number, mem[i] as M);
    out.push(th.slice());
  }
  return out;
}

function expectTrajectory(ours: number[][], ref: number[][], rtol = 1e-13): void {
  expect(ours.length).toBe(ref.length);
  for (let s = 0; s < ref.length; s++) assertClose(ours[s] as number[], ref[s] as number[], { rtol }, `step ${s + 1}`);
}

// torch.optim.SGD box.
function sgdRef(o: { lr: number; mu?: number; tau?: number; nesterov?: boolean; wd?: number }) {
  const { lr, mu = 0, tau = 0, nesterov: nest = false, wd = 0 } = o;
  return reference(
    () => ({ b: 0 }),
    (i, t, th, m) => {
      let g = gradAt(i, th);
      if (wd !== 0) g = g + wd * th;
      if (mu !== 0) {
        if (t > 1) m.b = mu * m.b + (1 - tau) * g;
        else m.b = g;
        if (nest) g = g + mu * m.b;
        else g = m.b;
      }
      return th - lr * g;
    },
  );
}

// torch.optim.Adam box (amsgrad off, maximize off), and AdamW's box when `decoupled`.
// `epsilonHat`: Keras 3 adam.py, α_t = η·√(1−β₂ᵗ)/(1−β₁ᵗ), θ ← θ − α_t·m/(√v + ε).
function adamRef(o: {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  wd?: number;
  decoupled?: boolean;
  epsilonHat?: boolean;
}) {
  const { lr, b1, b2, eps, wd = 0, decoupled = false, epsilonHat = false } = o;
  return reference(
    () => ({ m: 0, v: 0 }),
    (i, t, th, s) => {
      let g = gradAt(i, th);
      let x = th;
      if (decoupled) x = x - lr * wd * x;
      else if (wd !== 0) g = g + wd * th;
      s.m = b1 * s.m + (1 - b1) * g;
      s.v = b2 * s.v + (1 - b2) * g * g;
      if (epsilonHat) {
        const alpha = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
        return x - (alpha * s.m) / (Math.sqrt(s.v) + eps);
      }
      const mHat = s.m / (1 - b1 ** t);
      const vHat = s.v / (1 - b2 ** t);
      return x - (lr * mHat) / (Math.sqrt(vHat) + eps);
    },
  );
}

// torch.optim.Adagrad box; `inside`: tfjs/Keras θ ← θ − η·g/√(s + ε).
function adagradRef(o: { lr: number; lrDecay?: number; wd?: number; s0?: number; eps: number; inside?: boolean }) {
  const { lr, lrDecay = 0, wd = 0, s0 = 0, eps, inside = false } = o;
  return reference(
    () => ({ s: s0 }),
    (i, t, th, st) => {
      let g = gradAt(i, th);
      const clr = lr / (1 + (t - 1) * lrDecay);
      if (wd !== 0) g = g + wd * th;
      st.s = st.s + g * g;
      return inside ? th - (clr * g) / Math.sqrt(st.s + eps) : th - (clr * g) / (Math.sqrt(st.s) + eps);
    },
  );
}

// torch.optim.RMSprop box; `kerasMomentum`: Keras 3 rmsprop.py, increment = η·g/√(ṽ + ε), b ← μb + increment.
function rmspropRef(o: {
  lr: number;
  alpha: number;
  eps: number;
  wd?: number;
  mu?: number;
  centered?: boolean;
  keras?: boolean;
}) {
  const { lr, alpha, eps, wd = 0, mu = 0, centered = false, keras = false } = o;
  return reference(
    () => ({ v: 0, gAve: 0, b: 0 }),
    (i, _t, th, s) => {
      let g = gradAt(i, th);
      if (wd !== 0) g = g + wd * th;
      s.v = alpha * s.v + (1 - alpha) * g * g;
      let vt = s.v;
      if (centered) {
        s.gAve = alpha * s.gAve + (1 - alpha) * g;
        vt = vt - s.gAve * s.gAve;
      }
      if (keras) {
        const increment = (lr * g) / Math.sqrt(vt + eps);
        if (mu > 0) {
          s.b = mu * s.b + increment;
          return th - s.b;
        }
        return th - increment;
      }
      if (mu > 0) {
        s.b = mu * s.b + g / (Math.sqrt(vt) + eps);
        return th - lr * s.b;
      }
      return th - (lr * g) / (Math.sqrt(vt) + eps);
    },
  );
}

// torch.optim.Adadelta box.
function adadeltaRef(o: { lr: number; rho: number; eps: number; wd?: number }) {
  const { lr, rho, eps, wd = 0 } = o;
  return reference(
    () => ({ v: 0, u: 0 }),
    (i, _t, th, s) => {
      let g = gradAt(i, th);
      if (wd !== 0) g = g + wd * th;
      s.v = s.v * rho + g * g * (1 - rho);
      const dx = (Math.sqrt(s.u + eps) / Math.sqrt(s.v + eps)) * g;
      s.u = s.u * rho + dx * dx * (1 - rho);
      return th - lr * dx;
    },
  );
}

describe("5-step trajectories equal the torch.optim algorithm boxes (float64)", () => {
  it("SGD", () => expectTrajectory(trajectory(sgd(0.1)), sgdRef({ lr: 0.1 })));
  it("SGD with weight_decay (coupled L2)", () =>
    expectTrajectory(trajectory(sgd(0.1, { weightDecay: 0.2 })), sgdRef({ lr: 0.1, wd: 0.2 })));
  it("SGD momentum (b₁ = g, b ← μb + g)", () =>
    expectTrajectory(trajectory(momentum(0.05, 0.9)), sgdRef({ lr: 0.05, mu: 0.9 })));
  it("SGD momentum with dampening and weight_decay", () =>
    expectTrajectory(
      trajectory(momentum(0.05, 0.8, { dampening: 0.3, weightDecay: 0.1 })),
      sgdRef({ lr: 0.05, mu: 0.8, tau: 0.3, wd: 0.1 }),
    ));
  it("SGD ignores dampening when momentum = 0 (as torch.optim.SGD)", () =>
    expectTrajectory(trajectory(sgd(0.1, { dampening: 0.5 })), sgdRef({ lr: 0.1 })));
  it("SGD Nesterov (g + μb)", () =>
    expectTrajectory(trajectory(nesterov(0.05, 0.9)), sgdRef({ lr: 0.05, mu: 0.9, nesterov: true })));
  it("Adam", () =>
    expectTrajectory(
      trajectory(adam(0.1, { beta1: 0.8, beta2: 0.9, eps: 1e-2 })),
      adamRef({ lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2 }),
    ));
  it("Adam with PyTorch defaults (β = (0.9, 0.999), ε = 1e-8)", () =>
    expectTrajectory(trajectory(adam(0.01)), adamRef({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8 })));
  it("Adam with weight_decay (coupled L2 through the moments)", () =>
    expectTrajectory(
      trajectory(adam(0.1, { beta1: 0.8, beta2: 0.9, eps: 1e-2, weightDecay: 0.3 })),
      adamRef({ lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2, wd: 0.3 }),
    ));
  it("Adam, Keras ε̂ (epsilonHat)", () =>
    expectTrajectory(
      trajectory(adam(0.1, { beta1: 0.8, beta2: 0.9, eps: 1e-2, epsilonHat: true })),
      adamRef({ lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2, epsilonHat: true }),
    ));
  it("AdamW (θ ← θ − ηλθ before the Adam step)", () =>
    expectTrajectory(
      trajectory(adamw(0.1, { beta1: 0.8, beta2: 0.9, eps: 1e-2, weightDecay: 0.3 })),
      adamRef({ lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2, wd: 0.3, decoupled: true }),
    ));
  it("AdamW with PyTorch defaults (λ = 0.01)", () =>
    expectTrajectory(
      trajectory(adamw(0.01)),
      adamRef({ lr: 0.01, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.01, decoupled: true }),
    ));
  it("Adagrad", () => expectTrajectory(trajectory(adagrad(0.3, { eps: 1e-2 })), adagradRef({ lr: 0.3, eps: 1e-2 })));
  it("Adagrad with lr_decay, weight_decay and initial_accumulator_value", () =>
    expectTrajectory(
      trajectory(adagrad(0.3, { eps: 1e-2, lrDecay: 0.2, weightDecay: 0.1, initialAccumulator: 0.5 })),
      adagradRef({ lr: 0.3, eps: 1e-2, lrDecay: 0.2, wd: 0.1, s0: 0.5 }),
    ));
  it("Adagrad, tfjs/Keras form (s₀ = 0.1, ε inside √)", () =>
    expectTrajectory(
      trajectory(adagrad(0.3, { eps: 1e-2, initialAccumulator: 0.1, epsilonInsideSqrt: true })),
      adagradRef({ lr: 0.3, eps: 1e-2, s0: 0.1, inside: true }),
    ));
  it("RMSprop", () =>
    expectTrajectory(
      trajectory(rmsprop(0.05, { alpha: 0.9, eps: 1e-2 })),
      rmspropRef({ lr: 0.05, alpha: 0.9, eps: 1e-2 }),
    ));
  it("RMSprop centered with momentum and weight_decay", () =>
    expectTrajectory(
      trajectory(rmsprop(0.05, { alpha: 0.9, eps: 1e-2, centered: true, momentum: 0.7, weightDecay: 0.1 })),
      rmspropRef({ lr: 0.05, alpha: 0.9, eps: 1e-2, centered: true, mu: 0.7, wd: 0.1 }),
    ));
  it("RMSprop, Keras form (ε inside √, η folded into the momentum buffer) for a constant η", () =>
    expectTrajectory(
      trajectory(rmsprop(0.05, { alpha: 0.9, eps: 1e-2, momentum: 0.7, epsilonInsideSqrt: true })),
      rmspropRef({ lr: 0.05, alpha: 0.9, eps: 1e-2, mu: 0.7, keras: true }),
      1e-12,
    ));
  it("Adadelta", () =>
    expectTrajectory(trajectory(adadelta(1, { rho: 0.8, eps: 1e-3 })), adadeltaRef({ lr: 1, rho: 0.8, eps: 1e-3 })));
  it("Adadelta with PyTorch defaults and weight_decay", () =>
    expectTrajectory(
      trajectory(adadelta(1, { weightDecay: 0.1 })),
      adadeltaRef({ lr: 1, rho: 0.9, eps: 1e-6, wd: 0.1 }),
    ));

  it("float32 parameters follow the float64 reference to float32 accuracy", () => {
    expectTrajectory(
      trajectory(adam(0.1, { beta1: 0.8, beta2: 0.9, eps: 1e-2 }), Float32Array),
      adamRef({ lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2 }),
      1e-5,
    );
    expectTrajectory(
      trajectory(nesterov(0.05, 0.9), Float32Array),
      sgdRef({ lr: 0.05, mu: 0.9, nesterov: true }),
      1e-5,
    );
  });
});

describe("the references discriminate between conventions", () => {
  const differ = (a: number[][], b: number[][]) => {
    const last = a.length - 1;
    let d = 0;
    for (let i = 0; i < theta0.length; i++) d = Math.max(d, Math.abs((a[last]?.[i] ?? 0) - (b[last]?.[i] ?? 0)));
    return d;
  };
  it("Keras ε̂ ≠ PyTorch ε for the same ε", () => {
    const o = { lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2 };
    expect(differ(adamRef(o), adamRef({ ...o, epsilonHat: true }))).toBeGreaterThan(1e-6);
  });
  it("Nesterov ≠ heavy ball", () => {
    expect(differ(sgdRef({ lr: 0.05, mu: 0.9 }), sgdRef({ lr: 0.05, mu: 0.9, nesterov: true }))).toBeGreaterThan(1e-3);
  });
  it("AdamW ≠ Adam with coupled weight_decay", () => {
    const o = { lr: 0.1, b1: 0.8, b2: 0.9, eps: 1e-2, wd: 0.3 };
    expect(differ(adamRef(o), adamRef({ ...o, decoupled: true }))).toBeGreaterThan(1e-3);
  });
});

describe("AdamW vs Adam: decoupled decay bypasses the moments", () => {
  const lr = 0.1;
  const wd = 0.3;
  const run1 = (t: GradientTransformation, g: number[], p: number[]) => {
    const params = [Float64Array.from(p)];
    const u = [Float64Array.from(g)];
    t.update(u, t.init(params), params);
    return Array.from(u[0] as Float64Array);
  };
  const g = [0.5, -2, 1e-3, 0];
  const p = [1, 2, -3, 4];

  it("first AdamW update = first Adam update − ηλθ₀", () => {
    const w = run1(adamw(lr, { weightDecay: wd }), g, p);
    const a = run1(adam(lr), g, p);
    assertClose(
      w,
      a.map((ai, i) => ai - lr * wd * (p[i] as number)),
      { rtol: 1e-15 },
    );
  });

  it("with a zero loss gradient AdamW shrinks by exactly ηλθ while coupled L2 moves ≈ η·sign(θ)", () => {
    const zero = [0, 0, 0, 0];
    const w = run1(adamw(lr, { weightDecay: wd }), zero, p);
    assertClose(
      w,
      p.map((pi) => -lr * wd * pi),
      { rtol: 1e-15 },
    );
    const c = run1(adam(lr, { weightDecay: wd }), zero, p);
    // Coupled: g = λθ, so m̂/√v̂ = sign(θ) up to ε: the decay is normalised away.
    assertClose(
      c,
      p.map((pi) => -lr * Math.sign(pi)),
      { rtol: 1e-7 },
    );
  });
});
