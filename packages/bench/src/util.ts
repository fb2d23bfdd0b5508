/**
 * Small helpers shared by the bench suites: a median-of-runs timer, residuals, the table printer and an
 * atomic JSON writer. Benchmarks may use Node APIs; library packages may not.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { BenchRecord } from "./harness.ts";

export interface TimingOptions {
  /** Keep repeating until this much time has been spent (after warm-up). */
  readonly timeMs: number;
  readonly minRuns?: number;
  readonly maxRuns?: number;
  /** Untimed calls first (JIT warm-up, workspace growth). */
  readonly warmup?: number;
}

export interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runs: number;
}

/**
 * Median wall time of `fn` over repeated runs. A manual loop rather than tinybench: the slow cases
 * (1024³ in pure JS takes ~0.5–3 s) need a few whole runs, not tinybench's many short samples.
 */
export function timeIt(fn: () => void, options: TimingOptions): Timing {
  const warmup = options.warmup ?? 1;
  const minRuns = options.minRuns ?? 3;
  const maxRuns = options.maxRuns ?? 50;
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || (times.length < maxRuns && performance.now() - start < options.timeMs)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { medianMs: median(times), minMs: times[0] as number, runs: times.length };
}

/** What {@link timeInterleaved} measured for one of its functions. */
export interface InterleavedTiming extends Timing {
  /** Median over rounds of (this function's time / the first function's time in the same round). */
  readonly medianRatioToFirst: number;
}

/**
 * Median wall times of several functions timed in rounds — each round calls every function once, in
 * order — so that a host whose speed drifts (a shared machine: 2× swings within a minute were seen)
 * slows all of them alike. Ratios are taken per round against `fns[0]` and their median reported:
 * the paired comparison is what the bench's "× SGD" columns need. Stops after `timeMs` per function
 * (and at least `minRuns`, at most `maxRuns` rounds).
 */
export function timeInterleaved(fns: readonly (() => void)[], options: TimingOptions): InterleavedTiming[] {
  const warmup = options.warmup ?? 1;
  const minRuns = options.minRuns ?? 3;
  const maxRuns = options.maxRuns ?? 50;
  for (let i = 0; i < warmup; i++) for (const fn of fns) fn();
  const times: number[][] = fns.map(() => []);
  const start = performance.now();
  let rounds = 0;
  while (rounds < minRuns || (rounds < maxRuns && performance.now() - start < options.timeMs * fns.length)) {
    fns.forEach((fn, i) => {
      const t0 = performance.now();
      fn();
      (times[i] as number[]).push(performance.now() - t0);
    });
    rounds++;
  }
  const first = times[0] as number[];
  return times.map((t) => {
    const ratios = t.map((v, r) => v / (first[r] as number));
    return { medianMs: median(t), minMs: Math.min(...t), runs: t.length, medianRatioToFirst: median(ratios) };
  });
}

export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** ‖x − y‖_F / ‖y‖_F in double (NaN if either holds a NaN). */
export function relativeResidual(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) return Number.NaN;
  let d = 0;
  let r = 0;
  for (let i = 0; i < x.length; i++) {
    const a = x[i] as number;
    const b = y[i] as number;
    d += (a - b) * (a - b);
    r += b * b;
  }
  return r > 0 ? Math.sqrt(d / r) : Math.sqrt(d);
}

export function hasNaN(x: ArrayLike<number>): boolean {
  for (let i = 0; i < x.length; i++) if (Number.isNaN(x[i])) return true;
  return false;
}

/** A record marks a failed validation with `ok: false`; the CLI exits non-zero if any does. */
export function isFailure(r: BenchRecord): boolean {
  return r.ok === false;
}

const fmt = (v: unknown, digits: number): string =>
  typeof v === "number" && Number.isFinite(v) ? v.toFixed(digits) : v === undefined ? "" : String(v);

/** The per-suite table: impl, case, shape, median ms, GFLOP/s, ratio vs ours, check. */
export function formatTable(records: readonly BenchRecord[]): string {
  const header = ["impl", "case", "shape", "median ms", "GFLOP/s", "ratio vs ours", "check"];
  const rows = records.map((r) => [
    r.impl,
    r.case,
    r.shape,
    fmt(r.median_ms, 2),
    fmt(r.gflops, 2),
    fmt(r.ratio_vs_ours, 2),
    `${isFailure(r) ? "FAIL " : ""}${r.check}`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c >= 3 && c <= 5 ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number)))
      .join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** Writes JSON through a temporary file and a rename, so readers never see a half-written file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Runs a CLI's async `main` and sets the exit code from it (2 with the message when it throws). */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exitCode = 2;
    },
  );
}
