/**
 * Tape-based reverse-mode automatic differentiation over Float32/Float64 tensors: elementwise,
 * reduction, layout, matmul and convolution ops with one derivative-rule table, gradient checks, and
 * the hooks that capture per-layer statistics for curvature estimators.
 *
 * @packageDocumentation
 */
export { broadcastShapes, formatShape } from "./broadcast.ts";
export {
  type Conv2dGeometry,
  type Conv2dParams,
  col2im,
  conv2dGeometry,
  type IntPair,
  im2col,
  patchesLength,
} from "./conv.ts";
export { erf } from "./erf.ts";
export {
  type GradcheckInputReport,
  type GradcheckOptions,
  type GradcheckReport,
  gradcheck,
} from "./gradcheck.ts";
export { assertTensor } from "./internal/check.ts";
export {
  type AvgPool2dOptions,
  avgPool2d,
  type Conv2dOptions,
  conv2d,
  maxPool2d,
  type Pool2dOptions,
} from "./ops/conv.ts";
export { type DropoutOptions, dropout } from "./ops/dropout.ts";
export {
  abs,
  add,
  div,
  exp,
  type GeluOptions,
  gelu,
  leakyRelu,
  log,
  maximum,
  minimum,
  mul,
  neg,
  pow,
  relu,
  sigmoid,
  softplus,
  sqrt,
  square,
  sub,
  tanh,
} from "./ops/elementwise.ts";
export { type MatmulOptions, matmul } from "./ops/matmul.ts";
export { logSoftmax, logsumexp, max, mean, min, softmax, sum } from "./ops/reduce.ts";
export { concat, flatten, gather, permute, reshape, slice, transpose } from "./ops/shape.ts";
export { clearPool, type PoolStats, poolStats, resetPoolStats } from "./pool.ts";
export { sigmoidOf } from "./scalar.ts";
export {
  type BackwardOptions,
  backward,
  enableGrad,
  isGradEnabled,
  noGrad,
  type OpName,
  releaseGraph,
  setGradEnabled,
} from "./tape.ts";
export {
  fromMatrix,
  full,
  type GradHook,
  type NestedArray,
  type NormalOptions,
  oneHot,
  ones,
  rand,
  randn,
  scalar,
  Tensor,
  type TensorOptions,
  tensor,
  toMatrix,
  type UniformOptions,
  wrap,
  zeros,
} from "./tensor.ts";
