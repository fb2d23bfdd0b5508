/**
 * setThreads with the Node worker factory: the threaded wasm gemm equals the single-threaded one bit
 * for bit (both split C by columns with the same blocking and summation order), for float32 and
 * float64, every transpose, β ≠ 0 and strided views; shutdownThreads returns to one thread.
 */
import { gemm, getThreads, Rng, setThreads, shutdownThreads, view, wasmSupported, zeros } from "@ekfac-ts/linalg";
import { afterAll, describe, expect, it } from "vitest";
import { spawnNodeWorker } from "./node-threads.ts";

afterAll(async () => {
  await shutdownThreads();
});

describe.runIf(wasmSupported())("threaded gemm (Node worker_threads)", () => {
  it("C = α·op(A)·op(B) + β·C on 2 threads equals 1 thread bit for bit (float32, float64, every transpose, strided C)", async () => {
    const [m, n, k] = [150, 141, 133];
    const rng = new Rng(9);
    const cases: { dtype: "float32" | "float64"; tA: boolean; tB: boolean }[] = [];
    for (const dtype of ["float32", "float64"] as const)
      for (const tA of [false, true]) for (const tB of [false, true]) cases.push({ dtype, tA, tB });
    const inputs = cases.map(({ dtype, tA, tB }) => {
      const a = zeros(tA ? k : m, tA ? m : k, dtype);
      const b = zeros(tB ? n : k, tB ? k : n, dtype);
      const c0 = zeros(m + 3, n + 5, dtype);
      rng.fillUniform(a.data, -1, 1);
      rng.fillUniform(b.data, -1, 1);
      rng.fillUniform(c0.data, -1, 1);
      return { a, b, c0 };
    });
    const run = (): Float64Array[] =>
      cases.map(({ tA, tB }, i) => {
        const { a, b, c0 } = inputs[i] as (typeof inputs)[number];
        const outer = { ...c0, data: c0.data.slice() };
        gemm(tA, tB, 0.75, a, b, -0.5, view(outer, 2, 3, m, n));
        return Float64Array.from(outer.data);
      });
    const single = run();
    await setThreads(2, { spawn: spawnNodeWorker });
    expect(getThreads()).toBe(2);
    const threaded = run();
    await shutdownThreads();
    expect(getThreads()).toBe(1);
    for (let i = 0; i < cases.length; i++) {
      const s = single[i] as Float64Array;
      const t = threaded[i] as Float64Array;
      let same = true;
      for (let j = 0; j < s.length; j++) if (!Object.is(s[j], t[j])) same = false;
      expect(same, JSON.stringify(cases[i])).toBe(true);
    }
    // And after shutdown, gemm still works (single-threaded, private memory).
    expect(run().every((r, i) => r.every((v, j) => Object.is(v, (single[i] as Float64Array)[j])))).toBe(true);
  }, 60000);
});
