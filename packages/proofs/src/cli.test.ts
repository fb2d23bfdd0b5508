/** The command line (main.ts, portable) and PROOFS.md being current. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { catalogue } from "./catalogue.ts";
import { defineLaw } from "./law.ts";
import { type Io, MAX_RUNS, main, PROGRESS_MS, parseArgs } from "./main.ts";
import { catalogueMarkdown } from "./markdown.ts";
import { exactPattern, selectLaws } from "./runner.ts";
import { writeFileAtomic } from "./write-atomic.ts";

function capture(): Io & { lines: string[]; errors: string[]; files: Map<string, string> } {
  const lines: string[] = [];
  const errors: string[] = [];
  const files = new Map<string, string>();
  return {
    lines,
    errors,
    files,
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    writeFile: (p, t) => files.set(p, t),
  };
}

/** A law that holds for x < 1000 only: its shrunk counterexample is exactly 1000. */
const lawFields = {
  title: "every integer is below 1000",
  statement: "x < 1000",
  source: "none",
  generator: "integers in [0, 10⁶]",
  tolerance: "x ≤ 999",
  why: "to test the runner",
};
const falseLaw = defineLaw({
  ...lawFields,
  id: "test.false",
  arbitrary: fc.integer({ min: 0, max: 1_000_000 }),
  measure: (_impl, x) => ({ error: x, tolerance: 999 }),
});

describe("PROOFS.md", () => {
  it("is current: regenerating the catalogue's markdown gives the committed file", () => {
    const file = readFileSync(new URL("../../../PROOFS.md", import.meta.url), "utf8");
    expect(file === catalogueMarkdown(catalogue), "PROOFS.md is stale: run `pnpm proofs --markdown PROOFS.md`").toBe(
      true,
    );
  });

  it("lists every law with its statement, source, generator, tolerance and why", () => {
    const md = catalogueMarkdown(catalogue);
    // Markdown-escaped (S\*, ā\_n) and with single spaces, as the generator writes it.
    const esc = (s: string): string => s.replace(/([\\*_[\]<>])/g, "\\$1").replace(/ {2,}/g, " ");
    expect(md.split("\n").filter((line) => line.startsWith("### ")).length).toBe(catalogue.length);
    for (const l of catalogue) {
      for (const text of [l.id, l.title, l.statement, l.source, l.generator, l.tolerance, l.why])
        expect(md).toContain(esc(text));
    }
  });
});

describe("command line", () => {
  it("parses --runs, --seed, --path, --filter, --json, --markdown, --list (and --flag=value)", () => {
    const o = parseArgs([
      "--runs",
      "7",
      "--seed=-3",
      "--path",
      "1:2",
      "--filter",
      "eigh",
      "--json",
      "x.json",
      "--list",
    ]);
    expect(o).toMatchObject({ runs: 7, seed: -3, path: "1:2", filter: "eigh", json: "x.json", list: true });
    expect(() => parseArgs(["--runs", "0"])).toThrow(/--runs must be an integer ≥ 1 \(got 0\)/);
    expect(() => parseArgs(["--runs"])).toThrow(/--runs needs a value/);
    expect(() => parseArgs(["--bogus"])).toThrow(/unknown argument "--bogus"/);
  });

  it("--filter selects by id or title (regular expression, case-insensitive); exactPattern matches one id", () => {
    expect(selectLaws(catalogue, "eigh").every((l) => /eigh/i.test(l.id + l.title))).toBe(true);
    expect(selectLaws(catalogue, "EKFAC FROBENIUS").length).toBe(2);
    expect(selectLaws(catalogue, exactPattern("linalg.eigh.residual")).map((l) => l.id)).toEqual([
      "linalg.eigh.residual",
    ]);
  });

  it("--list prints the laws with their case counts at the requested depth", () => {
    const io = capture();
    expect(main(["--list", "--runs", "10", "--filter", "conv2d"], io)).toBe(0);
    expect(io.lines.some((l) => l.startsWith("autodiff.rule.conv2d") && /\s3\s/.test(l))).toBe(true);
  });

  it("a passing run exits 0 and writes the JSON report", () => {
    const io = capture();
    const code = main(["--runs", "5", "--seed", "1", "--filter", "^optim\\.", "--json", "r.json"], io);
    expect(code).toBe(0);
    const json = JSON.parse(io.files.get("r.json") ?? "{}");
    expect(json.seed).toBe(1);
    expect(json.reports.map((r: { id: string }) => r.id)).toEqual([
      "optim.adam.first-step",
      "optim.sgd.momentum-closed-form",
    ]);
    expect(io.lines.at(-1)).toMatch(/^2 laws passed, 0 failed; 10 cases/);
  });

  it("a failing law exits 1 and prints the shrunk counterexample with the replay command", () => {
    const io = capture();
    expect(main(["--runs", "200", "--seed", "5"], io, [falseLaw])).toBe(1);
    const text = io.lines.join("\n");
    expect(text).toContain("FAIL  test.false");
    expect(text).toContain("counterexample: 1000");
    expect(text).toMatch(/replay: +pnpm proofs --filter '\^test\\\.false\$' --seed 5 --path '[\d:]+'/);
  });

  it("--markdown writes the catalogue and runs nothing; bad usage exits 2", () => {
    const io = capture();
    expect(main(["--markdown", "P.md"], io)).toBe(0);
    expect(io.files.get("P.md")).toBe(catalogueMarkdown(catalogue));
    expect(main(["--filter", "no-such-law-anywhere"], capture())).toBe(2);
    expect(main(["--runs", "x"], capture())).toBe(2);
  });
});

describe("long runs and file output (issue 19)", () => {
  it("--runs above MAX_RUNS is a usage error naming the cap, not a silent endless run", () => {
    expect(() => parseArgs(["--runs", "1e9"])).toThrow(new RegExp(`--runs must be at most ${MAX_RUNS}`));
    const io = capture();
    expect(main(["--runs", "1000000000"], io, [falseLaw])).toBe(2);
    expect(io.lines).toEqual([]);
    expect(parseArgs(["--runs", String(MAX_RUNS)]).runs).toBe(MAX_RUNS);
  });

  it("a long law prints progress lines on stderr (at most one per PROGRESS_MS of the clock)", () => {
    const io = capture();
    let t = 0;
    const clock: Io = { ...io, now: () => (t += PROGRESS_MS / 4) };
    const trueLaw = defineLaw({
      ...lawFields,
      id: "test.true",
      arbitrary: fc.integer(),
      measure: () => ({ error: 0, tolerance: 1 }),
    });
    expect(main(["--runs", "40"], clock, [trueLaw])).toBe(0);
    const progress = io.errors.filter((l) => l.startsWith("proofs: law 1/1 test.true: "));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThanOrEqual(40 / 4 + 1);
    expect(progress.at(-1)).toMatch(/\d+\/40 cases/);
  });

  it("the Node entry writes --json/--markdown atomically: the complete text, no temporary file left", () => {
    const dir = mkdtempSync(join(tmpdir(), "proofs-"));
    try {
      const path = join(dir, "out.json");
      writeFileSync(path, "old");
      writeFileAtomic(path, "new text\n");
      expect(readFileSync(path, "utf8")).toBe("new text\n");
      expect(readdirSync(dir)).toEqual(["out.json"]);
      // A failed write (the target is a directory) leaves the target and no temporary file behind.
      const sub = join(dir, "sub");
      mkdirSync(sub);
      expect(() => writeFileAtomic(sub, "x")).toThrow();
      expect(readdirSync(dir).sort()).toEqual(["out.json", "sub"]);
      expect(readFileSync(new URL("./cli.ts", import.meta.url), "utf8")).toMatch(/writeFile: writeFileAtomic/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
