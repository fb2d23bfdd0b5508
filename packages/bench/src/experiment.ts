/**
 * `pnpm experiment <autoencoder|classifier|cnn> [--seeds N] [--budget S] [--quick]` — the equal-time,
 * multi-seed protocol of issue 15 with fairly tuned baselines (experiment/protocol.ts): every
 * optimizer gets the same wall-clock budget of training steps, the same initial weights and minibatch
 * sequence per seed, a same-size grid tuned on seed 1 at the full budget, and is reported as
 * mean ± std over the seeds with WIN / TIE / LOSS verdicts (experiment/stats.ts `verdict`).
 *
 * Writes results/experiment-<problem>/{report.md, results.json, loss-vs-seconds.svg,
 * loss-vs-epoch.svg} (the cnn problem: one pair of plots per network, suffixed -vgg / -resnet), all
 * atomically. `--network ID` runs one network of the problem (into results/experiment-<problem>-<ID>),
 * so that the cnn problem's two networks can run side by side, one per core. `pnpm experiment autoencoder` (without --quick) also updates packages/bench/seed-spread.json,
 * the spread the demo's verdicts are measured against.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { benchRoot, head, mnistPackageSplit } from "./data/mnist.ts";
import { writeTextAtomic } from "./demo/report.ts";
import { PROBLEM_NAMES, type ProblemName, problem } from "./experiment/problems.ts";
import { type NetworkResult, runNetwork } from "./experiment/protocol.ts";
import {
  lossPlotsWithBands,
  markdownReport,
  plotName,
  type ReportMeta,
  seedSpread,
  verdictRows,
} from "./experiment/report.ts";
import { VERDICT_RULE } from "./experiment/stats.ts";
import { runMain } from "./util.ts";

const USAGE = `usage: pnpm experiment <${PROBLEM_NAMES.join("|")}> [flags]

  --seeds N      seeds 1…N for the chosen settings (default 5; tuning always on seed 1)
  --budget S     wall-clock seconds of training steps per run (default per problem:
                 autoencoder 30, classifier 10, cnn 20)
  --network ID   only this network of the problem (cnn: vgg or resnet); default every network. Output
                 results/experiment-<problem>-<ID>: two networks can run side by side, one per core
  --quick        smoke test: tiny networks and data, a 1-point grid, 2 seeds, a 1 s budget (cnn 0.5 s)
  --out DIR      output folder (default results/experiment-<problem>, with --quick …-<problem>-quick)
  --replot       no training: re-render report.md and the plots from the folder's results.json

Each tuned optimizer (SGD + momentum, Adam, KFAC T_kfe 10/20/100, EKFAC T_kfe 20/100) gets a 3×3 grid
(edges extended) run at the full budget on seed 1; with the library defaults KFAC and EKFAC are
untuned. A full run trains ≈ 7 × 9 + 9 × (N − 1) budgets: with the defaults about 2 h (autoencoder),
25 min (classifier), 1.5 h per cnn network (two side by side, one per core) on 2 cores.`;

interface Args {
  problem: ProblemName;
  seeds: number | null;
  budget: number | null;
  quick: boolean;
  replot: boolean;
  out: string | null;
  network: string | null;
}

function parseArgs(argv: readonly string[]): Args | null {
  if (argv.includes("--help") || argv.includes("-h")) return null;
  const [name, ...rest] = argv;
  if (!(PROBLEM_NAMES as readonly string[]).includes(name ?? "")) {
    throw new RangeError(
      `experiment: the first argument is one of ${PROBLEM_NAMES.join(", ")} (got ${String(name)})\n\n${USAGE}`,
    );
  }
  const a: Args = {
    problem: name as ProblemName,
    seeds: null,
    budget: null,
    quick: false,
    replot: false,
    out: null,
    network: null,
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    if (flag === "--quick" || flag === "--replot") {
      a[flag === "--quick" ? "quick" : "replot"] = true;
      continue;
    }
    const v = rest[++i];
    const x = Number(v);
    switch (flag) {
      case "--seeds":
        if (!(Number.isInteger(x) && x >= 1))
          throw new RangeError(`experiment: --seeds needs a positive integer (got ${String(v)})`);
        a.seeds = x;
        break;
      case "--budget":
        if (!(Number.isFinite(x) && x > 0))
          throw new RangeError(`experiment: --budget needs positive seconds (got ${String(v)})`);
        a.budget = x;
        break;
      case "--out":
        if (v === undefined) throw new RangeError("experiment: --out needs a directory");
        a.out = v;
        break;
      case "--network": {
        const ids = problem(a.problem, false).networks.map((n) => n.id);
        if (v === undefined || !ids.includes(v)) {
          throw new RangeError(`experiment: --network is one of ${ids.join(", ")} for ${a.problem} (got ${String(v)})`);
        }
        a.network = v;
        break;
      }
      default:
        throw new RangeError(`experiment: unknown flag ${flag}\n\n${USAGE}`);
    }
  }
  return a;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args === null) {
    console.log(USAGE);
    return 0;
  }
  // A smoke run never overwrites a full one.
  const name = `${args.problem}${args.network === null ? "" : `-${args.network}`}`;
  const out = args.out ?? join("results", `experiment-${name}${args.quick ? "-quick" : ""}`);
  if (args.replot) {
    const { meta, nets } = readResults(join(out, "results.json"));
    writeOutputs(meta, nets, out);
    console.log(`re-rendered ${out}/report.md and the plots from results.json`);
    return 0;
  }
  const started = new Date();
  const t0 = performance.now();
  const loadStart = loadavg();
  const p = problem(args.problem, args.quick);
  const budget = args.budget ?? p.budget;
  const seeds = Array.from({ length: args.seeds ?? (args.quick ? 2 : 5) }, (_, i) => i + 1);
  const split = mnistPackageSplit(1, 8000);
  const data = { train: head(split.train, p.trainCount), test: head(split.test, p.testCount) };
  const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? "unknown CPU"}), Node ${process.version}`;
  const source = `${split.source}; first ${data.train.count} train / ${data.test.count} test digits used`;
  console.log(
    `experiment ${name}: budget ${budget} s, seeds ${seeds.join(",")}; ${machine}; load ${loadStart[0]?.toFixed(2)}`,
  );
  const nets: NetworkResult[] = [];
  for (const network of p.networks.filter((n) => args.network === null || n.id === args.network)) {
    nets.push(runNetwork(p, network, data, { seeds, budget, quick: args.quick, log: (s) => console.log(s) }));
  }
  const argv = process.argv.slice(2).join(" ");
  const meta: ReportMeta = {
    problem: args.problem,
    date: started.toISOString(),
    machine,
    loadStart,
    loadEnd: loadavg(),
    data: source,
    budget,
    seeds,
    quick: args.quick,
    totalSeconds: (performance.now() - t0) / 1000,
    command: `pnpm experiment ${argv}`,
  };
  const report = writeOutputs(meta, nets, out);
  const json = { ...meta, verdictRule: VERDICT_RULE, networks: nets.map((n) => ({ ...n, verdicts: verdictRows(n) })) };
  writeTextAtomic(join(out, "results.json"), `${JSON.stringify(json, null, 1)}\n`);
  if (args.problem === "autoencoder" && !args.quick) {
    const spreadPath = join(benchRoot(), "seed-spread.json");
    writeTextAtomic(spreadPath, `${JSON.stringify(seedSpread(meta, nets[0] as NetworkResult), null, 2)}\n`);
    console.log(`updated ${spreadPath}`);
  }
  console.log(`\n${report}`);
  console.log(`wrote ${out}/report.md, results.json and the plots in ${(meta.totalSeconds / 60).toFixed(1)} min`);
  return 0;
}

/** Writes the plots and report.md; returns the report. */
function writeOutputs(meta: ReportMeta, nets: readonly NetworkResult[], out: string): string {
  const many = nets.length > 1;
  for (const net of nets) {
    const plots = lossPlotsWithBands(net, meta.budget, meta.seeds.length);
    writeTextAtomic(join(out, plotName("seconds", net, many)), plots.seconds);
    writeTextAtomic(join(out, plotName("epoch", net, many)), plots.epoch);
  }
  const report = markdownReport(meta, nets);
  writeTextAtomic(join(out, "report.md"), report);
  return report;
}

/** A results.json read back; JSON wrote a diverged run's +∞ losses as null. */
function readResults(path: string): { meta: ReportMeta; nets: NetworkResult[] } {
  const json = JSON.parse(readFileSync(path, "utf8")) as ReportMeta & { networks: NetworkResult[] };
  const { networks, ...meta } = json;
  const inf = (x: number | null) => x ?? Number.POSITIVE_INFINITY;
  const nets = networks.map((n) => ({
    ...n,
    variants: n.variants.map((v) => ({
      ...v,
      runs: v.runs.map((r) => ({ ...r, finalTrainLoss: inf(r.finalTrainLoss), testLoss: inf(r.testLoss) })),
    })),
  }));
  return { meta, nets };
}

runMain(main);
