/**
 * No law is vacuous: each of these laws FAILS when the code it guards is deliberately broken. Every
 * mutation is a plausible bug (a dropped transpose flag, factors in the papers' column-major order,
 * a missing factor N, an off-by-one derivative, Adam without bias correction, …), injected through the
 * law's `Implementation` argument, never by editing the library.
 */
import type { Tensor } from "@ekfac-ts/autodiff";
import * as ad from "@ekfac-ts/autodiff";
import {
  Conv2dEigenCorrected,
  chain,
  DenseEigenCorrected,
  type GradientTransformation,
  kroneckerDense,
  type LayerBatch,
  type OptimizerTransform,
  type Params,
  scaleByLearningRate,
  sgd,
} from "@ekfac-ts/ekfac";
import { cholesky, eigh, flushTiny, gemm, gramEigh, logistic32, sigmoidInto } from "@ekfac-ts/linalg";
import { Linear } from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { lawById } from "./catalogue.ts";
import { defaultImplementation, type Implementation, withImplementation } from "./impl.ts";
import { runLaw } from "./runner.ts";

// ---- the broken variants ---------------------------------------------------------------------------

/** gemm that silently ignores transB when B is square (the shapes still agree, so nothing throws). */
const gemmDroppedTranspose: typeof gemm = (tA, tB, alpha, a, b, beta, c) =>
  gemm(tA, tB && b.rows !== b.cols, alpha, a, b, beta, c);

/** eigh returning the first and last eigenvalues swapped (vectors untouched). */
const eighSwappedPair: typeof eigh = (a, options) => {
  const r = eigh(a, options);
  const n = r.values.length;
  if (n >= 2) {
    const t = r.values[0] as number;
    r.values[0] = r.values[n - 1] as number;
    r.values[n - 1] = t;
  }
  return r;
};

/** eigh with one eigenvalue's sign flipped, its vector unchanged. */
const eighValueSignFlip: typeof eigh = (a, options) => {
  const r = eigh(a, options);
  if (r.values.length >= 1) r.values[r.values.length - 1] = -(r.values[r.values.length - 1] as number);
  return r;
};

/** eigh whose eigenvalues-only route forgets to undo the scaling by max|a_ij|. */
const eighValuesOnlyUnscaled: typeof eigh = (a, options) => {
  const r = eigh(a, options);
  if (options?.vectors !== false) return r;
  let scale = 0;
  for (const v of a.data) scale = Math.max(scale, Math.abs(v));
  if (scale > 0) for (let i = 0; i < r.values.length; i++) r.values[i] = (r.values[i] as number) / scale;
  return r;
};

/** sub that cuts a broadcast second operand out of the graph (its gradient never arrives). */
const subDropsBroadcastOperand: typeof ad.sub = (a, b) =>
  typeof b === "number" || typeof a === "number" || b.size === a.size ? ad.sub(a, b) : ad.sub(a, b.detach());

/** eigh with one COMPONENT of the last eigenvector negated (a broken rotation, not a valid sign choice). */
const eighComponentFlip: typeof eigh = (a, options) => {
  const r = eigh(a, options);
  const v = r.vectors;
  if (v !== null && v.rows >= 2) v.data[v.cols - 1] = -(v.data[v.cols - 1] as number);
  return r;
};

/**
 * gramEigh whose complement of X's row space is the first coordinate axes instead of the Householder
 * Q's last columns (a completion that is neither orthogonal to the row space nor an eigenbasis).
 */
const gramEighAxesComplement: typeof gramEigh = (x, options) => {
  const r = gramEigh(x, options);
  const v = r.vectors;
  const d = x.cols;
  if (v !== null && x.rows < d) {
    for (let c = 0; c < d - x.rows; c++) for (let i = 0; i < d; i++) v.data[i * d + c] = i === c ? 1 : 0;
  }
  return r;
};

/** Cholesky with L₀₀ off by one part in 10⁹ (well above rounding, far below anything visible by eye). */
const choleskyPerturbed: typeof cholesky = (a) => {
  const r = cholesky(a);
  r.factor.data[0] = (r.factor.data[0] as number) * (1 + 1e-9);
  return r;
};

/** The papers' column-major order A ⊗ G where this project's row-major vec needs G ⊗ A. */
const kroneckerSwapped: typeof kroneckerDense = (gMat, g, aMat, a) => kroneckerDense(aMat, a, gMat, g);

/** A Linear layer whose captured g lacks the factor N (g = ∂L/∂s of the MEAN loss). */
class LinearWithoutN extends Linear {
  override get statistics() {
    const s = super.statistics;
    if (s === null) return null;
    return { ...s, g: Float64Array.from(s.g, (v) => v / s.batchSize) };
  }
}

/** conv2d that ignores the dilation (every kernel tap adjacent): right whenever d = 1. */
const conv2dNoDilation: typeof ad.conv2d = (x, w, b, options) => ad.conv2d(x, w, b, { ...options, dilation: 1 });

/** col2im that forgets the padding offset when it scatters patches back (im2col keeps it). */
const col2imNoPadding: typeof ad.col2im = (cols, g, out) => ad.col2im(cols, { ...g, padH: 0, padW: 0 }, out);

/** tanh whose derivative is off by one: value tanh(x), gradient (1 − tanh²x) + 1. */
const tanhOffByOne = (x: Tensor): Tensor => ad.add(ad.tanh(x), ad.sub(x, x.detach()));

/** Adam without bias correction: u = m/(√v + ε). */
function adamNoBiasCorrection(
  learningRate: Parameters<typeof scaleByLearningRate>[0] = 1e-3,
  options: { beta1?: number; beta2?: number; eps?: number } = {},
): OptimizerTransform {
  const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = options;
  type S = { count: number; mu: Float64Array[]; nu: Float64Array[] };
  const direction: GradientTransformation<S> = {
    name: "adamNoBiasCorrection",
    init: (params: Params) => ({
      count: 0,
      mu: params.map((p) => new Float64Array(p.length)),
      nu: params.map((p) => new Float64Array(p.length)),
    }),
    update(updates, state) {
      updates.forEach((u, k) => {
        const m = state.mu[k] as Float64Array;
        const v = state.nu[k] as Float64Array;
        for (let i = 0; i < u.length; i++) {
          const g = u[i] as number;
          m[i] = beta1 * (m[i] as number) + (1 - beta1) * g;
          v[i] = beta2 * (v[i] as number) + (1 - beta2) * g * g;
          u[i] = (m[i] as number) / (Math.sqrt(v[i] as number) + eps);
        }
      });
      state.count++;
    },
  };
  return chain(direction, scaleByLearningRate(learningRate)) as unknown as OptimizerTransform;
}

/** SGD with the EMA momentum convention b ← μb + (1 − μ)g (dampening = μ) instead of PyTorch's heavy ball. */
const sgdEma: typeof sgd = (lr, options = {}) =>
  sgd(lr, options.nesterov ? options : { ...options, dampening: options.momentum ?? 0 });

/** EKFAC with S* missing its 1/N (scaled by N). */
class DenseEkfacTimesN extends DenseEigenCorrected {
  override updateScaling(stats: LayerBatch): boolean {
    const ok = super.updateScaling(stats);
    for (let i = 0; i < this.S.length; i++) this.S[i] = (this.S[i] as number) * stats.batchSize;
    return ok;
  }
}
class ConvEkfacTimesN extends Conv2dEigenCorrected {
  override updateScaling(stats: LayerBatch): boolean {
    const ok = super.updateScaling(stats);
    for (let i = 0; i < this.S.length; i++) this.S[i] = (this.S[i] as number) * stats.batchSize;
    return ok;
  }
}

/** EKFAC whose preconditioner adds the damping twice. */
class DenseEkfacDoubleDamping extends DenseEigenCorrected {
  override precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    return super.precondition(grad, out, 2 * damping);
  }
}
class ConvEkfacDoubleDamping extends Conv2dEigenCorrected {
  override precondition(grad: Float64Array, out: Float64Array, damping: number): Float64Array {
    return super.precondition(grad, out, 2 * damping);
  }
}

/** EKFAC whose rows-only preconditioner never updates its Δᵀ∇ (a stale `rowsDot`: the assignment forgotten). */
class DenseEkfacStaleRowsDot extends DenseEigenCorrected {
  override preconditionFromRows(out: Float64Array, damping: number): Float64Array {
    const stale = this.rowsDot;
    super.preconditionFromRows(out, damping);
    this.rowsDot = stale;
    return out;
  }
}
class ConvEkfacStaleRowsDot extends Conv2dEigenCorrected {
  override preconditionFromRows(out: Float64Array, damping: number): Float64Array {
    const stale = this.rowsDot;
    super.preconditionFromRows(out, damping);
    this.rowsDot = stale;
    return out;
  }
}

// ---- which law must catch which mutation -------------------------------------------------------------

/** sigmoidInto whose exponential's series stops at degree 11 (two terms short: up to ≈ 6e-15 relative near |r| = ln 2/2). */
const sigmoidShortSeries: typeof sigmoidInto = (x, xOff, out, outOff, n) => {
  sigmoidInto(x, xOff, out, outOff, n);
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i] as number;
    if (!(Math.abs(v) <= 708)) continue;
    const k = Math.round(-Math.abs(v) / Math.LN2);
    const r = -Math.abs(v) - k * Math.LN2;
    let p = 0;
    for (let j = 11, f = 39916800; j >= 0; f /= Math.max(j, 1), j--) p = p * r + 1 / f;
    const e = p * 2 ** k;
    const neg = +(v < 0);
    out[outOff + i] = (e * neg + (1 - neg)) / (1 + e);
  }
};

/** logistic32 with its series to degree 4 instead of 7 (float32 arithmetic otherwise). */
const logistic32ShortSeries: typeof logistic32 = (v) => {
  const x = Math.fround(v);
  if (!(Math.abs(x) <= 87)) return logistic32(x);
  const k = Math.round(-Math.abs(x) / Math.LN2);
  const r = Math.fround(-Math.abs(x) - k * Math.LN2);
  let p = 0;
  for (let j = 4, f = 24; j >= 0; f /= Math.max(j, 1), j--) p = Math.fround(Math.fround(p * r) + 1 / f);
  const e = Math.fround(p * 2 ** k);
  const neg = +(x < 0);
  return Math.fround((e * neg + (1 - neg)) / (1 + e));
};

/** flushTiny that tests |x| ≤ τ instead of |x| < τ (zeroes entries equal to the threshold too). */
const flushAtThreshold: typeof flushTiny = (x, n, tiny) => {
  flushTiny(x, n, tiny);
  for (let i = 0; i < n; i++) if (Math.abs(x[i] as number) === tiny) x[i] = 0;
};

interface Mutation {
  readonly name: string;
  readonly laws: readonly string[];
  readonly impl: Implementation;
}

const mutations: readonly Mutation[] = [
  {
    name: "gemm drops the transpose of a square B",
    laws: ["linalg.gemm.naive", "linalg.gemm.transpose"],
    impl: withImplementation({ linalg: { gemm: gemmDroppedTranspose } }),
  },
  {
    name: "eigh swaps a pair of eigenvalues without their vectors",
    laws: ["linalg.eigh.residual", "linalg.eigh.spectrum"],
    impl: withImplementation({ linalg: { eigh: eighSwappedPair } }),
  },
  {
    name: "eigh flips the sign of an eigenvalue without its vector",
    laws: ["linalg.eigh.residual", "linalg.eigh.closed-form"],
    impl: withImplementation({ linalg: { eigh: eighValueSignFlip } }),
  },
  {
    name: "eigh flips one component of an eigenvector",
    laws: ["linalg.eigh.orthogonal", "linalg.eigh.residual"],
    impl: withImplementation({ linalg: { eigh: eighComponentFlip } }),
  },
  {
    name: "eigh's eigenvalues-only route skips the unscaling",
    laws: ["linalg.eigh.values-only"],
    impl: withImplementation({ linalg: { eigh: eighValuesOnlyUnscaled } }),
  },
  {
    name: "the flush also zeroes entries equal to the threshold",
    laws: ["linalg.vector.definitions"],
    impl: withImplementation({ linalg: { flushTiny: flushAtThreshold } }),
  },
  {
    name: "the logistic function's exponential series two terms short",
    laws: ["linalg.vector.logistic"],
    impl: withImplementation({ linalg: { sigmoidInto: sigmoidShortSeries } }),
  },
  {
    name: "the float32 logistic function's series three terms short",
    laws: ["linalg.vector.logistic"],
    impl: withImplementation({ linalg: { logistic32: logistic32ShortSeries } }),
  },
  {
    name: "sub drops a broadcast operand from the graph",
    laws: ["autodiff.broadcast.gradient"],
    impl: withImplementation({ autodiff: { sub: subDropsBroadcastOperand } }),
  },
  {
    name: "the Gram eigendecomposition's complement taken as coordinate axes",
    laws: ["linalg.gram-eigh.decomposition"],
    impl: withImplementation({ linalg: { gramEigh: gramEighAxesComplement } }),
  },
  {
    name: "Cholesky factor off by 1e-9 relative in one entry",
    laws: ["linalg.cholesky.reconstruct"],
    impl: withImplementation({ linalg: { cholesky: choleskyPerturbed } }),
  },
  {
    name: "KFAC's factors in the wrong Kronecker order (A ⊗ G instead of G ⊗ A)",
    laws: ["ekfac.kfac.one-example", "ekfac.damped.kfac-eigenbasis"],
    impl: withImplementation({ ekfac: { kroneckerDense: kroneckerSwapped } }),
  },
  {
    name: "Linear captures g without the factor N",
    laws: ["nn.capture.linear"],
    impl: withImplementation({ nn: { Linear: LinearWithoutN } }),
  },
  {
    name: "conv2d ignores the dilation",
    laws: ["autodiff.conv2d.direct"],
    impl: withImplementation({ autodiff: { conv2d: conv2dNoDilation } }),
  },
  {
    name: "col2im forgets the padding offset",
    laws: ["autodiff.im2col.adjoint"],
    impl: withImplementation({ autodiff: { col2im: col2imNoPadding } }),
  },
  {
    name: "tanh's derivative rule off by one",
    laws: ["autodiff.rule.tanh"],
    impl: withImplementation({ autodiff: { tanh: tanhOffByOne } }),
  },
  {
    name: "Adam without bias correction",
    laws: ["optim.adam.first-step"],
    impl: withImplementation({ optim: { adam: adamNoBiasCorrection } }),
  },
  {
    name: "SGD momentum with the EMA convention (dampening = μ)",
    laws: ["optim.sgd.momentum-closed-form"],
    impl: withImplementation({ optim: { sgd: sgdEma } }),
  },
  {
    name: "EKFAC scaling S* without its 1/N",
    laws: ["ekfac.trace", "ekfac.ekfac-le-kfac.dense", "ekfac.s-star"],
    impl: withImplementation({
      ekfac: { DenseEigenCorrected: DenseEkfacTimesN, Conv2dEigenCorrected: ConvEkfacTimesN },
    }),
  },
  {
    name: "EKFAC's rows-only direction keeps a stale Δᵀ∇",
    laws: ["ekfac.precondition.shared-rows"],
    impl: withImplementation({
      ekfac: { DenseEigenCorrected: DenseEkfacStaleRowsDot, Conv2dEigenCorrected: ConvEkfacStaleRowsDot },
    }),
  },
  {
    name: "EKFAC preconditioner adds the damping twice",
    laws: ["ekfac.damped.ekfac"],
    impl: withImplementation({
      ekfac: { DenseEigenCorrected: DenseEkfacDoubleDamping, Conv2dEigenCorrected: ConvEkfacDoubleDamping },
    }),
  },
];

const SEED = 20180604; // fixed: a mutation test must not depend on luck
const RUNS = 200;

describe("mutations: each law fails on a deliberately broken implementation", () => {
  for (const m of mutations) {
    for (const id of m.laws) {
      it(`${id} catches: ${m.name}`, () => {
        const law = lawById(id);
        const broken = runLaw(law, { runs: RUNS, seed: SEED, impl: m.impl });
        expect(broken.ok, `${id} did not notice "${m.name}"`).toBe(false);
        expect(broken.counterexample).not.toBeNull();
        // Same seed, the real implementation: the failure is the mutation's, not the law's.
        expect(runLaw(law, { runs: RUNS, seed: SEED, impl: defaultImplementation }).ok).toBe(true);
      });
    }
  }

  it("a replayed counterexample (seed + path) fails again at once", () => {
    const m = mutations[0] as Mutation;
    const law = lawById(m.laws[0] as string);
    const first = runLaw(law, { runs: RUNS, seed: SEED, impl: m.impl });
    expect(first.ok).toBe(false);
    const replay = runLaw(law, { runs: RUNS, seed: first.seed, path: first.path ?? "", impl: m.impl });
    expect(replay.ok).toBe(false);
    expect(replay.counterexample).toBe(first.counterexample);
    expect(replay.cases).toBe(1);
  });
});
