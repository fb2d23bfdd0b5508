/**
 * Broadcasting's error messages. Its law (binary gradients reduce to the operands' shapes and equal
 * finite differences) and every derivative rule's law live in the proofs catalogue
 * (packages/proofs/src/laws/autodiff.ts), which `pnpm test` runs.
 */
import { describe, expect, it } from "vitest";
import * as ad from "./index.ts";

describe("broadcasting", () => {
  it("add of [2,3] and [4] names the op and both shapes", () => {
    expect(() => ad.add(ad.zeros([2, 3]), ad.zeros([4]))).toThrow("add: shapes [2,3] and [4] cannot broadcast");
  });
});
