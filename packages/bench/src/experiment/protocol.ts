/**
 * The equal-time, multi-seed protocol of `pnpm experiment` (issue 15), per network:
 *   1. tuning: each tuned variant's grid (problems.ts) is searched on seed 1, every point trained for
 *      the FULL budget and scored by its final training loss (whole training subset, eval mode); an
 *      axis whose best value sits on an edge is extended (grid.ts `searchGrid`, ≤ 2 times per axis);
 *   2. seeds: the chosen setting (and each library-default variant, untuned) runs on seeds 1…N, the
 *      same budget, the same initial weights and minibatch sequence per seed for every variant. Seed 1
 *      of a tuned variant is its grid run at the chosen point (the same computation).
 */
import type { ImageSet } from "../data/mnist.ts";
import type { OptimizerConfig } from "../demo/trainer.ts";
import { searchGrid } from "./grid.ts";
import { configAt, type Network, type Problem, type Variant, variants } from "./problems.ts";
import { type BudgetRun, runForBudget } from "./train.ts";

export interface GridPoint {
  readonly point: Readonly<Record<string, number>>;
  readonly loss: number;
}

export interface VariantResult {
  readonly id: string;
  readonly label: string;
  readonly config: OptimizerConfig;
  /** Empty for the untuned library-default variants. */
  readonly grid: readonly GridPoint[];
  /** The axes after extension. */
  readonly axes: Readonly<Record<string, readonly number[]>>;
  /** Axes whose chosen value is still on an edge after the extensions ran out. */
  readonly edge: readonly string[];
  readonly runs: readonly BudgetRun[];
}

export interface NetworkResult {
  readonly id: string;
  readonly label: string;
  readonly lossUnit: string;
  readonly classifier: boolean;
  readonly variants: readonly VariantResult[];
}

export interface ProtocolOptions {
  readonly seeds: readonly number[];
  readonly budget: number;
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

const fmtRun = (r: BudgetRun) =>
  `${Number.isFinite(r.finalTrainLoss) ? r.finalTrainLoss.toFixed(4) : `diverged (${r.error ?? "?"})`}` +
  `${r.testAccuracy !== null ? `, test acc ${r.testAccuracy.toFixed(4)}` : ""}, ${r.epochs.toFixed(2)} epochs, ${r.msPerStep.toFixed(1)} ms/step`;

export function runNetwork(
  p: Problem,
  network: Network,
  data: { train: ImageSet; test: ImageSet },
  o: ProtocolOptions,
): NetworkResult {
  const run = (config: OptimizerConfig, seed: number) =>
    runForBudget({
      network,
      config,
      seed,
      budget: o.budget,
      train: data.train,
      test: data.test,
      curveExamples: p.curveExamples,
      evalChunk: p.evalChunk,
    });
  const out: VariantResult[] = [];
  for (const v of variants(p, o.quick)) out.push(runVariant(v, run, network.id, o));
  return {
    id: network.id,
    label: network.label,
    lossUnit: network.lossUnit,
    classifier: network.task.kind === "classifier",
    variants: out,
  };
}

function runVariant(
  v: Variant,
  run: (config: OptimizerConfig, seed: number) => BudgetRun,
  net: string,
  o: ProtocolOptions,
): VariantResult {
  const log = (s: string) => o.log(`[${net}] ${v.label} ${s}`);
  const names = Object.keys(v.axes);
  const first = o.seeds[0] ?? 1;
  let config = v.base;
  let grid: GridPoint[] = [];
  let edge: string[] = [];
  const axes: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [...(v.axes[n] ?? [])]]));
  const memo = new Map<string, BudgetRun>();
  if (names.length > 0) {
    const search = searchGrid(axes, { ...v.factors }, o.quick ? 0 : 2, (point) => {
      const c = configAt(v, point);
      const r = run(c, first);
      memo.set(JSON.stringify(c), r);
      log(`grid ${names.map((n) => `${n} ${point[n]}`).join(", ")}: ${fmtRun(r)}`);
      return r.finalTrainLoss;
    });
    config = configAt(v, search.best);
    grid = search.tried;
    edge = search.edge;
    log(`chose ${JSON.stringify(config)}${edge.length > 0 ? ` (still on the edge of ${edge.join(", ")})` : ""}`);
  }
  const runs = o.seeds.map((seed) => {
    const reused = seed === first ? memo.get(JSON.stringify(config)) : undefined;
    const r = reused ?? run(config, seed);
    if (reused === undefined) log(`seed ${seed}: ${fmtRun(r)}`);
    return r;
  });
  return { id: v.id, label: v.label, config, grid, axes, edge, runs };
}
