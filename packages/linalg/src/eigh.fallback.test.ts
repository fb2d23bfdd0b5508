/**
 * eigh's documented fallback: "a secular equation that fails (never seen in testing) falls back to QR
 * on the kept T". No input is known to make the secular solver fail, so the failure is injected: the
 * divide-and-conquer kernel is wrapped to run for real (destroying d and e, as a failing merge would)
 * and then report "secular-failure". eigh must restore T from its copies and give exactly what the QR
 * route gives — same eigenvalues, eigenvectors and sweep count, status "success".
 */
import { describe, expect, it, vi } from "vitest";
import { eigh } from "./eigh.ts";
import { randomSymmetric } from "./generators.ts";
import * as dcModule from "./internal/divide-conquer.ts";
import type { Matrix } from "./matrix.ts";
import { Rng } from "./random.ts";

vi.mock("./internal/divide-conquer.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./internal/divide-conquer.ts")>();
  return { ...original, divideConquerKernel: vi.fn(original.divideConquerKernel) };
});

describe("eigh: a failed secular equation falls back to QR", () => {
  it("gives the QR route's results exactly, after the kernel has scribbled over d and e", async () => {
    const { divideConquerKernel: real } =
      await vi.importActual<typeof import("./internal/divide-conquer.ts")>("./internal/divide-conquer.ts");
    for (const n of [5, 70]) {
      const a = randomSymmetric(n, new Rng(n));
      const qr = eigh(a, { algorithm: "qr" });
      vi.mocked(dcModule.divideConquerKernel).mockImplementationOnce((...args) => {
        real(...args);
        return "secular-failure";
      });
      const fellBack = eigh(a);
      expect(vi.mocked(dcModule.divideConquerKernel)).toHaveBeenCalledTimes(1);
      expect(fellBack.status).toBe("success");
      expect(fellBack.iterations).toBe(qr.iterations);
      expect(Array.from(fellBack.values)).toEqual(Array.from(qr.values));
      expect(Array.from((fellBack.vectors as Matrix).data)).toEqual(Array.from((qr.vectors as Matrix).data));
      vi.mocked(dcModule.divideConquerKernel).mockClear();
    }
  });
});
