/**
 * Worker entry of the threaded gemm (see `threads.ts`): portable message-based code for any worker
 * with web-style `addEventListener("message")` / `postMessage` globals (browsers, Deno, Bun; Node's
 * worker_threads through a small adapter that installs them, e.g. packages/bench/src/node-threads.ts).
 *
 * Messages: → {type: "loaded"} once evaluated; {type: "init", memory, ctrl, fma, maxPages} → compiles
 * the same kernels over the shared memory → {type: "ready"} (or {type: "error", message});
 * {type: "gemm", …} → runs `gemmColumns` on its column range, then increments ctrl[0] and wakes the
 * caller (ctrl[1] = 1 on failure). Cost: the product's share; no allocation per product after the
 * first (views are rebuilt only when the memory has grown).
 */
import type { FloatArray } from "../../matrix.ts";
import { newGemmArgs } from "../gemm-args.ts";
import { geometryOf } from "./codegen.ts";
import { gemmColumns } from "./driver.ts";
import { type Instance, instantiateKernels } from "./instance.ts";
import type { WasmMemory } from "./runtime.ts";

interface WorkerScope {
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

interface GemmTask {
  readonly type: "gemm";
  readonly f64: boolean;
  readonly transA: boolean;
  readonly transB: boolean;
  readonly m: number;
  readonly j0: number;
  readonly j1: number;
  readonly k: number;
  readonly alpha: number;
  readonly sA: number;
  readonly lda: number;
  readonly sB: number;
  readonly ldb: number;
  readonly cOff: number;
  readonly ldw: number;
  readonly aOff: number;
  /** GemmArgs `lower`: skip what lies wholly above C's diagonal. */
  readonly lower: boolean;
  readonly bOff: number;
}

interface Init {
  readonly type: "init";
  readonly memory: WasmMemory;
  readonly ctrl: SharedArrayBuffer;
  readonly fma: boolean;
  readonly maxPages: number;
}

const scope = globalThis as unknown as WorkerScope;
let kernels: Instance | null = null;
let ctrl: Int32Array | null = null;
let v32 = new Float32Array(0);
let v64 = new Float64Array(0);

/** The task's operands, as views of the shared memory. */
const args = newGemmArgs();

function run(t: GemmTask): void {
  const inst = kernels as Instance;
  const buf = inst.memory.buffer;
  if (v64.buffer !== buf) {
    v32 = new Float32Array(buf);
    v64 = new Float64Array(buf);
  }
  const w: FloatArray = t.f64 ? v64 : v32;
  args.transA = t.transA;
  args.transB = t.transB;
  args.m = t.m;
  args.k = t.k;
  args.alpha = t.alpha;
  args.a = w;
  args.offA = t.sA;
  args.lda = t.lda;
  args.b = w;
  args.offB = t.sB;
  args.ldb = t.ldb;
  args.lower = t.lower;
  gemmColumns(geometryOf(t.f64), inst, args, t.j0, t.j1, w, t.cOff, t.ldw, t.aOff, t.bOff);
}

scope.addEventListener("message", (event) => {
  const msg = event.data as Init | GemmTask;
  if (msg.type === "init") {
    try {
      kernels = instantiateKernels(msg.fma, msg.memory, msg.maxPages);
      ctrl = new Int32Array(msg.ctrl);
      scope.postMessage({ type: "ready" });
    } catch (e) {
      scope.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) });
    }
    return;
  }
  if (msg.type === "gemm") {
    const c = ctrl as Int32Array;
    try {
      run(msg);
    } catch {
      Atomics.store(c, 1, 1);
    } finally {
      Atomics.add(c, 0, 1);
      Atomics.notify(c, 0);
    }
  }
});
scope.postMessage({ type: "loaded" });
