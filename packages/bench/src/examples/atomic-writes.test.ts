/** Issue 19: the influence example's outputs are written atomically (temporary file + rename). */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeTextAtomic } from "../demo/report.ts";

describe("influence example output", () => {
  it("writes every file through writeTextAtomic (no direct writeFileSync: a kill mid-write left half a PNG)", () => {
    const src = readFileSync(new URL("./influence.ts", import.meta.url), "utf8");
    expect(src).not.toMatch(/writeFileSync\(/);
    expect(src.match(/writeTextAtomic\(/g)?.length).toBe(3);
  });
  it("writeTextAtomic writes binary data byte for byte and leaves no temporary file", () => {
    const dir = mkdtempSync(join(tmpdir(), "influence-"));
    try {
      const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 255);
      const path = join(dir, "nested", "grid.png");
      writeTextAtomic(path, bytes);
      expect(Array.from(readFileSync(path))).toEqual(Array.from(bytes));
      expect(readdirSync(join(dir, "nested"))).toEqual(["grid.png"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
