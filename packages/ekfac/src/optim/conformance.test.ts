/**
 * One shared table runs every optimizer on an ill-conditioned convex quadratic and on Rosenbrock's
 * function (optax's `alias_test.py` pattern). The learning rates are tuned per optimizer once and
 * fixed; the thresholds are uniform and stated in the test names.
 */
import { describe, expect, it } from "vitest";
import {
  adadelta,
  adagrad,
  adam,
  adamw,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  type GradientTransformation,
  momentum,
  nesterov,
  rmsprop,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  skipNonFinite,
  traceMomentum,
  warmupCosineDecay,
} from "../index.ts";

type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;

interface Problem {
  readonly name: string;
  readonly x0: readonly number[];
  readonly fmin: number;
  f(x: ArrayLike<number>): number;
  grad(x: ArrayLike<number>, out: Float32Array | Float64Array): void;
}

// f(x) = ½ xᵀHx − bᵀx, H = diag(1, 10^(2/3), 10^(4/3), 100) (condition number 100), minimum at H⁻¹b.
const h = [1, 10 ** (2 / 3), 10 ** (4 / 3), 100];
const b = [1, -1, 1, -1];
const quadratic: Problem = {
  name: "quadratic (κ = 100)",
  x0: [3, -2, 1, 0.5],
  fmin: -0.5 * b.reduce((s, bi, i) => s + (bi * bi) / (h[i] as number), 0),
  f(x) {
    let s = 0;
    for (let i = 0; i < 4; i++)
      s += 0.5 * (h[i] as number) * (x[i] as number) ** 2 - (b[i] as number) * (x[i] as number);
    return s;
  },
  grad(x, out) {
    for (let i = 0; i < 4; i++) out[i] = (h[i] as number) * (x[i] as number) - (b[i] as number);
  },
};

// f(x, y) = (1 − x)² + 100(y − x²)², minimum 0 at (1, 1); the classic start (−1.2, 1) has f = 24.2.
const rosenbrock: Problem = {
  name: "Rosenbrock from (−1.2, 1)",
  x0: [-1.2, 1],
  fmin: 0,
  f(x) {
    const [u, v] = [x[0] as number, x[1] as number];
    return (1 - u) ** 2 + 100 * (v - u * u) ** 2;
  },
  grad(x, out) {
    const [u, v] = [x[0] as number, x[1] as number];
    out[0] = -2 * (1 - u) - 400 * u * (v - u * u);
    out[1] = 200 * (v - u * u);
  },
};

/** Runs `steps` updates; returns (f(x) − f*) / (f(x₀) − f*). */
function relativeGap(t: GradientTransformation, p: Problem, steps: number, ctor: FloatCtor): number {
  const x = ctor.from(p.x0);
  const g = new ctor(x.length);
  const state = t.init([x]);
  for (let k = 0; k < steps; k++) {
    p.grad(x, g);
    t.update([g], state, [x]);
    applyUpdates([x], [g]);
  }
  return (p.f(x) - p.fmin) / (p.f(p.x0) - p.fmin);
}

interface Row {
  readonly name: string;
  readonly make: (lr: number) => GradientTransformation;
  /** Learning rate on the quadratic and on Rosenbrock. */
  readonly lr: readonly [number, number];
}

const table: readonly Row[] = [
  { name: "sgd", make: (lr) => sgd(lr), lr: [0.01, 1e-3] },
  { name: "sgd + L2 1e-4", make: (lr) => sgd(lr, { weightDecay: 1e-4 }), lr: [0.01, 1e-3] },
  { name: "momentum 0.9", make: (lr) => momentum(lr, 0.9), lr: [1e-3, 1e-3] },
  { name: "momentum 0.9, dampening 0.5", make: (lr) => momentum(lr, 0.9, { dampening: 0.5 }), lr: [2e-3, 2e-3] },
  { name: "nesterov 0.9", make: (lr) => nesterov(lr, 0.9), lr: [1e-3, 3e-4] },
  { name: "adam", make: (lr) => adam(lr), lr: [0.01, 0.02] },
  { name: "adam (Keras ε̂)", make: (lr) => adam(lr, { epsilonHat: true, eps: 1e-7 }), lr: [0.01, 0.02] },
  { name: "adamw 1e-4", make: (lr) => adamw(lr, { weightDecay: 1e-4 }), lr: [0.01, 0.02] },
  { name: "adagrad", make: (lr) => adagrad(lr), lr: [0.3, 0.3] },
  {
    name: "adagrad (tfjs: s₀ = 0.1, ε inside √)",
    make: (lr) => adagrad(lr, { initialAccumulator: 0.1, epsilonInsideSqrt: true }),
    lr: [0.3, 0.3],
  },
  { name: "rmsprop", make: (lr) => rmsprop(lr), lr: [0.01, 1e-3] },
  { name: "rmsprop centered, μ = 0.5", make: (lr) => rmsprop(lr, { centered: true, momentum: 0.5 }), lr: [3e-3, 3e-4] },
  { name: "adadelta", make: (lr) => adadelta(lr), lr: [1.5, 0.1] },
  {
    name: "clip(10) → momentum → warmup-cosine lr",
    make: (lr) =>
      chain(
        clipByGlobalNorm(10),
        traceMomentum({ momentum: 0.9 }),
        scaleByLearningRate(warmupCosineDecay({ initValue: 0, peakValue: lr, warmupSteps: 20, decaySteps: 5000 })),
      ),
    lr: [1e-3, 1e-3],
  },
  { name: "safe(adam)", make: (lr) => skipNonFinite(chain(scaleByAdam(), scaleByLearningRate(lr))), lr: [0.01, 0.02] },
];

const QUAD_STEPS = 500;
const QUAD_FRACTION = 1e-3;
const ROSEN_STEPS = 3000;
const ROSEN_FRACTION = 1e-2;

describe("conformance table", () => {
  for (const ctor of [Float64Array, Float32Array] as const) {
    describe(ctor.name, () => {
      for (const row of table) {
        it(`${row.name}: quadratic gap ≤ ${QUAD_FRACTION}·initial after ${QUAD_STEPS} steps (η = ${row.lr[0]})`, () => {
          const gap = relativeGap(row.make(row.lr[0]), quadratic, QUAD_STEPS, ctor);
          expect(gap).toBeGreaterThanOrEqual(-1e-6);
          expect(gap).toBeLessThanOrEqual(QUAD_FRACTION);
        });
        it(`${row.name}: Rosenbrock f ≤ ${ROSEN_FRACTION}·f(x₀) after ${ROSEN_STEPS} steps (η = ${row.lr[1]})`, () => {
          const gap = relativeGap(row.make(row.lr[1]), rosenbrock, ROSEN_STEPS, ctor);
          expect(gap).toBeGreaterThanOrEqual(0);
          expect(gap).toBeLessThanOrEqual(ROSEN_FRACTION);
        });
      }
    });
  }

  it("the table can fail: sgd above its stability limit 2/λmax = 0.02 diverges on the quadratic", () => {
    const gap = relativeGap(sgd(0.03), quadratic, QUAD_STEPS, Float64Array);
    expect(gap > 1 || Number.isNaN(gap)).toBe(true);
  });
});
