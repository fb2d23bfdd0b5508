// Curvature: blocks, references, diagnostics, optimizers, state (George et al. 2018; Martens & Grosse 2015).
export {
  type AdaptedLayer,
  type AdapterOptions,
  CurvatureAdapter,
  type CurvatureApproximation,
  curvaturePrecondition,
  type FisherMode,
  type ParameterPlan,
} from "./adapter.ts";
export type { CurvatureLayer, CurvatureModel, LayerStatistics, ParameterRef } from "./capture.ts";
export {
  adaptDamping,
  type DampingAdaptation,
  type DampingAdaptationOptions,
  dampingAdaptation,
  reductionRatio,
} from "./curvature/adaptive-damping.ts";
export { DiagonalFisher, type DiagonalFisherOptions } from "./curvature/diagonal.ts";
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
  type BasisUpdate,
  Conv2dEigenCorrected,
  Conv2dKroneckerFactored,
  DenseEigenCorrected,
  DenseKroneckerFactored,
  type KfacDamping,
  type KroneckerApproximation,
  KroneckerBlock,
  type KroneckerBlockOptions,
} from "./curvature/kronecker-block.ts";
export {
  type QuadraticModelBatch,
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
export { chooseScalingStrategy, type ScalingStrategy, scalingCost } from "./curvature/scaling.ts";
export {
  type ApproximationErrors,
  type CurvatureBlock,
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
export type { BlockDims, LayerShape } from "./internal/stats.ts";
export {
  CurvatureOptimizer,
  type CurvatureOptimizerOptions,
  type CurvatureStats,
  diagonalFisher,
  kfac,
  type StepReport,
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
export { Optimizer, type OptimizerOptions } from "./optim/optimizer.ts";
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
  chain,
  type EmptyState,
  type GradientTransformation,
  identity,
  type Params,
  type StateOf,
  type StateValue,
} from "./optim/transform.ts";
export { restoreCurvatureState, type SavedCurvatureState, saveCurvatureState } from "./state.ts";
