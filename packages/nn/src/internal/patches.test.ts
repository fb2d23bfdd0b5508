import { Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { gatherOutputGradInto } from "./patches.ts";

describe("gatherOutputGradInto", () => {
  it("puts scale·grad[n, c, t] at row (n·classes + cls)·T + t of group ⌊c / (C_out/G)⌋, dense case included", () => {
    const cases = [
      // [n, cOut, T, groups, classes, cls]: dense (the copy), dense exact-Fisher pass, conv, grouped conv.
      [5, 7, 1, 1, 1, 0],
      [3, 4, 1, 1, 3, 2],
      [2, 6, 5, 1, 1, 0],
      [3, 6, 4, 3, 2, 1],
    ] as const;
    for (const [n, cOut, T, groups, classes, cls] of cases) {
      const grad = new Rng(n * 100 + cOut).fillNormal(new Float64Array(n * cOut * T));
      const out = new Float64Array(groups * n * classes * T * (cOut / groups)).fill(Number.NaN);
      gatherOutputGradInto(out, grad, n, cOut, T, groups, 2.5, classes, cls);
      const cg = cOut / groups;
      const rows = n * classes * T;
      let written = 0;
      for (let e = 0; e < n; e++) {
        for (let c = 0; c < cOut; c++) {
          for (let t = 0; t < T; t++) {
            const k = Math.floor(c / cg);
            const dst = (k * rows + (e * classes + cls) * T + t) * cg + (c % cg);
            expect(out[dst]).toBe(2.5 * (grad[(e * cOut + c) * T + t] as number));
            written++;
          }
        }
      }
      // Rows of other classes' passes are left as they were.
      expect(out.filter((v) => !Number.isNaN(v)).length).toBe(written);
    }
  });
});
