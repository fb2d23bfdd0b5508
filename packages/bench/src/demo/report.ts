/**
 * The demo's outputs: the summary table, the acceptance comparisons (EKFAC vs KFAC at equal epochs
 * and at equal wall-clock; both vs SGD + momentum at equal epochs), the loss plots, and atomic file
 * writes (temporary file + rename, so a reader never sees half a file).
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { linePlot } from "../plot/svg.ts";
import type { CurvePoint, RunResult } from "./experiment.ts";

export function writeTextAtomic(path: string, text: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function formatSummaryTable(results: readonly RunResult[]): string {
  const header = [
    "optimizer",
    "final train loss",
    "test loss",
    "wall-clock s",
    "ms/step",
    "eigendecomp s",
    "refreshes",
  ];
  const rows = results.map((r) => [
    r.optimizer,
    r.finalTrainLoss.toFixed(3),
    r.testLoss.toFixed(3),
    r.wallSeconds.toFixed(1),
    r.msPerStep.toFixed(1),
    r.eigenSeconds.toFixed(1),
    String(r.basisRefreshes),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] as string).length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => (c === 0 ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** Loss at `x` by linear interpolation of log(loss) along `key` (NaN outside the curve). */
export function lossAt(curve: readonly CurvePoint[], key: "epoch" | "seconds", x: number): number {
  for (let i = 1; i < curve.length; i++) {
    const p = curve[i - 1] as CurvePoint;
    const q = curve[i] as CurvePoint;
    if (x >= p[key] && x <= q[key]) {
      const t = q[key] === p[key] ? 1 : (x - p[key]) / (q[key] - p[key]);
      return Math.exp((1 - t) * Math.log(p.trainLoss) + t * Math.log(q.trainLoss));
    }
  }
  return Number.NaN;
}

export interface Comparison {
  readonly claim: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** `a` below `b` at every whole epoch, and at equal wall-clock at the end of the shorter run. */
export function compareRuns(results: readonly RunResult[], epochs: number): Comparison[] {
  const by = (name: string) => results.find((r) => r.optimizer === name);
  const out: Comparison[] = [];
  const perEpoch = (a: RunResult, b: RunResult) => {
    const wins: string[] = [];
    let all = true;
    for (let e = 1; e <= epochs; e++) {
      const la = lossAt(a.curve, "epoch", e);
      const lb = lossAt(b.curve, "epoch", e);
      if (!(la < lb)) all = false;
      wins.push(`e${e}: ${la.toFixed(2)} vs ${lb.toFixed(2)}`);
    }
    return { all, detail: wins.join(", ") };
  };
  const ek = by("ekfac");
  const kf = by("kfac");
  const sg = by("sgd");
  if (ek && kf) {
    const pe = perEpoch(ek, kf);
    out.push({ claim: "EKFAC < KFAC at every epoch", holds: pe.all, detail: pe.detail });
    // Equal wall-clock: sample both curves at 4 times up to the end of the shorter run.
    const tEnd = Math.min(ek.wallSeconds, kf.wallSeconds);
    const samples: string[] = [];
    let all = true;
    for (const f of [0.25, 0.5, 0.75, 1]) {
      const t = f * tEnd;
      const le = lossAt(ek.curve, "seconds", t);
      const lk = lossAt(kf.curve, "seconds", t);
      if (!(le < lk)) all = false;
      samples.push(`${t.toFixed(0)}s: ${le.toFixed(2)} vs ${lk.toFixed(2)}`);
    }
    out.push({ claim: "EKFAC < KFAC at equal wall-clock", holds: all, detail: samples.join(", ") });
  }
  for (const c of [kf, ek]) {
    if (c && sg) {
      const pe = perEpoch(c, sg);
      out.push({
        claim: `${c.optimizer.toUpperCase()} < SGD+momentum at every epoch`,
        holds: pe.all,
        detail: pe.detail,
      });
    }
  }
  return out;
}

const NAMES: Record<string, string> = { sgd: "SGD + momentum", adam: "Adam", kfac: "KFAC", ekfac: "EKFAC" };

export function lossPlots(results: readonly RunResult[], subtitle: string): { epochs: string; seconds: string } {
  const series = (key: "epoch" | "seconds") =>
    results.map((r) => ({
      name: NAMES[r.optimizer] ?? r.optimizer,
      points: r.curve.map((p) => [p[key], p.trainLoss] as const),
    }));
  return {
    epochs: linePlot({
      title: `Training loss vs epochs — ${subtitle}`,
      xLabel: "epoch",
      yLabel: "training loss (nats / image)",
      series: series("epoch"),
      logY: true,
    }),
    seconds: linePlot({
      title: `Training loss vs wall-clock — ${subtitle}`,
      xLabel: "wall-clock seconds (training steps only)",
      yLabel: "training loss (nats / image)",
      series: series("seconds"),
      logY: true,
    }),
  };
}
