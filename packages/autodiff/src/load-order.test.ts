/**
 * tensor.ts does not import the tape (scripts/check-cycles.mjs): the tape registers `backward` with it
 * when it loads. Loaded on its own, tensor.ts must say what is missing rather than fail obscurely.
 */
import { describe, expect, it, vi } from "vitest";

describe("Tensor.backward and the tape", () => {
  it("without the tape loaded, backward names the missing module", async () => {
    vi.resetModules();
    const alone = await import("./tensor.ts");
    const t = alone.tensor([2], [1], { dtype: "float64", requiresGrad: true });
    expect(() => t.backward()).toThrow("Tensor.backward: the tape is not loaded; import @ekfac-ts/autodiff");
  });

  it("through the package index the tape is loaded and backward runs", async () => {
    vi.resetModules();
    const ad = await import("./index.ts");
    const x = ad.tensor([3], [1], { dtype: "float64", requiresGrad: true });
    ad.mul(x, x).backward();
    expect(x.grad?.data[0]).toBe(6);
  });
});
