/**
 * The demo's outputs: the summary table (mean ± std over the seeds it ran), its claims as WIN / TIE /
 * LOSS verdicts (experiment/stats.ts `verdict`, against the seed spread recorded by
 * `pnpm experiment autoencoder` in packages/bench/seed-spread.json when it applies), and atomic file
 * writes (temporary file + rename, so a reader never sees half a file).
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  commonEpoch,
  epochsInBudget,
  lossesAtEpoch,
  meanStd,
  type VerdictResult,
  verdict,
} from "../experiment/stats.ts";
import type { BudgetRun } from "../experiment/train.ts";

export function writeTextAtomic(path: string, text: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export const NAMES: Readonly<Record<string, string>> = {
  sgd: "SGD + momentum",
  adam: "Adam",
  kfac: "KFAC",
  ekfac: "EKFAC",
};

const pm = (xs: readonly number[], digits: number) => {
  const s = meanStd(xs);
  return xs.length > 1 ? `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}` : s.mean.toFixed(digits);
};

/** One row per optimizer: final train/test loss (mean ± std over seeds), epochs, ms/step, eigendecomposition share. */
export function formatSummaryTable(results: Readonly<Record<string, readonly BudgetRun[]>>): string {
  const header = [
    "optimizer",
    "final train loss",
    "test loss",
    "epochs in budget",
    "ms/step",
    "eigendecomp share",
    "refreshes",
  ];
  const rows = Object.entries(results).map(([name, runs]) => [
    NAMES[name] ?? name,
    pm(
      runs.map((r) => r.finalTrainLoss),
      3,
    ),
    pm(
      runs.map((r) => r.testLoss),
      3,
    ),
    meanStd(runs.map(epochsInBudget)).mean.toFixed(2),
    meanStd(runs.map((r) => r.msPerStep)).mean.toFixed(1),
    `${(100 * meanStd(runs.map((r) => r.eigenShare)).mean).toFixed(1)} %`,
    meanStd(runs.map((r) => r.basisRefreshes)).mean.toFixed(0),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] as string).length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

export interface Claim {
  readonly claim: string;
  readonly result: VerdictResult;
  /** Where the spread the difference was measured against came from. */
  readonly detail: string;
}

/**
 * The demo's claims, each "a lower than b" as a WIN / TIE / LOSS verdict: EKFAC vs KFAC at equal
 * wall-clock (final training loss) and at equal epochs (curve loss at the fewest epochs either got
 * through in the budget); EKFAC vs Adam and EKFAC and KFAC vs SGD + momentum at equal wall-clock.
 * `recorded(name)`: the std of that optimizer's final training loss over the seeds of the full
 * protocol (null when none applies); the larger of the two sides' recorded spreads is the floor.
 */
export function demoClaims(
  results: Readonly<Record<string, readonly BudgetRun[]>>,
  recorded: (name: string) => number | null,
): Claim[] {
  const out: Claim[] = [];
  const finals = (runs: readonly BudgetRun[]) => runs.map((r) => r.finalTrainLoss);
  const add = (a: string, b: string, mode: "time" | "epochs") => {
    const ra = results[a];
    const rb = results[b];
    if (ra === undefined || rb === undefined) return;
    const ka = recorded(a);
    const kb = recorded(b);
    const floor = Math.max(ka ?? 0, kb ?? 0);
    const seeds = Math.min(ra.length, rb.length);
    const source =
      ka !== null && kb !== null
        ? `spread recorded by pnpm experiment autoencoder: ${ka.toFixed(2)} / ${kb.toFixed(2)}`
        : seeds > 1
          ? "this run's seed spread only (no recorded spread for this setting)"
          : "1 seed and no recorded spread for this setting: any difference decides, a TIE cannot show";
    if (mode === "time") {
      out.push({
        claim: `${NAMES[a]} < ${NAMES[b]} at equal wall-clock`,
        result: verdict(finals(ra), finals(rb), floor),
        detail: source,
      });
    } else {
      const e = commonEpoch(ra, rb);
      out.push({
        claim: `${NAMES[a]} < ${NAMES[b]} at equal epochs (epoch ${e.toFixed(e >= 1 ? 0 : 2)})`,
        result: verdict(lossesAtEpoch(ra, e), lossesAtEpoch(rb, e), floor),
        detail: source,
      });
    }
  };
  add("ekfac", "kfac", "time");
  add("ekfac", "kfac", "epochs");
  add("ekfac", "adam", "time");
  add("ekfac", "sgd", "time");
  add("kfac", "sgd", "time");
  return out;
}

export function formatClaim(c: Claim): string {
  const r = c.result;
  return `${r.verdict.padEnd(4)}  ${c.claim}   (${r.meanA.toFixed(2)} vs ${r.meanB.toFixed(2)}, spread ${r.spread.toFixed(2)}; ${c.detail})`;
}
