/**
 * Dense linear algebra in pure TypeScript: row-major Float32/Float64 matrices, BLAS-style kernels
 * (gemm, syrk, gemv), the symmetric eigensolver `eigh`, Cholesky solves, Kronecker products, and a
 * seeded random generator whose streams are identical on every runtime.
 *
 * @packageDocumentation
 */
// Modules whose every export is public API are re-exported whole (`export *`); the others name what
// they make public, so helpers they export for sibling modules stay internal.
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
export * from "./blas.ts";
export * from "./cholesky.ts";
export * from "./eigh.ts";
export {
  type GemmProfile,
  type GemmWorkspaceStats,
  gemm,
  gemmProfile,
  gemmStrided,
  gemmWorkspaceStats,
  type MatmulOptions,
  matmul,
  matmulInto,
  profileGemm,
} from "./gemm.ts";
export * from "./generators.ts";
export * from "./gram-eigh.ts";
export { kron, kronMatVec, kronMatVecInto } from "./kron.ts";
export * from "./matrix.ts";
export { checkFlag, checkOptions, checkRequiredOptions, type OptionKeyList, optionKeys } from "./options.ts";
export { detLog, Rng, type RngState } from "./random.ts";
export { type SyrkOptions, syrk, syrkStrided } from "./syrk.ts";
export {
  assertClose,
  type Closeable,
  type CloseOptions,
  type CloseReport,
  clearErrorOr,
  closeness,
  defaultRtol,
  frobenius,
  ulp,
} from "./testing.ts";
export {
  type Tridiagonalization,
  type TridiagonalQROptions,
  type TridiagonalQRResult,
  tridiagonalize,
  tridiagonalQR,
} from "./tridiagonal.ts";
export {
  allFinite,
  axpbyInto,
  bernoulliResidualInto,
  convertRowsInto,
  decayInto,
  flushTiny,
  foldLowerSymmetric,
  gatherColumnsInto,
  hasTiny,
  logistic,
  logistic32,
  quotientFlushedInto,
  quotientOuterFlushedInto,
  roundFlushedInto,
  scaleInto,
  scatterColumnsInto,
  sigmoidInto,
  squaresFlushedInto,
  tinyNonzero,
} from "./vector.ts";
