/**
 * setThreads' contract without real threads (those are tested with Node workers in
 * packages/bench/src/node-threads.test.ts): argument errors, a worker that fails to start rejects
 * setThreads with its message and leaves gemm single-threaded and working.
 */
import { afterEach, describe, expect, it } from "vitest";
import { getThreads, setThreads, shutdownThreads, type ThreadWorker, wasmSupported } from "./backend.ts";
import { gemm } from "./gemm.ts";
import { zeros } from "./matrix.ts";

afterEach(async () => {
  await shutdownThreads();
});

/** A worker that reports a failure right after it is created. */
function failingWorker(): ThreadWorker {
  const listeners: ((e: { data?: unknown }) => void)[] = [];
  setTimeout(() => {
    for (const f of listeners) f({ data: { type: "error", message: "stubbed worker failure" } });
  }, 0);
  return {
    postMessage: () => {},
    addEventListener: (type, f) => {
      if (type === "message") listeners.push(f);
    },
    terminate: () => undefined,
  };
}

describe("setThreads", () => {
  it("n must be an integer ≥ 1 (RangeError); n > 1 needs options.spawn (TypeError); setThreads(1) is one thread", async () => {
    await expect(setThreads(0)).rejects.toThrow(RangeError);
    await expect(setThreads(1.5)).rejects.toThrow(/integer ≥ 1/);
    await expect(setThreads(2)).rejects.toThrow(TypeError);
    await setThreads(1);
    expect(getThreads()).toBe(1);
  });

  it.runIf(wasmSupported())(
    "a worker that fails to start rejects setThreads with its reason; gemm stays single-threaded and correct",
    async () => {
      await expect(setThreads(2, { spawn: failingWorker })).rejects.toThrow(/stubbed worker failure/);
      expect(getThreads()).toBe(1);
      const n = 160;
      const a = zeros(n, n, "float64");
      a.data.fill(1);
      const c = zeros(n, n, "float64");
      gemm(false, false, 1, a, a, 0, c);
      expect(c.data[n * n - 1]).toBe(n);
    },
  );
});
