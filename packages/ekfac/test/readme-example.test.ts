import { readFileSync } from "node:fs";
import { expect, it, vi } from "vitest";

// The README's first TypeScript block is what a new user copies: it must stay the code this test runs,
// and it must train (no skipped step, the loss falling by an order of magnitude in 40 steps; with
// EKFAC's λ₀ = 0.1, γ = 3e-4 and θ = 1.5 it falls from 0.6866 to 0.0039, 0.0042 with rateAveraging: 0 —
// this batch is the whole data set, so the noise estimate's averaging has nothing to average out; with
// γ = 0.001 and θ = 1 it ended at 0.0047, 0.0036 with rateAveraging: 0 — MATH.md §11).
it("the README example is test/readme-example.ts verbatim, and it trains with the library defaults", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  const file = readFileSync(new URL("./readme-example.ts", import.meta.url), "utf8");
  expect(file.slice(file.indexOf("\n") + 1)).toBe(block);
  const logs: string[] = [];
  const warnings: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((s: string) => void logs.push(s));
  const warn = vi.spyOn(console, "warn").mockImplementation((s: string) => void warnings.push(s));
  try {
    await import("./readme-example.ts");
  } finally {
    log.mockRestore();
    warn.mockRestore();
  }
  const losses = logs.map((l) => Number(/loss ([0-9.]+)/.exec(l)?.[1]));
  expect(warnings).toEqual([]);
  expect(losses.length).toBe(9);
  expect(losses.every(Number.isFinite)).toBe(true);
  expect(losses[losses.length - 1] as number).toBeLessThan((losses[0] as number) / 10);
});
