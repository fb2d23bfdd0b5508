/**
 * The pieces of the autoencoder experiment of George et al. (2018) §4.1 / Martens & Grosse (2015) §13
 * shared by the demo, `pnpm experiment` and the bench suites: a point of a training curve, and Martens'
 * sparse initialisation. The training loop itself (equal wall-clock budgets, the same initial weights
 * and minibatch sequence per seed for every optimizer) is experiment/train.ts `runForBudget`.
 */
import { Rng } from "@ekfac-ts/linalg";
import type { Sequential } from "@ekfac-ts/nn";

export interface CurvePoint {
  readonly step: number;
  readonly epoch: number;
  /** Training wall-clock seconds so far (evaluations excluded). */
  readonly seconds: number;
  readonly trainLoss: number;
}

/**
 * Martens' (2010) sparse initialisation, used by the KFAC autoencoder experiments (Martens & Grosse
 * 2015 §13): each unit gets `fanIn` nonzero incoming weights drawn from N(0, 1), the others and the
 * biases are 0. PyTorch's default (uniform ±1/√d_in) leaves this deep sigmoid network on the
 * "mean image" plateau for many epochs with SGD; the sparse start is the one the papers compare on.
 */
export function sparseInit(model: Sequential, seed: number, fanIn = 15): void {
  const rng = new Rng(seed);
  for (const l of model.curvatureLayers()) {
    const w = l.weight.value;
    w.fill(0);
    const k = Math.min(fanIn, l.inDim);
    const cols = new Uint32Array(l.inDim);
    for (let r = 0; r < l.outDim; r++) {
      rng.permutation(l.inDim, cols);
      for (let j = 0; j < k; j++) w[r * l.inDim + (cols[j] as number)] = rng.normal();
    }
    l.bias?.value.fill(0);
  }
}
