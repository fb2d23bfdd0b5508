export {
  type Conv2dConfig,
  type ConvLayerOptions,
  conv2dConfigArb,
  convLayerArb,
  type DenseLayerOptions,
  denseLayerArb,
  gaussianMatrix,
  type LayerCase,
  type LayerSpecial,
  type LinearConfig,
  labelled,
  linearConfigArb,
  type SpdCase,
  type SpectrumKind,
  type SymmetricCase,
  type SymmetricOptions,
  seedArb,
  spdArb,
  spectrumKinds,
  symmetricArb,
} from "./arbitraries.ts";
export { catalogue, lawById } from "./catalogue.ts";
export { type Autodiff, defaultImplementation, type Implementation, withImplementation } from "./impl.ts";
export {
  defineLaw,
  holds,
  type Law,
  type LawDescription,
  type LawSpec,
  LawViolation,
  type Measurement,
  type Observer,
  ratioOf,
  worstOf,
} from "./law.ts";
export { derivativeRuleNames } from "./laws/autodiff.ts";
export { type CliOptions, type Io, main, parseArgs, usage } from "./main.ts";
export { catalogueMarkdown } from "./markdown.ts";
export {
  casesFor,
  defaultReplay,
  exactPattern,
  formatReport,
  formatSummary,
  freshSeed,
  type LawReport,
  type RunOptions,
  runLaw,
  runLaws,
  selectLaws,
} from "./runner.ts";
