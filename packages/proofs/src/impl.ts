/**
 * The implementation a law is checked against: the library functions it exercises, gathered in one
 * object so that a caller can substitute any of them (mutation tests pass deliberately broken
 * variants; a port of the library to another backend can pass its own functions).
 */
import * as autodiff from "@ekfac-ts/autodiff";
import {
  adam,
  applyUpdates,
  Conv2dEigenCorrected,
  Conv2dKroneckerFactored,
  contributionMeans,
  DenseEigenCorrected,
  DenseKroneckerFactored,
  ekfac,
  exactFisher,
  kfac,
  kroneckerDense,
  layerContribution,
  meanGradient,
  mergeBatches,
  mergeContributions,
  Optimizer,
  perExampleGradients,
  QuadraticModelWorkspace,
  quadraticModelValue,
  ScaleShiftBlock,
  sgd,
  solveQuadraticStep,
} from "@ekfac-ts/ekfac";
import {
  allFinite,
  axpbyInto,
  bernoulliResidualInto,
  cholesky,
  convertRowsInto,
  decayInto,
  eigh,
  flushTiny,
  gemm,
  gramEigh,
  hasTiny,
  kron,
  kronMatVec,
  logistic32,
  quotientFlushedInto,
  roundFlushedInto,
  scaleInto,
  sigmoidInto,
  solveTriangular,
  spdSolve,
  squaresFlushedInto,
  syrk,
  tridiagonalize,
  tridiagonalQR,
} from "@ekfac-ts/linalg";
import { Conv2d, Linear } from "@ekfac-ts/nn";

/** The autodiff namespace (ops, gradcheck, tensors). */
export type Autodiff = typeof autodiff;

export interface Implementation {
  readonly linalg: {
    readonly gemm: typeof gemm;
    readonly syrk: typeof syrk;
    readonly eigh: typeof eigh;
    readonly gramEigh: typeof gramEigh;
    readonly tridiagonalize: typeof tridiagonalize;
    readonly tridiagonalQR: typeof tridiagonalQR;
    readonly cholesky: typeof cholesky;
    readonly solveTriangular: typeof solveTriangular;
    readonly spdSolve: typeof spdSolve;
    readonly kron: typeof kron;
    readonly kronMatVec: typeof kronMatVec;
    readonly flushTiny: typeof flushTiny;
    readonly scaleInto: typeof scaleInto;
    readonly sigmoidInto: typeof sigmoidInto;
    readonly logistic32: typeof logistic32;
    readonly squaresFlushedInto: typeof squaresFlushedInto;
    readonly roundFlushedInto: typeof roundFlushedInto;
    readonly quotientFlushedInto: typeof quotientFlushedInto;
    readonly decayInto: typeof decayInto;
    readonly axpbyInto: typeof axpbyInto;
    readonly bernoulliResidualInto: typeof bernoulliResidualInto;
    readonly convertRowsInto: typeof convertRowsInto;
    readonly hasTiny: typeof hasTiny;
    readonly allFinite: typeof allFinite;
  };
  readonly autodiff: Autodiff;
  readonly nn: {
    readonly Linear: typeof Linear;
    readonly Conv2d: typeof Conv2d;
  };
  readonly ekfac: {
    readonly DenseKroneckerFactored: typeof DenseKroneckerFactored;
    readonly DenseEigenCorrected: typeof DenseEigenCorrected;
    readonly Conv2dKroneckerFactored: typeof Conv2dKroneckerFactored;
    readonly Conv2dEigenCorrected: typeof Conv2dEigenCorrected;
    readonly exactFisher: typeof exactFisher;
    readonly perExampleGradients: typeof perExampleGradients;
    readonly meanGradient: typeof meanGradient;
    readonly kroneckerDense: typeof kroneckerDense;
    readonly kfac: typeof kfac;
    readonly ekfac: typeof ekfac;
    readonly Optimizer: typeof Optimizer;
    readonly layerContribution: typeof layerContribution;
    readonly mergeContributions: typeof mergeContributions;
    readonly contributionMeans: typeof contributionMeans;
    readonly mergeBatches: typeof mergeBatches;
    readonly ScaleShiftBlock: typeof ScaleShiftBlock;
    readonly QuadraticModelWorkspace: typeof QuadraticModelWorkspace;
    readonly quadraticModelValue: typeof quadraticModelValue;
    readonly solveQuadraticStep: typeof solveQuadraticStep;
  };
  readonly optim: {
    readonly sgd: typeof sgd;
    readonly adam: typeof adam;
    readonly applyUpdates: typeof applyUpdates;
  };
}

/** The real library. */
export const defaultImplementation: Implementation = {
  linalg: {
    gemm,
    syrk,
    eigh,
    gramEigh,
    tridiagonalize,
    tridiagonalQR,
    cholesky,
    solveTriangular,
    spdSolve,
    kron,
    kronMatVec,
    flushTiny,
    scaleInto,
    sigmoidInto,
    logistic32,
    squaresFlushedInto,
    roundFlushedInto,
    quotientFlushedInto,
    decayInto,
    axpbyInto,
    bernoulliResidualInto,
    convertRowsInto,
    hasTiny,
    allFinite,
  },
  autodiff,
  nn: { Linear, Conv2d },
  ekfac: {
    DenseKroneckerFactored,
    DenseEigenCorrected,
    Conv2dKroneckerFactored,
    Conv2dEigenCorrected,
    exactFisher,
    perExampleGradients,
    meanGradient,
    kroneckerDense,
    kfac,
    ekfac,
    Optimizer,
    layerContribution,
    mergeContributions,
    contributionMeans,
    mergeBatches,
    ScaleShiftBlock,
    QuadraticModelWorkspace,
    quadraticModelValue,
    solveQuadraticStep,
  },
  optim: { sgd, adam, applyUpdates },
};

/**
 * `base` with some sections partly replaced: `withImplementation({ linalg: { gemm: broken } })` keeps
 * every other linalg function and every other section.
 */
export function withImplementation(
  overrides: { readonly [K in keyof Implementation]?: Partial<Implementation[K]> },
  base: Implementation = defaultImplementation,
): Implementation {
  return {
    linalg: { ...base.linalg, ...overrides.linalg },
    autodiff: { ...base.autodiff, ...overrides.autodiff },
    nn: { ...base.nn, ...overrides.nn },
    ekfac: { ...base.ekfac, ...overrides.ekfac },
    optim: { ...base.optim, ...overrides.optim },
  };
}
