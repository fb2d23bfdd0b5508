/**
 * Dense linear algebra in pure TypeScript: row-major Float32/Float64 matrices, BLAS-style kernels
 * (gemm, syrk, gemv), the symmetric eigensolver `eigh`, Cholesky solves, Kronecker products, and a
 * seeded random generator whose streams are identical on every runtime.
 *
 * @packageDocumentation
 */
export {
  type BackendName,
  type BackendSetting,
  getBackend,
  getBackendSetting,
  getThreads,
  getWasmKernel,
  type SpawnWorker,
  setBackend,
  setThreads,
  setWasmKernel,
  shutdownThreads,
  type ThreadOptions,
  type ThreadWorker,
  type WasmKernel,
  type WasmKernelSetting,
  type WasmWorkspaceStats,
  wasmFmaSupported,
  wasmSupported,
  wasmWorkspaceStats,
} from "./backend.ts";
export {
  add,
  addInto,
  axpy,
  copyInto,
  dot,
  fill,
  gemv,
  map,
  mapInto,
  normFrobenius,
  normMaxAbs,
  scal,
  scale,
  scaleInto,
  sub,
  subInto,
  transpose,
  transposeInto,
  zip,
  zipInto,
} from "./blas.ts";
export {
  type CholeskyResult,
  type CholeskyStatus,
  cholesky,
  choleskyInto,
  choleskySolve,
  solveTriangular,
  solveTriangularInto,
  spdInverse,
  spdSolve,
  type TriangularOptions,
} from "./cholesky.ts";
export {
  type EighAlgorithm,
  type EighOptions,
  type EighOutput,
  type EighResult,
  type EighStatus,
  EighWorkspace,
  eigh,
  eighInto,
} from "./eigh.ts";
export {
  type GemmWorkspaceStats,
  gemm,
  gemmStrided,
  gemmWorkspaceStats,
  type MatmulOptions,
  matmul,
  matmulInto,
} from "./gemm.ts";
export {
  gradedSymmetric,
  randomCovariance,
  randomOrthogonal,
  randomSymmetric,
  randomTridiagonal,
  symmetricWithSpectrum,
  wilkinsonMatrix,
} from "./generators.ts";
export { kron, kronMatVec, kronMatVecInto } from "./kron.ts";
export {
  allocate,
  assertMatrix,
  assertNoOverlap,
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
  overlapOf,
  shapeOf,
  strideOf,
  view,
  zeros,
} from "./matrix.ts";
export { detLog, Rng, type RngState } from "./random.ts";
export { type SyrkOptions, syrk } from "./syrk.ts";
export {
  assertClose,
  type Closeable,
  type CloseOptions,
  type CloseReport,
  clearErrorOr,
  closeness,
  defaultRtol,
  frobenius,
} from "./testing.ts";
export {
  type Tridiagonalization,
  type TridiagonalQROptions,
  type TridiagonalQRResult,
  tridiagonalize,
  tridiagonalQR,
} from "./tridiagonal.ts";
