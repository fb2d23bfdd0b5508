/**
 * What `pnpm experiment` writes: the verdict table (stats.ts `verdict`), the markdown report, the
 * loss plots with spread bands, and the seed-spread file the demo reads.
 */
import { linePlot, type Series } from "../plot/svg.ts";
import type { NetworkResult, VariantResult } from "./protocol.ts";
import {
  band,
  commonEpoch,
  epochsInBudget,
  grid,
  lossesAtEpoch,
  meanStd,
  VERDICT_RULE,
  type VerdictResult,
  verdict,
} from "./stats.ts";
import type { BudgetRun } from "./train.ts";

/** The comparisons printed: each EKFAC variant against every KFAC variant, Adam and SGD. */
export const VERDICT_TARGETS = ["kfac-10", "kfac-20", "kfac-100", "kfac-default", "adam", "sgd"];

export interface VerdictRow {
  readonly a: string;
  readonly b: string;
  /** Final training loss at the end of the equal wall-clock budget. */
  readonly time: VerdictResult;
  /** Training-curve loss at the same epoch for both (the fewest any of their runs reached). */
  readonly epochs: { readonly epoch: number; readonly result: VerdictResult };
  /** Test accuracy at the end of the budget ("a is higher"), classifiers only. */
  readonly accuracy: VerdictResult | null;
}

export function verdictRows(net: NetworkResult, floor: (id: string) => number = () => 0): VerdictRow[] {
  const by = new Map(net.variants.map((v) => [v.id, v]));
  const rows: VerdictRow[] = [];
  const finals = (v: VariantResult) => v.runs.map((r) => r.finalTrainLoss);
  for (const a of net.variants.filter((v) => v.config.name === "ekfac")) {
    for (const id of VERDICT_TARGETS) {
      const b = by.get(id);
      if (b === undefined) continue;
      const spread = Math.max(floor(a.id), floor(b.id));
      const epoch = commonEpoch(a.runs, b.runs);
      const at = (v: VariantResult) => lossesAtEpoch(v.runs, epoch);
      const acc = (v: VariantResult) => v.runs.map((r) => -(r.testAccuracy ?? Number.NaN));
      const accuracy = net.classifier ? verdict(acc(a), acc(b)) : null;
      rows.push({
        a: a.id,
        b: b.id,
        time: verdict(finals(a), finals(b), spread),
        epochs: { epoch, result: verdict(at(a), at(b), spread) },
        accuracy,
      });
    }
  }
  return rows;
}

const num = (x: number) => (!Number.isFinite(x) ? String(x) : Math.abs(x) >= 10 ? x.toFixed(2) : x.toFixed(4));
const pm = (xs: readonly number[]) => {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return "diverged";
  const s = meanStd(finite);
  const lost = xs.length - finite.length;
  return `${num(s.mean)} ± ${num(s.std)}${lost > 0 ? ` (${lost} diverged)` : ""}`;
};

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}

const AXIS_NAMES: Record<string, string> = {
  learningRate: "η",
  damping: "ε (damping)",
  oneMinusMomentum: "1 − μ",
  adamEps: "Adam ε",
};

const axisValue = (x: number) => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential(0) : String(x));

function gridTable(v: VariantResult): string {
  const [rowAxis, colAxis] = Object.keys(v.axes);
  if (rowAxis === undefined) return "";
  const rows = v.axes[rowAxis] ?? [];
  const cols = colAxis === undefined ? [Number.NaN] : (v.axes[colAxis] ?? []);
  const lossOf = (r: number, c: number) =>
    v.grid.find((g) => g.point[rowAxis] === r && (colAxis === undefined || g.point[colAxis] === c))?.loss;
  const chosen = (r: number, c: number) =>
    (v.config as unknown as Record<string, number>)[rowAxis === "oneMinusMomentum" ? "momentum" : rowAxis] ===
      (rowAxis === "oneMinusMomentum" ? Number((1 - r).toPrecision(12)) : r) &&
    (colAxis === undefined ||
      (v.config as unknown as Record<string, number>)[colAxis === "oneMinusMomentum" ? "momentum" : colAxis] ===
        (colAxis === "oneMinusMomentum" ? Number((1 - c).toPrecision(12)) : c));
  const header = [
    `${AXIS_NAMES[rowAxis] ?? rowAxis} \\ ${colAxis === undefined ? "" : (AXIS_NAMES[colAxis] ?? colAxis)}`,
    ...cols.map((c) => (Number.isNaN(c) ? "loss" : axisValue(c))),
  ];
  const body = rows.map((r) => [
    axisValue(r),
    ...cols.map((c) => {
      const l = lossOf(r, c);
      if (l === undefined) return "–";
      return chosen(r, c) ? `**${num(l)}**` : num(l);
    }),
  ]);
  return table(header, body);
}

export interface ReportMeta {
  readonly problem: string;
  readonly date: string;
  readonly machine: string;
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  readonly data: string;
  readonly budget: number;
  readonly seeds: readonly number[];
  readonly quick: boolean;
  readonly totalSeconds: number;
  readonly command: string;
}

export function plotName(kind: "seconds" | "epoch", net: NetworkResult, many: boolean): string {
  return `loss-vs-${kind === "seconds" ? "seconds" : "epoch"}${many ? `-${net.id}` : ""}.svg`;
}

export function lossPlotsWithBands(
  net: NetworkResult,
  budget: number,
  seedCount: number,
): { seconds: string; epoch: string } {
  const series = (key: "seconds" | "epoch"): Series[] =>
    net.variants.map((v) => {
      const ok = v.runs.filter((r) => r.error === undefined);
      const hi = key === "seconds" ? budget : Math.min(...ok.map(epochsInBudget));
      const b =
        ok.length > 0 && hi > 0
          ? band(
              ok.map((r) => r.curve),
              key,
              grid(0, hi, 60),
            )
          : [];
      return {
        name: `${v.label}${ok.length < v.runs.length ? ` (${v.runs.length - ok.length} diverged)` : ""}`,
        points: b.map((p) => [p.x, p.mean] as const),
        band: b.map((p) => [p.x, p.mean - p.std, p.mean + p.std] as const),
        dashed: v.config.name === "kfac" || v.id === "sgd",
      };
    });
  const sub = `${net.id}, ${seedCount === 1 ? "1 seed" : `${seedCount} seeds, mean ± std`}`;
  return {
    seconds: linePlot({
      title: `Training loss vs wall-clock (${budget} s budget) — ${sub}`,
      xLabel: "wall-clock seconds (training steps only)",
      yLabel: `training loss (${net.lossUnit})`,
      series: series("seconds"),
      logY: true,
      xMin: 0,
      xMax: budget,
    }),
    epoch: linePlot({
      title: `Training loss vs epochs (within the budget) — ${sub}`,
      xLabel: "epoch",
      yLabel: `training loss (${net.lossUnit})`,
      series: series("epoch"),
      logY: true,
    }),
  };
}

export function markdownReport(meta: ReportMeta, nets: readonly NetworkResult[], floor?: (id: string) => number) {
  const many = nets.length > 1;
  const L: string[] = [];
  L.push(`# Equal-time experiment: ${meta.problem}${meta.quick ? " (--quick smoke run: not a result)" : ""}`, "");
  L.push(`Command: \`${meta.command}\`. Date ${meta.date}; total ${(meta.totalSeconds / 60).toFixed(1)} min.`, "");
  L.push(
    `Machine: ${meta.machine}; load average (1, 5, 15 min) ${meta.loadStart.map((x) => x.toFixed(2)).join(", ")} at the start, ${meta.loadEnd.map((x) => x.toFixed(2)).join(", ")} at the end.`,
    "",
    `Data: ${meta.data}.`,
    "",
  );
  L.push(
    "## Protocol",
    "",
    `- Budget: ${meta.budget} s of training steps per run (forward, backward, optimizer; evaluations excluded), the same for every optimizer; the run stops at the first step that ends past it and its curve is cut at the budget.`,
    `- Seeds ${meta.seeds.join(", ")} (${meta.seeds.length}): per seed, the same initial weights and the same minibatch sequence (a fresh permutation every epoch) for every optimizer.`,
    `- Tuning: each tuned optimizer gets a grid of the same size, searched on seed ${meta.seeds[0]} at the full budget by the final training loss; an axis whose best value sits on an edge is extended (η ×/÷ 3, ε ×/÷ 10, Adam ε ×/÷ 100, 1 − μ ×/÷ 3; at most twice per axis). KFAC/EKFAC "defaults" set no learning rate (the library's adaptive step control) and are not tuned.`,
    "- Final training loss: the whole training subset in eval mode after the last step; test loss/accuracy on the held-out split. Mean ± sample std (n − 1) over the seeds.",
    `- Verdicts: ${VERDICT_RULE}. "a vs b" is the claim "a lower than b" (higher for accuracy). At equal time on the final training loss; at equal epochs on the training-curve loss at the fewest epochs any run of the pair reached within the budget (whole epochs when ≥ 1).`,
    "",
  );
  for (const net of nets) {
    const h = many ? "###" : "##";
    if (many) L.push(`## ${net.id}: ${net.label}`, "");
    else L.push(`Network: ${net.label}.`, "");
    L.push(`${h} Final losses (${meta.budget} s budget, ${meta.seeds.length} seeds)`, "");
    const header = [
      "optimizer",
      "setting",
      `final train loss (${net.lossUnit})`,
      "test loss",
      ...(net.classifier ? ["test accuracy"] : []),
      "epochs in budget",
    ];
    const rows = net.variants.map((v) => {
      const { name: _n, ...setting } = v.config;
      return [
        v.label,
        `\`${JSON.stringify(setting)}\``,
        pm(v.runs.map((r) => r.finalTrainLoss)),
        pm(v.runs.map((r) => r.testLoss)),
        ...(net.classifier ? [pm(v.runs.map((r) => r.testAccuracy ?? Number.NaN))] : []),
        num(meanStd(v.runs.map(epochsInBudget)).mean),
      ];
    });
    L.push(table(header, rows), "");
    L.push(`${h} Verdicts`, "");
    const vr = verdictRows(net, floor);
    const label = (id: string) => net.variants.find((v) => v.id === id)?.label ?? id;
    L.push(
      table(
        [
          "claim: a lower than b",
          "equal time: a vs b (final train loss)",
          "verdict",
          "equal epochs: epoch, a vs b (curve loss)",
          "verdict",
          ...(net.classifier ? ["test accuracy a vs b", "verdict (higher)"] : []),
        ],
        vr.map((r) => [
          `${label(r.a)} vs ${label(r.b)}`,
          `${num(r.time.meanA)} ± ${num(r.time.stdA)} vs ${num(r.time.meanB)} ± ${num(r.time.stdB)}`,
          `**${r.time.verdict}**`,
          `${Number.isInteger(r.epochs.epoch) ? r.epochs.epoch : r.epochs.epoch.toFixed(2)}: ${num(r.epochs.result.meanA)} vs ${num(r.epochs.result.meanB)}`,
          `**${r.epochs.result.verdict}**`,
          ...(r.accuracy === null
            ? []
            : [`${num(-r.accuracy.meanA)} vs ${num(-r.accuracy.meanB)}`, `**${r.accuracy.verdict}**`]),
        ]),
      ),
      "",
    );
    L.push(`${h} Step time`, "");
    L.push(
      table(
        ["optimizer", "ms/step", "eigendecomposition share", "basis refreshes", "steps in budget"],
        net.variants.map((v) => {
          const ok = v.runs.filter((r) => r.error === undefined);
          const m = (f: (r: BudgetRun) => number) => meanStd(ok.map(f)).mean;
          return ok.length === 0
            ? [v.label, "–", "–", "–", "–"]
            : [
                v.label,
                m((r) => r.msPerStep).toFixed(1),
                `${(100 * m((r) => r.eigenShare)).toFixed(1)} %`,
                m((r) => r.basisRefreshes).toFixed(0),
                m((r) => r.steps).toFixed(0),
              ];
        }),
      ),
      "",
    );
    L.push(`${h} Grids (seed ${meta.seeds[0]}, final training loss at the full budget; chosen in bold)`, "");
    for (const v of net.variants) {
      if (v.grid.length === 0) continue;
      L.push(
        `**${v.label}**${v.edge.length > 0 ? ` — still on the edge of ${v.edge.map((e) => AXIS_NAMES[e] ?? e).join(", ")} after the extensions` : ""}:`,
        "",
        gridTable(v),
        "",
      );
    }
    L.push(
      `![training loss vs seconds](${plotName("seconds", net, many)})`,
      `![training loss vs epochs](${plotName("epoch", net, many)})`,
      "",
    );
  }
  return `${L.join("\n")}\n`;
}

/** The seed spread the demo reads: per demo optimizer, the experiment variant it matches. */
export const DEMO_VARIANTS: Readonly<Record<string, string>> = {
  sgd: "sgd",
  adam: "adam",
  kfac: "kfac-100",
  ekfac: "ekfac-100",
};

export interface SeedSpread {
  readonly problem: string;
  readonly date: string;
  readonly machine: string;
  readonly budgetSeconds: number;
  readonly seeds: readonly number[];
  readonly rule: string;
  readonly optimizers: Readonly<
    Record<
      string,
      { readonly variant: string; readonly config: unknown; readonly finalTrainLoss: { mean: number; std: number } }
    >
  >;
}

export function seedSpread(meta: ReportMeta, net: NetworkResult): SeedSpread {
  const optimizers: Record<string, SeedSpread["optimizers"][string]> = {};
  for (const [name, id] of Object.entries(DEMO_VARIANTS)) {
    const v = net.variants.find((x) => x.id === id);
    if (v === undefined) continue;
    optimizers[name] = {
      variant: id,
      config: v.config,
      finalTrainLoss: meanStd(v.runs.map((r) => r.finalTrainLoss)),
    };
  }
  return {
    problem: meta.problem,
    date: meta.date,
    machine: meta.machine,
    budgetSeconds: meta.budget,
    seeds: meta.seeds,
    rule: VERDICT_RULE,
    optimizers,
  };
}
