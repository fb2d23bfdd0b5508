/**
 * One table of the first-order optimizers, each with the options that give it the most state (weight
 * decay, dampening, lr decay, centring with momentum, a chain with a schedule inside skipNonFinite),
 * shared by the tests that must hold for every optimizer: no allocation per step (optim/allocation.test.ts)
 * and save → restore → continue bit for bit (optim/state.test.ts). optax's habit: one shared table runs
 * every optimizer. (The convergence table of optim/conformance.test.ts tunes a learning rate per row and
 * problem, so it keeps its own rows.)
 */
import {
  adadelta,
  adagrad,
  adam,
  adamw,
  chain,
  clipByGlobalNorm,
  clipByValue,
  type GradientTransformation,
  momentum,
  nesterov,
  rmsprop,
  scale,
  scaleByLearningRate,
  sgd,
  skipNonFinite,
  traceMomentum,
  warmupCosineDecay,
} from "../src/index.ts";

export const everyOptimizer: readonly [string, () => GradientTransformation][] = [
  ["sgd + L2", () => sgd(0.05, { weightDecay: 1e-3 })],
  ["momentum with dampening", () => momentum(0.05, 0.9, { dampening: 0.1 })],
  ["nesterov", () => nesterov(0.05, 0.9)],
  ["adam + L2", () => adam(0.01, { weightDecay: 1e-4 })],
  ["adamw", () => adamw(0.01)],
  ["adagrad with lr decay", () => adagrad(0.1, { lrDecay: 0.01 })],
  ["rmsprop centered + momentum", () => rmsprop(0.01, { centered: true, momentum: 0.5 })],
  ["adadelta", () => adadelta(1)],
  [
    "skipNonFinite(clip → scale → clipByValue → momentum → warmup-cosine)",
    () =>
      skipNonFinite(
        chain(
          clipByGlobalNorm(0.5),
          scale(0.5),
          clipByValue(0.1),
          traceMomentum({ momentum: 0.9 }),
          scaleByLearningRate(warmupCosineDecay({ initValue: 0, peakValue: 0.1, warmupSteps: 3, decaySteps: 12 })),
        ),
      ),
  ],
];
