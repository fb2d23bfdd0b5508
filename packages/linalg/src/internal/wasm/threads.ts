/**
 * Multi-threaded wasm gemm (opt-in, `setThreads`): C = α·op(A)·op(B) + β·C with the columns of C split
 * across T threads — the calling thread and T − 1 workers — that run the same WebAssembly kernels on
 * one shared WebAssembly.Memory.
 *
 * Source: the BLIS parallelisation of the jc/jr loops (Smith, van de Geijn, Smelyanskiy, Hammond & Van
 * Zee, "Anatomy of high-performance many-threaded matrix multiplication", IPDPS 2014, §IV: each thread
 * owns a range of NR-wide column panels of C and packs its own B̃; Ã is packed by every thread, which
 * costs mk per thread and needs no synchronisation inside the product).
 *
 * Protocol: workers are created by a caller-supplied factory (the library cannot create threads
 * portably: Node needs worker_threads, browsers/Deno/Bun `new Worker(url, { type: "module" })`), load
 * `gemm-worker.ts`, post {type: "loaded"}, get {type: "init", memory, ctrl, fma, maxPages} and answer
 * {type: "ready"}. Per product the calling thread copies A and B (rows as stored) and β·C into the
 * shared memory — workers cannot see the caller's arrays — posts one {type: "gemm"} per worker, runs
 * its own column range, then blocks in `Atomics.wait` on a shared counter that each worker increments
 * when done (or flags a failure). Blocking needs a thread allowed to wait: Node's, Deno's and Bun's main
 * threads and any web worker, not a browser's main thread (`setThreads` rejects there).
 *
 * Deviations: products below THREAD_MIN_WORK, with fewer column panels than threads, or issued while
 * a resident region is held stay single-threaded. Results equal the single-threaded kernel's bit for
 * bit (same blocking per column, same summation order within each entry).
 * Cost: 2mnk/T flops per thread; serial part: copies of A, B and C in (mk + kn + mn) and C out (mn).
 * Memory: A, B, C̃ and one Ã + B̃ block per thread, in the shared memory (at most 1 GiB).
 */
import type { FloatArray } from "../../matrix.ts";
import { type GemmArgs, newGemmArgs } from "../gemm-args.ts";
import { geometryOf } from "./codegen.ts";
import { gemmColumns, loadC, storeC } from "./driver.ts";
import { countCall, ensureBytes, kernels, memoryView, useSharedMemory, wasmGemmStats } from "./instance.ts";
import { type WasmMemory, wasmNamespace, wasmSupport } from "./runtime.ts";

/** What the worker factory returns: the part of a web `Worker` the pool uses. */
export interface ThreadWorker {
  /** Sends a job (the shared memory and kernel arguments) to the worker. */
  postMessage(message: unknown): void;
  /** Subscribes to the worker's replies and to its load or runtime errors. */
  addEventListener(type: "message" | "error", listener: (event: { data?: unknown; message?: string }) => void): void;
  /** Stops the worker when the pool shuts down or fails to start. */
  terminate(): unknown;
}
/** Creates a worker running the ES module at `url` (e.g. `(url) => new Worker(url, { type: "module" })`). */
export type SpawnWorker = (url: string) => ThreadWorker;

/** Shared memory cap (pages of 64 KiB): 1 GiB. */
export const SHARED_MAX_PAGES = 16384;
/** Below this many multiply-adds a product stays on one thread (posting and waking cost ~0.1 ms). */
export const THREAD_MIN_WORK = 128 * 128 * 128;

let workers: ThreadWorker[] = [];
let ctrl: Int32Array | null = null;

export function threadCount(): number {
  return workers.length + 1;
}

/** The worker entry's URL, beside this module (.ts when running from source, .js when built). */
function workerUrl(): string {
  const here = (import.meta as { url?: string }).url ?? "";
  return here.replace(/threads\.(ts|js)$/, "gemm-worker.$1");
}

/** Timers through a local typing: the library compiles without DOM or Node types (see runtime.ts). */
const timers = globalThis as unknown as {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
};

function waitFor(w: ThreadWorker, type: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = timers.setTimeout(
      () => reject(new Error(`setThreads: no "${type}" from a worker within ${ms} ms`)),
      ms,
    );
    w.addEventListener("message", (e) => {
      const d = e.data as { type?: string; message?: string } | undefined;
      if (d?.type === type) {
        timers.clearTimeout(timer);
        resolve();
      } else if (d?.type === "error") {
        timers.clearTimeout(timer);
        reject(new Error(`setThreads: a worker failed: ${d.message}`));
      }
    });
    w.addEventListener("error", (e) => {
      timers.clearTimeout(timer);
      reject(new Error(`setThreads: a worker failed: ${e.message ?? "error event"}`));
    });
  });
}

/** Starts T − 1 workers over a new shared memory; from then on gemm-dispatch.ts sends big products to `gemmThreaded`. */
export async function startThreads(total: number, spawn: SpawnWorker): Promise<void> {
  await stopThreads();
  if (total <= 1) return;
  const support = wasmSupport();
  if (!support.ok) throw new Error(`setThreads: the wasm backend is not available: ${support.reason}`);
  if (typeof SharedArrayBuffer !== "function") {
    throw new Error("setThreads: SharedArrayBuffer is unavailable (browsers need cross-origin isolation)");
  }
  const control = new Int32Array(new SharedArrayBuffer(64));
  try {
    Atomics.wait(control, 0, 1, 0); // "not-equal" where blocking is allowed; throws where it is not
  } catch {
    throw new Error("setThreads: this thread may not block (Atomics.wait), e.g. a browser's main thread; use a worker");
  }
  const ns = wasmNamespace();
  if (!ns) throw new Error("setThreads: WebAssembly is unavailable");
  const memory: WasmMemory = new ns.Memory({ initial: 1, maximum: SHARED_MAX_PAGES, shared: true });
  const inst = useSharedMemory(memory, SHARED_MAX_PAGES);
  const fma = inst?.fma ?? wasmGemmStats().fma;
  const url = workerUrl();
  const started: ThreadWorker[] = [];
  try {
    for (let t = 1; t < total; t++) {
      const w = spawn(url);
      started.push(w);
      const loaded = waitFor(w, "loaded", 30000);
      await loaded;
      const ready = waitFor(w, "ready", 30000);
      w.postMessage({ type: "init", memory, ctrl: control.buffer, fma, maxPages: SHARED_MAX_PAGES });
      await ready;
    }
  } catch (e) {
    for (const w of started) await w.terminate();
    useSharedMemory(null, 0);
    throw e;
  }
  workers = started;
  ctrl = control;
}

/** Terminates the workers and returns the kernels to a private memory. */
export async function stopThreads(): Promise<void> {
  const old = workers;
  workers = [];
  ctrl = null;
  for (const w of old) await w.terminate();
  if (old.length > 0) useSharedMemory(null, 0);
}

const round8 = (x: number): number => Math.ceil(x / 8) * 8;

/** Copies a rows×cols matrix stored at x[off] (leading dimension ld) to w[dst] densely. */
function copyIn(x: FloatArray, off: number, ld: number, rows: number, cols: number, w: FloatArray, dst: number): void {
  if (ld === cols || rows === 1) {
    w.set(x.subarray(off, off + rows * cols), dst);
    return;
  }
  for (let i = 0; i < rows; i++) {
    const s = off + i * ld;
    const d = dst + i * cols;
    for (let j = 0; j < cols; j++) w[d + j] = x[s + j] as number;
  }
}

/** This thread's share: op(A) and op(B) as copied into the shared memory (rows as stored). */
const copied: GemmArgs = newGemmArgs();

/**
 * Runs the product on all threads and returns true, or returns false (nothing done) when it is too
 * small, has too few column panels, or would not fit the shared memory; false also when no workers
 * run. The caller (gemm-dispatch.ts) then runs it single-threaded.
 */
export function gemmThreaded(g: Readonly<GemmArgs>): boolean {
  const { transA, transB, m, n, k, alpha, a, offA, lda, b, offB, ldb, c, lower } = g;
  const control = ctrl;
  const T = workers.length + 1;
  if (control === null || m * n * k < THREAD_MIN_WORK) return false;
  const f64 = c instanceof Float64Array;
  const geom = geometryOf(f64);
  const { MR: mr, NR: nr, size } = geom;
  const panels = Math.ceil(n / nr);
  if (panels < 2 * T) return false;
  const rowsA = transA ? k : m;
  const colsA = transA ? m : k;
  const rowsB = transB ? n : k;
  const colsB = transB ? k : n;
  const mp = Math.ceil(m / mr) * mr;
  const ldw = panels * nr;
  const kPad = Math.min(k, geom.KC);
  const aBlock = round8(Math.min(mp, Math.ceil(geom.MC / mr) * mr) * kPad);
  const perThread = aBlock + round8(Math.min(ldw, geom.NC) * kPad);
  const sA = 0;
  const sB = round8(rowsA * colsA);
  const cOff = sB + round8(rowsB * colsB);
  const ws0 = cOff + round8(mp * ldw);
  // Past the shared memory's cap (copies of A and B included) stay on the single-threaded path.
  if ((ws0 + T * perThread) * size > SHARED_MAX_PAGES * 65536) return false;
  const inst = kernels();
  ensureBytes(inst, (ws0 + T * perThread) * size);
  const w = memoryView(size);
  countCall();

  copyIn(a, offA, lda, rowsA, colsA, w, sA);
  copyIn(b, offB, ldb, rowsB, colsB, w, sB);
  loadC(g, mp, w, cOff, ldw, -1);

  Atomics.store(control, 0, 0);
  Atomics.store(control, 1, 0);
  const per = Math.floor(panels / T);
  const extra = panels - per * T;
  let p0 = 0;
  let mine0 = 0;
  let mine1 = 0;
  for (let t = 0; t < T; t++) {
    const p1 = p0 + per + (t < extra ? 1 : 0);
    const j0 = p0 * nr;
    const j1 = Math.min(n, p1 * nr);
    const aOff = ws0 + t * perThread;
    if (t === 0) {
      mine0 = j0;
      mine1 = j1;
    } else {
      (workers[t - 1] as ThreadWorker).postMessage({
        type: "gemm",
        f64,
        transA,
        transB,
        m,
        j0,
        j1,
        k,
        alpha,
        sA,
        lda: colsA,
        sB,
        ldb: colsB,
        cOff,
        ldw,
        aOff,
        bOff: aOff + aBlock,
        lower,
      });
    }
    p0 = p1;
  }
  copied.transA = transA;
  copied.transB = transB;
  copied.m = m;
  copied.k = k;
  copied.alpha = alpha;
  copied.a = w;
  copied.offA = sA;
  copied.lda = colsA;
  copied.b = w;
  copied.offB = sB;
  copied.ldb = colsB;
  copied.lower = lower;
  gemmColumns(geom, inst, copied, mine0, mine1, w, cOff, ldw, ws0, ws0 + aBlock);
  // Wait for the workers; a generous deadline (0.05 GFLOP/s) so that a dead worker cannot hang the caller.
  const deadline = Date.now() + 10000 + (2 * m * n * k) / 5e7;
  for (;;) {
    const done = Atomics.load(control, 0);
    if (done >= T - 1) break;
    if (Date.now() > deadline) throw new Error("gemm: a worker thread did not finish (see setThreads)");
    Atomics.wait(control, 0, done, 1000);
  }
  if (Atomics.load(control, 1) !== 0) throw new Error("gemm: a worker thread failed (see setThreads)");
  storeC(g, w, cOff, ldw, -1);
  return true;
}
