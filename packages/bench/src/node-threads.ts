/**
 * The Node worker factory for `setThreads` (linalg itself imports no node: modules): a worker_threads
 * Worker whose bootstrap installs web-style `postMessage` / `addEventListener("message")` globals over
 * `parentPort` and then imports linalg's worker entry by URL. The worker inherits the parent's
 * execArgv; when the entry is TypeScript (running from sources) tsx's ESM hooks are registered first,
 * since an eval worker does not get the parent's loader.
 */
import { Worker } from "node:worker_threads";
import type { ThreadWorker } from "@ekfac-ts/linalg";

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
