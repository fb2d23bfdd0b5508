/**
 * The demo's tuned defaults, shared with the bench suites (which import them rather than the demo's
 * entry point). How they were chosen: packages/bench/README.md, "Tuning".
 */
import type { OptimizerConfig, OptimizerName } from "./trainer.ts";

const T_KFE = 100;
/**
 * The Fisher these settings were tuned with: one sampled target per example. (The library's default
 * became "curvature-prop" later, MATH.md §2; on this autoencoder the two tie — `pnpm bench robust`.)
 */
const FISHER = "true";

export const DEFAULTS = {
  /** Encoder sizes of the default network (mirrored: 784-256-128-32-128-256-784). */
  sizes: [784, 256, 128, 32] as readonly number[],
  /** The paper's network (George et al. 2018 §4.1; Hinton & Salakhutdinov 2006). */
  paperSizes: [784, 1000, 500, 250, 30] as readonly number[],
  trainCount: 8000,
  batchSize: 250,
  /**
   * Wall-clock seconds of training steps per optimizer (equal-time protocol, issue 15); also the
   * default budget of `pnpm experiment autoencoder`, whose seed spread the demo's verdicts use. 30 s:
   * the full protocol (≈ 130 budgets) then fits in ≈ 1.7 h on 2 cores and the demo in ≈ 3 min per seed.
   */
  budgetSeconds: 30,
  seed: 1,
  optimizers: {
    sgd: { name: "sgd", learningRate: 0.01, momentum: 0.9 },
    adam: { name: "adam", learningRate: 1e-2 },
    kfac: {
      name: "kfac",
      learningRate: 0.1,
      momentum: 0.9,
      damping: 0.01,
      klClip: 0.01,
      fisher: FISHER,
      basisEvery: T_KFE,
      factorsEvery: 1,
      factorDecay: 0.95,
    },
    // EKFAC Algorithm 1: A, G only at a basis refresh (from that minibatch), S* every step.
    ekfac: {
      name: "ekfac",
      learningRate: 0.1,
      momentum: 0.9,
      damping: 0.01,
      klClip: 0.01,
      fisher: FISHER,
      basisEvery: T_KFE,
      scalingEvery: 1,
      factorsEvery: T_KFE,
      factorDecay: 0,
      scalingDecay: 0.95,
    },
  } satisfies Record<OptimizerName, OptimizerConfig> as Record<OptimizerName, OptimizerConfig>,
};
