/**
 * `pnpm bench <suite…|all> [--smoke] [--time MS] [--out DIR] [--threads N]`
 *
 * Runs the named suites, prints one table per suite (impl, case, shape, median ms, GFLOP/s, ratio vs
 * ours, check) and writes each suite's records to `<out>/<suite>.json` (default `results/bench`,
 * written atomically). `--threads N` runs linalg's gemm on N threads (its opt-in wasm workers, here
 * Node worker_threads) for every suite. Exits non-zero if a suite throws or any record fails its validation
 * (`ok: false`), so a benchmark cannot silently go stale.
 */
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import type { BenchRecord, Suite } from "./harness.ts";
import { parseThreads, withThreads } from "./node-threads.ts";
import { classifierSuite } from "./suites/classifier.ts";
import { eighSuite } from "./suites/eigh.ts";
import { fisherSuite } from "./suites/fisher.ts";
import { fisherHeldoutSuite } from "./suites/fisher-heldout.ts";
import { gemmSuite } from "./suites/gemm.ts";
import { robustSuite } from "./suites/robust.ts";
import { trainSuite } from "./suites/train.ts";
import { formatTable, isFailure, runMain, writeJsonAtomic } from "./util.ts";

// ── Suite registry: one line per suite (add yours here, e.g. `eighSuite` from "./suites/eigh.ts"). ──
const SUITES: readonly Suite[] = [
  gemmSuite,
  eighSuite,
  fisherSuite,
  fisherHeldoutSuite,
  trainSuite,
  classifierSuite,
  robustSuite,
];

interface Args {
  readonly names: string[];
  readonly smoke: boolean;
  readonly timeMs: number | undefined;
  readonly out: string;
  readonly threads: number;
  readonly help: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const names: string[] = [];
  let smoke = false;
  let timeMs: number | undefined;
  let out = join("results", "bench");
  let help = false;
  let threads = 1;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--smoke") smoke = true;
    else if (arg === "--help" || arg === "-h") help = true;
    else if (arg === "--threads") threads = parseThreads("bench", argv[++i]);
    else if (arg === "--time" || arg === "--out") {
      const value = argv[++i];
      if (value === undefined) throw new Error(`bench: ${arg} needs a value`);
      if (arg === "--out") out = value;
      else {
        timeMs = Number(value);
        if (!(timeMs > 0)) throw new Error(`bench: --time must be a positive number of milliseconds (got ${value})`);
      }
    } else if (arg.startsWith("--")) throw new Error(`bench: unknown option ${arg}`);
    else names.push(arg);
  }
  return { names, smoke, timeMs, out, threads, help };
}

function usage(): string {
  const list = SUITES.map((s) => `  ${s.name.padEnd(8)} ${s.description}`).join("\n");
  return `usage: pnpm bench <suite…|all> [--smoke] [--time MS] [--out DIR] [--threads N]\n\nsuites:\n${list}`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help || args.names.length === 0) {
    console.log(usage());
    return args.help ? 0 : 2;
  }
  const selected = args.names.includes("all")
    ? [...SUITES]
    : args.names.map((n) => SUITES.find((s) => s.name === n) ?? n);
  const unknown = selected.filter((s): s is string => typeof s === "string");
  if (unknown.length > 0) {
    console.error(`bench: unknown suite ${unknown.join(", ")}\n\n${usage()}`);
    return 2;
  }
  return withThreads(args.threads, () => runSuites(selected as Suite[], args));
}

async function runSuites(selected: readonly Suite[], args: Args): Promise<number> {
  let failures = 0;
  for (const suite of selected) {
    const timeMs = args.timeMs ?? (args.smoke ? 20 : 1000);
    const mode = `${args.smoke ? "smoke, " : ""}${args.threads > 1 ? `${args.threads} threads, ` : ""}time ${timeMs} ms/case`;
    console.log(`\n=== ${suite.name}: ${suite.description} (${mode})`);
    const loadBefore = loadavg()[0] as number;
    let records: BenchRecord[];
    try {
      records = await suite.run({ smoke: args.smoke, timeMs, log: (line) => console.log(line) });
    } catch (err) {
      console.error(`bench: suite ${suite.name} threw:`, err);
      failures++;
      continue;
    }
    const loadAfter = loadavg()[0] as number;
    console.log(`\n${formatTable(records)}`);
    // The machine may be shared: report the 1-minute load so noisy timings can be recognised.
    const cores = availableParallelism();
    const busy = Math.max(loadBefore, loadAfter) > cores / 2;
    console.log(
      `\nload average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)} on ${cores} cores${busy ? " (BUSY: timings are unreliable)" : ""}`,
    );
    const path = join(args.out, `${suite.name}.json`);
    writeJsonAtomic(path, records);
    const bad = records.filter(isFailure);
    failures += bad.length;
    console.log(`\n${records.length} records → ${path}${bad.length > 0 ? `; ${bad.length} FAILED validation` : ""}`);
  }
  return failures > 0 ? 1 : 0;
}

runMain(main);
