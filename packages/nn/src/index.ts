/**
 * Neural-network building blocks on `@ekfac-ts/autodiff`: modules and layers, losses with target
 * sampling, initialisers, model builders, IDX data and minibatches, safetensors checkpoints, and the
 * per-layer curvature capture (`CurvatureModel`) that `@ekfac-ts/ekfac` consumes.
 *
 * @packageDocumentation
 */
export { loadCheckpoint, saveCheckpoint } from "./checkpoint/model-checkpoint.ts";
export {
  readSafetensors,
  SAFETENSORS_DTYPES,
  type SafetensorsData,
  type SafetensorsDtype,
  type SafetensorsFile,
  type SafetensorsTensor,
  safetensorsItemSize,
  writeSafetensors,
} from "./checkpoint/safetensors.ts";
export { type Batch, BatchLoader, type BatchOptions, type Dataset, type RowArray } from "./data/batches.ts";
export { type IdxData, type IdxDtype, type IdxTensor, readIdx, writeIdx } from "./data/idx.ts";
export {
  type FeatureStatistics,
  featureStatistics,
  oneHot,
  oneHotInto,
  scaleBytes,
  scaleBytesInto,
  standardize,
  standardizeInto,
} from "./data/normalize.ts";
export {
  constant,
  type Fans,
  fans,
  glorotNormal,
  glorotUniform,
  type HeOptions,
  heNormal,
  heUniform,
  pytorchDefaultBias,
  pytorchDefaultWeight,
  type SparseOptions,
  sparseInit,
  truncatedNormal,
  zerosInit,
} from "./init.ts";
export type { LayerInit, Pair } from "./internal/layer.ts";
// Every export of layers/basic.ts is public API.
export * from "./layers/basic.ts";
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from "./layers/batchnorm.ts";
export { Conv2d, type Conv2dOptions } from "./layers/conv.ts";
export { Linear, type LinearOptions } from "./layers/linear.ts";
export {
  type Loss,
  mseLoss,
  propagateCategoricalInto,
  sampleBernoulli,
  sampleBernoulliInto,
  sampleCategorical,
  sampleCategoricalInto,
  sampleGaussian,
  sampleGaussianInto,
  sigmoidCrossEntropy,
  sigmoidCrossEntropyLoss,
  softmaxCrossEntropy,
  softmaxCrossEntropyLoss,
  softmaxCrossEntropyOneHot,
  squaredErrorLoss,
} from "./losses.ts";
export {
  type Activation,
  type AutoencoderOptions,
  activationModule,
  type CnnOptions,
  deepAutoencoder,
  type ModelOptions,
  mlp,
  smallResNet,
  smallVgg,
} from "./models.ts";
export {
  type CaptureRequest,
  type CurvatureLayer,
  type CurvatureModel,
  type FisherMode,
  type LayerStatistics,
  type LoadOptions,
  Module,
  Parameter,
  type ParameterRef,
  type ScaleShiftLayer,
  type ScaleShiftStatistics,
} from "./module.ts";
export {
  accuracy,
  type BatchProgress,
  type EpochResult,
  type EvaluateOptions,
  type Evaluation,
  evaluate,
  type FitOptions,
  fit,
  type LossFunction,
  type Metric,
  type StepOptimizer,
} from "./training.ts";
