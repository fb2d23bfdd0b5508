// Curvature: blocks, references, diagnostics, optimizers, state (George et al. 2018; Martens & Grosse 2015).
export type {
  BatchCaptureModel,
  BatchLayer,
  CaptureRequest,
  CurvatureLayer,
  CurvatureModel,
  FisherMode,
  LayerBatch,
  LayerShape,
  LayerStatistics,
  ParameterRef,
  ParameterSource,
  ScaleShiftBatch,
  ScaleShiftLayer,
  ScaleShiftStatistics,
} from "./capture.ts";
export {
  adaptDamping,
  type DampingAdaptation,
  type DampingAdaptationOptions,
  dampingAdaptation,
  reductionRatio,
} from "./curvature/adaptive-damping.ts";
export type { BasisUpdate, BlockDims, BlockState, CurvatureBlock } from "./curvature/block.ts";
export { DiagonalFisher, type DiagonalFisherOptions, type DiagonalState } from "./curvature/diagonal.ts";
export {
  exactFisher,
  frobeniusDistance,
  kroneckerDense,
  meanGradient,
  perExampleGradients,
  traceOf,
} from "./curvature/exact-fisher.ts";
export { klClipScale } from "./curvature/kl-clip.ts";
export {
  Conv2dEigenCorrected,
  Conv2dKroneckerFactored,
  DenseEigenCorrected,
  DenseKroneckerFactored,
  type KfacDamping,
  type KroneckerApproximation,
  KroneckerBlock,
  type KroneckerBlockOptions,
  type KroneckerState,
  type RotationSizes,
} from "./curvature/kronecker-block.ts";
export {
  type Contribution,
  contributionMeans,
  layerContribution,
  mergeBatches,
  mergeContributions,
  scaleShiftContribution,
} from "./curvature/merge.ts";
export {
  type MeanGradientBatch,
  ParameterDiagonalFisher,
  type ParameterDiagonalState,
} from "./curvature/parameter-diagonal.ts";
export {
  QuadraticModelWorkspace,
  type QuadraticStep,
  type QuadraticStepOptions,
  type QuadraticStepReason,
  type QuadraticStepStatus,
  type QuadraticTerms,
  quadraticModelValue,
  quadraticStep,
  solveQuadraticStep,
} from "./curvature/quadratic-model.ts";
export { ScaleShiftBlock, type ScaleShiftOptions, type ScaleShiftState } from "./curvature/scale-shift.ts";
export { chooseScalingStrategy, type ScalingStrategy, scalingCost } from "./curvature/scaling.ts";
export {
  type ApproximationErrors,
  compareWithFisher,
  fisherApproximationReport,
  type GramErrorReport,
  gramFrobeniusError,
} from "./diagnostics.ts";
export { ekfac } from "./ekfac.ts";
// Influence functions (Grosse et al. 2023; kronfluence conventions) on the same curvature blocks.
export type {
  Float64Statistics,
  InfluenceBatch,
  InfluenceLayer,
  InfluenceProgress,
  InfluenceTargets,
} from "./influence/common.ts";
export { defaultInfluenceDamping, type InfluenceDamping } from "./influence/damping.ts";
export {
  ExactInfluence,
  type FitExactInfluenceOptions,
  fitExactInfluence,
  maxExactInfluenceParameters,
} from "./influence/exact.ts";
export { type FitInfluenceOptions, fitInfluence, KroneckerInfluence } from "./influence/fit.ts";
export type { InfluenceMethod, InfluencePreconditioner } from "./influence/preconditioner.ts";
export {
  type InfluenceScores,
  pearson,
  type ScoreInfluenceOptions,
  type SelfInfluenceOptions,
  type SelfInfluenceScores,
  scoreInfluence,
  selfInfluence,
} from "./influence/score.ts";
export {
  ADAPTIVE_DEFAULTS,
  type CurvatureChain,
  type CurvatureOptimizerOptions,
  curvatureChain,
  diagonalFisher,
  kfac,
} from "./kfac.ts";
export {
  type AdadeltaOptions,
  type AdadeltaState,
  type AdaGradOptions,
  type AdaGradState,
  type AdamOptions,
  type AdamState,
  type RmsOptions,
  type RmsState,
  scaleByAdadelta,
  scaleByAdaGrad,
  scaleByAdam,
  scaleByRms,
} from "./optim/adaptive.ts";
export {
  type AdadeltaAliasOptions,
  type AdaGradAliasOptions,
  type AdamAliasOptions,
  type AdamWOptions,
  adadelta,
  adagrad,
  adam,
  adamw,
  type LearningRate,
  momentum,
  nesterov,
  type OptimizerTransform,
  type RmsAliasOptions,
  rmsprop,
  type SgdOptions,
  sgd,
} from "./optim/aliases.ts";
export {
  addDecayedWeights,
  addL2,
  type CountState,
  type LearningRateOptions,
  type MomentumOptions,
  scale,
  scaleByLearningRate,
  type TraceState,
  traceMomentum,
  type WeightDecayOptions,
} from "./optim/basic.ts";
export { clipByGlobalNorm, clipByValue, globalNorm } from "./optim/clipping.ts";
export {
  type AdaptiveStepOptions,
  type CurvatureApproximation,
  type CurvatureOptions,
  type CurvatureState,
  type CurvatureTransform,
  curvature,
  describeCurvature,
  type ParameterPlan,
  type StepControlState,
} from "./optim/curvature.ts";
export { Optimizer, type OptimizerOptions, type StepReport } from "./optim/optimizer.ts";
export {
  type CosineDecayOptions,
  constantSchedule,
  cosineDecay,
  type ExponentialDecayOptions,
  exponentialDecay,
  type LinearScheduleOptions,
  linearSchedule,
  type PiecewiseConstantOptions,
  piecewiseConstant,
  type Schedule,
  type StepDecayOptions,
  stepDecay,
  type WarmupCosineDecayOptions,
  warmupCosineDecay,
} from "./optim/schedules.ts";
export { type SkipState, safe, skipNonFinite } from "./optim/skip-non-finite.ts";
export { type JsonValue, loadState, loadStateInto, type SavedState, saveState } from "./optim/state.ts";
export {
  applyUpdates,
  type ChainState,
  type CurvatureStepInfo,
  chain,
  type EmptyState,
  type GradientTransformation,
  identity,
  type LossClosure,
  type Params,
  type SkipReason,
  type StateOf,
  type StateValue,
  type StepControl,
  type TransformReport,
} from "./optim/transform.ts";
