/**
 * Extending the library, in two parts a user can copy:
 *
 * 1. A new first-order optimizer as a `GradientTransformation`: Lion (Chen et al. 2023, "Symbolic
 *    discovery of optimization algorithms", Algorithm 2), the sign of an interpolated momentum. Its
 *    state is allocated once in `init` (a step allocates nothing) and is plain data, so `opt.state()` /
 *    `opt.load()` checkpoint it like the library's own transforms. `chain(...)` composes it with the
 *    library's decoupled weight decay and learning rate, and the one `Optimizer` runs it through nn's `fit`.
 * 2. A custom nn `Module`: a residual MLP block, `y = x + α·W₂ relu(W₁ x)` with a learnable scale α
 *    (ReZero, Bachlechner et al. 2021: α starts at 0). Its two `Linear` layers, registered with
 *    `registerModule`, are curvature layers, so `ekfac(model)` preconditions them with EKFAC blocks
 *    without any code here; α, a bare `registerParameter`, gets EKFAC's diagonal fallback.
 *
 * Each part checks its own result and throws when training did not work.
 *
 *   npx -y pnpm@12.4.2 example examples/extend.ts [--smoke]
 */
import { add, mul, relu, type Tensor } from "@ekfac-ts/autodiff";
import {
  addDecayedWeights,
  chain,
  describeCurvature,
  ekfac,
  type GradientTransformation,
  Optimizer,
  scaleByLearningRate,
} from "@ekfac-ts/ekfac";
import { checkOptions, type FloatArray, optionKeys } from "@ekfac-ts/linalg";
import {
  accuracy,
  evaluate,
  fit,
  Linear,
  Module,
  mlp,
  type Parameter,
  ReLU,
  Sequential,
  softmaxCrossEntropy,
} from "@ekfac-ts/nn";
import { mnistDigits, PIXELS, smoke } from "./mnist-data.ts";

const { train, test } = mnistDigits(smoke ? 512 : 8000, smoke ? 256 : 2000);
const epochs = smoke ? 2 : 3;
const common = { batchSize: 64, inputShape: [PIXELS], loss: softmaxCrossEntropy } as const;
const trainingLoss = (model: Module) => evaluate(model, train, common).loss as number;

// ─── Part 1: a new optimizer ────────────────────────────────────────────────────────────────────────

/** Options of `scaleByLion`. */
interface LionOptions {
  /** β₁ ∈ [0, 1): the interpolation whose sign is the update. Default 0.9. */
  readonly beta1?: number;
  /** β₂ ∈ [0, 1): the decay of the momentum m. Default 0.99. */
  readonly beta2?: number;
}
// The option names, checked against the interface at compile time; `checkOptions` then refuses a
// misspelt key at run time ("options.beta_1 is not an option (did you mean beta1?)").
const LION_OPTIONS = optionKeys<LionOptions>()(["beta1", "beta2"]);

/** Lion's state: one momentum buffer per parameter array (plain data: typed arrays in an object). */
type LionState = { m: FloatArray[] };

/**
 * Lion's direction: `u ← sign(β₁m + (1−β₁)g)`, then `m ← β₂m + (1−β₂)g`. No learning rate and no sign
 * flip here: like the library's own transforms it outputs a direction in gradient orientation, and
 * `scaleByLearningRate` (last in the chain) turns it into the step `−η·u`.
 */
function scaleByLion(options: LionOptions = {}): GradientTransformation<LionState> {
  const fn = "scaleByLion";
  // Check everything when the transform is built, not at the first step.
  checkOptions(fn, "options", options, LION_OPTIONS);
  const { beta1 = 0.9, beta2 = 0.99 } = options;
  for (const [name, b] of [
    ["beta1", beta1],
    ["beta2", beta2],
  ] as const) {
    if (!(typeof b === "number" && b >= 0 && b < 1)) {
      throw new RangeError(`${fn}: options.${name} must be a number in [0, 1) (got ${String(b)})`);
    }
  }
  return {
    name: fn,
    // Every buffer is made here, with the parameters' dtypes and lengths: `update` only mutates them.
    init: (params) => ({
      m: params.map((p) => (p instanceof Float64Array ? new Float64Array(p.length) : new Float32Array(p.length))),
    }),
    // `updates` arrive as gradients and leave, rewritten in place, as this transform's output.
    update(updates, state) {
      // Cheap list/length checks at the boundary; the element loops trust them.
      if (updates.length !== state.m.length) {
        throw new RangeError(`${fn}: ${updates.length} update arrays, the state has ${state.m.length}`);
      }
      for (let k = 0; k < updates.length; k++) {
        const u = updates[k] as FloatArray;
        const m = state.m[k] as FloatArray;
        if (u.length !== m.length) throw new RangeError(`${fn}: updates[${k}] has length ${u.length}, not ${m.length}`);
        for (let i = 0; i < u.length; i++) {
          const g = u[i] as number;
          const mi = m[i] as number;
          u[i] = Math.sign(beta1 * mi + (1 - beta1) * g);
          m[i] = beta2 * mi + (1 - beta2) * g;
        }
      }
      return undefined; // false would refuse the step (zero `updates`; nothing later in the chain runs)
    },
    // What `Optimizer.load` asks before it writes a restored state (after its own checks of the
    // structure against this optimizer's state and of finiteness): throw unless training can go on from it.
    validateState(vfn, state) {
      if (!Array.isArray(state.m)) throw new TypeError(`${vfn}: ${fn} state.m must be a list of arrays`);
      state.m.forEach((m, k) => {
        if (!(m instanceof Float32Array || m instanceof Float64Array)) {
          throw new TypeError(`${vfn}: ${fn} state.m[${k}] must be a Float32Array or Float64Array`);
        }
        for (let i = 0; i < m.length; i++) {
          if (!Number.isFinite(m[i])) throw new RangeError(`${vfn}: ${fn} state.m[${k}][${i}] is ${m[i]}`);
        }
      });
    },
    // `prepare` (step-time value checks, e.g. a schedule's value) is optional: Lion has none.
  };
}

/** Lion as a full optimizer: direction → decoupled weight decay (weights only) → learning rate. */
function lion(model: Module, learningRate: number, weightDecay: number): Optimizer {
  const decayed = model.parameters().map((p) => p.name.endsWith("weight"));
  const transform = chain(
    scaleByLion({ beta1: 0.9, beta2: 0.99 }),
    addDecayedWeights(weightDecay, { mask: decayed }), // u ← u + λθ
    scaleByLearningRate(learningRate), // u ← −η·u
  );
  return new Optimizer(transform, model); // guarded by skipNonFinite, like every Optimizer by default
}

{
  const build = (seed: number) => {
    const model = mlp([PIXELS, 64, 10], "relu", { seed });
    return { model, opt: lion(model, 3e-3, 0.1) };
  };
  // One epoch; its seed fixes the batch order, so two runs given the same seed see the same batches.
  const epoch = (run: ReturnType<typeof build>, seed: number) =>
    fit(run.model, run.opt, train, { ...common, epochs: 1, seed });

  const run = build(1);
  const initial = trainingLoss(run.model);
  for (let e = 1; e < epochs; e++) epoch(run, e);
  // Checkpoint both halves: the parameters (copies) and the optimizer state (Lion's m inside the chain's
  // tuple of states), then the last epoch.
  const params = new Map([...run.model.stateDict()].map(([k, v]) => [k, { shape: v.shape, data: v.data.slice() }]));
  const saved = run.opt.state();
  epoch(run, epochs);
  const final = trainingLoss(run.model);
  const acc = evaluate(run.model, test, { ...common, metrics: { accuracy } }).metrics.accuracy as number;

  // A fresh model and optimizer (other initial weights) load the checkpoint and take the same last epoch.
  const resumed = build(99);
  resumed.model.loadStateDict(params);
  resumed.opt.load(saved);
  epoch(resumed, epochs);
  const other = resumed.model.parameters();
  let differing = 0;
  let total = 0;
  run.model.parameters().forEach((p, k) => {
    const q = (other[k] as Parameter).value;
    for (let i = 0; i < p.value.length; i++, total++) if (!Object.is(p.value[i], q[i])) differing++;
  });
  console.log(
    `Lion, ${epochs} epochs: training loss ${initial.toFixed(3)} → ${final.toFixed(3)}, held-out accuracy ` +
      `${acc.toFixed(3)}; resumed from opt.state() for the last epoch: ${differing} of ${total} parameters differ`,
  );
  if (!(final < 0.5 * initial)) throw new Error("Lion: the training loss did not fall below half its initial value");
  if (differing !== 0) throw new Error("Lion: resuming from opt.state() was not bit-identical");
}

// ─── Part 2: a new layer ────────────────────────────────────────────────────────────────────────────

/**
 * `y = x + α·W₂ relu(W₁ x)`, `width → hidden → width` (nn's `Residual` container builds plain residual
 * blocks; this one shows how to write a module). Parameters and children are registered in the
 * constructor: that gives them their dotted names ("2.fc1.weight"), puts them in `parameters()`,
 * `stateDict()` and checkpoints, and lists the `Linear` layers in `curvatureLayers()`, which KFAC/EKFAC
 * read (`Module` collects its children's; nothing is found by class name). A layer that does its own
 * matmul instead of using nn's `Linear`/`Conv2d` is not a curvature layer (it would have to implement
 * their capture of ā and g): EKFAC then treats its weights like α below.
 */
class ResidualMlpBlock extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly alpha: Parameter;
  constructor(width: number, hidden: number, seed: number) {
    super();
    this.fc1 = this.registerModule("fc1", new Linear(width, hidden, { rng: seed }));
    this.fc2 = this.registerModule("fc2", new Linear(hidden, width, { rng: seed + 1 }));
    // A parameter of the module itself (shape [1], broadcast over the batch); ReZero starts it at 0.
    this.alpha = this.registerParameter("alpha", new Float32Array(1), [1]);
  }
  forward(x: Tensor): Tensor {
    // autodiff ops record the backward; no derivative code is needed.
    return add(x, mul(this.fc2.forward(relu(this.fc1.forward(x))), this.alpha.tensor));
  }
}

{
  const width = 64;
  const model = new Sequential(
    new Linear(PIXELS, width, { rng: 1 }),
    new ReLU(),
    new ResidualMlpBlock(width, 128, 10),
    new ResidualMlpBlock(width, 128, 20),
    new Linear(width, 10, { rng: 30 }),
  );
  // Library defaults: adaptive step control (step size, momentum and damping chosen from the minibatch's
  // quadratic model), which needs the loss closure that `fit` hands `opt.step`.
  const transform = ekfac(model);
  // Which block preconditions which parameter: every Linear, the custom blocks' included, an EKFAC block
  // (DenseEigenCorrected); α, outside every curvature layer, the diagonal-Fisher fallback
  // (ParameterDiagonal; `ekfac(model, { otherParameters: "first-order" })` would pass its raw gradient).
  console.log("EKFAC on the custom model, which block preconditions which parameter:");
  console.log(describeCurvature(transform.curvature));
  const opt = new Optimizer(transform, model);

  const initial = trainingLoss(model);
  const history = fit(model, opt, train, { ...common, epochs, seed: 1, metrics: { accuracy }, validation: test });
  const final = trainingLoss(model);
  const acc = history.at(-1)?.validation?.metrics.accuracy as number;
  const alphas = model.parameters().filter((p) => p.name.endsWith("alpha"));
  console.log(
    `EKFAC, ${epochs} epochs: training loss ${initial.toFixed(3)} → ${final.toFixed(3)}, held-out accuracy ${acc.toFixed(3)}; ` +
      `α = ${alphas.map((p) => (p.value[0] as number).toFixed(3)).join(", ")}; ${opt.stepsSkipped} of ` +
      `${opt.stepsApplied + opt.stepsSkipped} steps skipped or withdrawn`,
  );
  // Checks: every Linear of the custom blocks got an EKFAC block, α was trained, the loss fell.
  const plan = transform.curvature.plan.filter((p) => p.name.includes(".fc"));
  if (plan.length !== 8 || plan.some((p) => p.approximation !== "ekfac")) {
    throw new Error(`the blocks' Linear layers are not all EKFAC blocks:\n${describeCurvature(transform.curvature)}`);
  }
  if (transform.curvature.plan.some((p) => p.name.endsWith("alpha") && p.approximation !== "diagonal-fallback")) {
    throw new Error("α should be preconditioned by the diagonal-Fisher fallback");
  }
  if (alphas.some((p) => p.value[0] === 0)) throw new Error("EKFAC: a block's α did not move from 0");
  if (!(final < 0.5 * initial)) throw new Error("EKFAC: the training loss did not fall below half its initial value");
  if (!smoke && !(acc > 0.8)) throw new Error(`EKFAC: held-out accuracy ${acc} is too low`);
}
