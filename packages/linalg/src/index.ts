export { gemm, gemmStrided, type MatmulOptions, matmul, matmulInto } from "./gemm.ts";
export {
  allocate,
  assertMatrix,
  assertSameDtype,
  clone,
  type DType,
  dtypeOf,
  epsilonOf,
  eye,
  type FloatArray,
  fromArray,
  fromRows,
  get,
  type Matrix,
  type MatrixView,
  offsetOf,
  shapeOf,
  strideOf,
  view,
  zeros,
} from "./matrix.ts";
export { detLog, Rng, type RngState } from "./random.ts";
export { assertClose, type CloseOptions, type CloseReport, closeness, defaultRtol, frobenius } from "./testing.ts";
