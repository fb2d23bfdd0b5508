/**
 * The Node worker factory for `setThreads` (linalg itself imports no node: modules): a worker_threads
 * Worker whose bootstrap installs web-style `postMessage` / `addEventListener("message")` globals over
 * `parentPort` and then imports linalg's worker entry by URL. The worker inherits the parent's
 * execArgv; when the entry is TypeScript (running from sources) tsx's ESM hooks are registered first,
 * since an eval worker does not get the parent's loader.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { setThreads, shutdownThreads, type ThreadWorker } from "@ekfac-ts/linalg";

/** tsx's ESM hooks, registered in the worker before a .ts entry is imported (eval workers get no loader). */
function tsxApi(): string {
  return import.meta.resolve("tsx/esm/api");
}

export function spawnNodeWorker(url: string): ThreadWorker {
  const boot = `const { parentPort } = require("node:worker_threads");
globalThis.postMessage = (m) => parentPort.postMessage(m);
globalThis.addEventListener = (type, fn) => { if (type === "message") parentPort.on("message", (data) => fn({ data })); };
(async () => {
  ${url.endsWith(".ts") ? `(await import(${JSON.stringify(tsxApi())})).register();` : ""}
  await import(${JSON.stringify(url)});
})().catch((e) => parentPort.postMessage({ type: "error", message: String((e && e.stack) || e) }));`;
  const w = new Worker(boot, { eval: true });
  w.unref();
  return {
    postMessage: (m) => w.postMessage(m),
    addEventListener: (type, fn) => {
      if (type === "message") w.on("message", (data: unknown) => fn({ data }));
      else w.on("error", (err: Error) => fn({ message: err.message }));
    },
    terminate: () => w.terminate(),
  };
}

/** Validates the value of `--threads` for `tool`: an integer from 1 to this machine's cores. */
export function parseThreads(tool: string, value: string | undefined): number {
  const n = Number(value);
  const max = availableParallelism();
  if (value === undefined || !Number.isInteger(n) || n < 1 || n > max) {
    throw new RangeError(
      `${tool}: --threads needs an integer from 1 to ${max} (this machine's cores; got ${String(value)})`,
    );
  }
  return n;
}

/**
 * Runs `body` with linalg's gemm on `n` threads (the calling thread and n − 1 Node workers), then
 * stops the workers so the process can exit. n = 1 runs single-threaded, as without the flag.
 */
export async function withThreads<T>(n: number, body: () => Promise<T> | T): Promise<T> {
  if (n > 1) await setThreads(n, { spawn: spawnNodeWorker });
  try {
    return await body();
  } finally {
    await shutdownThreads();
  }
}
