/**
 * The `gemm` suite: float32 C = op(A)·op(B) for every transpose combination at 512³, 1024³ and the
 * autoencoder's first layer (256×784)·(784×1000), ours against ml-matrix and tfjs-core's CPU backend,
 * plus the KFAC factor āᵀā through our `syrk` against our `gemm` and ml-matrix's `gram`.
 *
 * Anchors and their caveats:
 * - ml-matrix `Matrix.mmul` works in float64 (`Float64Array` rows); op() is materialised with
 *   `transpose()` (timed, since a user has to do it), except AᵀB, which uses `transposeMultiply`.
 * - tfjs `tf.matMul(a, b, transposeA, transposeB)` on the pure-JS `cpu` backend, float32, timed
 *   with `dataSync()` so the result is really computed.
 * - tfjs on the `wasm` backend (XNNPACK, SIMD build), single thread, timed in interleaved rounds with
 *   ours (util.ts `timeInterleaved`; its ratio is the median of the per-round ratios). In Node 20 it
 *   loads its .wasm from a file-system path given to `setWasmPaths` (the package's dist folder).
 * Ours runs on the default backend (`auto`: WebAssembly SIMD where supported, with the relaxed-SIMD
 * fused multiply-add kernel where the runtime has it — Node 20 needs `--experimental-wasm-relaxed-simd`,
 * e.g. `node --experimental-wasm-relaxed-simd --import tsx --conditions=@ekfac-ts/source
 * packages/bench/src/cli.ts gemm`), forced to the pure-JS backend (`setBackend("js")`), and, when
 * the default kernel is the fused one, forced to the unfused mul + add kernel (`setWasmKernel`); the
 * impl column names the kernel that ran ("wasm fma" / "wasm mul-add"); ratios are against the default.
 * Every result is validated: no NaN, relative residual against ours ≤ 1e-4 (float32 accumulation
 * error on these sizes is ~1e-6), and ours against a float64 reference on sampled entries.
 * GFLOP/s = 2mnk / t. Also recorded: our packing workspace allocates nothing after warm-up.
 * At 1024³ (AB) ours also runs on 2 threads (`setThreads(2)`, Node worker_threads), float32 and
 * float64, against 1 thread; those rows' ratio_vs_ours is the speedup. Under `--threads N` every row
 * of ours runs on N threads (named in the impl column); the 1-vs-2-thread rows restore N afterwards.
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import {
  gemm,
  gemmWorkspaceStats,
  getBackend,
  getThreads,
  getWasmKernel,
  type Matrix,
  Rng,
  setBackend,
  setThreads,
  setWasmKernel,
  shutdownThreads,
  syrk,
  wasmWorkspaceStats,
  zeros,
} from "@ekfac-ts/linalg";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { Matrix as MlMatrix } from "ml-matrix";
import type { BenchRecord, Suite, SuiteContext } from "../harness.ts";
import { spawnNodeWorker } from "../node-threads.ts";
import { hasNaN, type InterleavedTiming, relativeResidual, type Timing, timeInterleaved, timeIt } from "../util.ts";

const SUITE = "gemm";
const RESIDUAL_TOL = 1e-4;

interface Shape {
  readonly name: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
}

const FULL: readonly Shape[] = [
  { name: "512³", m: 512, n: 512, k: 512 },
  { name: "1024³", m: 1024, n: 1024, k: 1024 },
  { name: "autoencoder (256×784)·(784×1000)", m: 256, n: 1000, k: 784 },
];
const SMOKE: readonly Shape[] = [
  { name: "32³", m: 32, n: 32, k: 32 },
  { name: "odd 37×29×45", m: 37, n: 29, k: 45 },
];

const TRANSPOSES = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

function randomMatrix(rng: Rng, rows: number, cols: number): Matrix {
  const m = zeros(rows, cols, "float32");
  rng.fillUniform(m.data, -1, 1);
  return m;
}

function mlFrom(a: Matrix): MlMatrix {
  return MlMatrix.from1DArray(a.rows, a.cols, Array.from(a.data));
}

function mlToArray(a: MlMatrix): Float64Array {
  const out = new Float64Array(a.rows * a.columns);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.columns; j++) out[i * a.columns + j] = a.get(i, j);
  return out;
}

/** Max relative error of sampled entries of ours against a float64 dot product (scaled by Σ|a·b|). */
function sampledForwardError(tA: boolean, tB: boolean, a: Matrix, b: Matrix, c: Matrix, k: number, rng: Rng): number {
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const i = rng.int(c.rows);
    const j = rng.int(c.cols);
    let ref = 0;
    let mag = 0;
    for (let p = 0; p < k; p++) {
      const x = (tA ? a.data[p * a.cols + i] : a.data[i * a.cols + p]) as number;
      const y = (tB ? b.data[j * b.cols + p] : b.data[p * b.cols + j]) as number;
      ref += x * y;
      mag += Math.abs(x * y);
    }
    worst = Math.max(worst, Math.abs((c.data[i * c.cols + j] as number) - ref) / (mag || 1));
  }
  return worst;
}

/** tfjs-backend-wasm in Node 20: its .wasm files from the package's dist folder, one thread. */
async function initTfWasm(): Promise<void> {
  const dist = dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"));
  setWasmPaths(`${dist}/`);
  setThreadsCount(1);
  await tf.setBackend("wasm");
  await tf.ready();
}

/**
 * Rows for `setThreads(2)` (Node worker_threads): float32 against the single-threaded `c` already
 * computed, and float64 single vs 2 threads; the threaded result must equal the single-threaded one
 * bit for bit. ratio_vs_ours = single-thread time / 2-thread time (the speedup).
 */
async function threadRows(
  caseName: string,
  shape: string,
  a: Matrix,
  b: Matrix,
  c: Matrix,
  timing: { timeMs: number; minRuns: number; maxRuns: number; warmup: number },
  gf: (ms: number) => number,
  ctx: SuiteContext,
): Promise<BenchRecord[]> {
  const rows: BenchRecord[] = [];
  const before = getThreads();
  await shutdownThreads();
  const a64 = { rows: a.rows, cols: a.cols, data: Float64Array.from(a.data) };
  const b64 = { rows: b.rows, cols: b.cols, data: Float64Array.from(b.data) };
  gemm(false, false, 1, a, b, 0, c);
  const single32 = timeIt(() => gemm(false, false, 1, a, b, 0, c), timing);
  const c64 = zeros(c.rows, c.cols, "float64");
  gemm(false, false, 1, a64, b64, 0, c64);
  const single64 = timeIt(() => gemm(false, false, 1, a64, b64, 0, c64), timing);
  await setThreads(2, { spawn: spawnNodeWorker });
  try {
    for (const [dtype, x, y, ref, single] of [
      ["f32", a, b, c, single32],
      ["f64", a64, b64, c64, single64],
    ] as const) {
      const out = zeros(c.rows, c.cols, dtype === "f32" ? "float32" : "float64");
      gemm(false, false, 1, x, y, 0, out);
      const t = timeIt(() => gemm(false, false, 1, x, y, 0, out), timing);
      let same = true;
      for (let i = 0; i < out.data.length; i++) if (!Object.is(out.data[i], ref.data[i])) same = false;
      ctx.log(
        `  ${caseName}: ours ${dtype} 1 thread ${single.medianMs.toFixed(1)} ms, 2 threads ${t.medianMs.toFixed(1)} ms`,
      );
      rows.push({
        suite: SUITE,
        case: caseName,
        impl: `ekfac-ts gemm wasm ${getWasmKernel()} 2 threads (${dtype})`,
        shape,
        median_ms: t.medianMs,
        gflops: gf(t.medianMs),
        ratio_vs_ours: single.medianMs / t.medianMs,
        single_thread_ms: single.medianMs,
        check: `equal to 1 thread bit for bit: ${same}; speedup ${(single.medianMs / t.medianMs).toFixed(2)}×`,
        ok: same,
        runs: t.runs,
      });
    }
  } finally {
    await shutdownThreads();
    if (before > 1) await setThreads(before, { spawn: spawnNodeWorker });
  }
  return rows;
}

/** The impl label of ours on the current backend: kernel variant and thread count. */
function oursLabel(): string {
  if (getBackend() !== "wasm") return "ekfac-ts gemm js (f32)";
  const threads = getThreads();
  return `ekfac-ts gemm wasm ${getWasmKernel()} (f32${threads > 1 ? `, ${threads} threads` : ""})`;
}

async function run(ctx: SuiteContext): Promise<BenchRecord[]> {
  await initTfWasm();
  await tf.setBackend("cpu");
  await tf.ready();
  const shapes = ctx.smoke ? SMOKE : FULL;
  const timing = { timeMs: ctx.timeMs, minRuns: ctx.smoke ? 2 : 3, maxRuns: ctx.smoke ? 5 : 30 };
  const rng = new Rng(20180603);
  const records: BenchRecord[] = [];

  for (const { name, m, n, k } of shapes) {
    for (const [tA, tB] of TRANSPOSES) {
      const caseName = `${name} ${tA ? "Aᵀ" : "A"}${tB ? "Bᵀ" : "B"}`;
      const shape = `(${m}×${k})·(${k}×${n})`;
      const a = tA ? randomMatrix(rng, k, m) : randomMatrix(rng, m, k);
      const b = tB ? randomMatrix(rng, n, k) : randomMatrix(rng, k, n);
      const flops = 2 * m * n * k;
      const gf = (ms: number): number => flops / (ms * 1e6);

      // ours
      const c = zeros(m, n, "float32");
      gemm(tA, tB, 1, a, b, 0, c); // warm-up and workspace growth
      const allocs = (): number => gemmWorkspaceStats().allocations + wasmWorkspaceStats().allocations;
      const allocBefore = allocs();
      const ours = timeIt(() => gemm(tA, tB, 1, a, b, 0, c), { ...timing, warmup: 0 });
      const allocAfter = allocs();
      const fwd = sampledForwardError(tA, tB, a, b, c, k, rng);
      const oursOk = !hasNaN(c.data) && fwd <= (k + 3) * 2 ** -23 && allocAfter === allocBefore;
      ctx.log(`  ${caseName}: ours ${ours.medianMs.toFixed(1)} ms`);
      records.push({
        suite: SUITE,
        case: caseName,
        impl: oursLabel(),
        shape,
        median_ms: ours.medianMs,
        gflops: gf(ours.medianMs),
        ratio_vs_ours: 1,
        check: `sampled fwd err ${fwd.toExponential(1)} ≤ (k+3)ε; allocations after warm-up ${allocAfter - allocBefore}`,
        ok: oursOk,
        runs: ours.runs,
        allocations_after_warmup: allocAfter - allocBefore,
      });

      // One comparison row against ours (`label` names it in the log).
      // `ratio` overrides ours / theirs of the medians (the paired, interleaved ratio for tfjs-wasm).
      const row = (impl: string, label: string, t: Timing, check: string, ok: boolean, ratio?: number): BenchRecord => {
        ctx.log(`  ${caseName}: ${label} ${t.medianMs.toFixed(1)} ms`);
        return {
          suite: SUITE,
          case: caseName,
          impl,
          shape,
          median_ms: t.medianMs,
          gflops: gf(t.medianMs),
          ratio_vs_ours: ratio ?? ours.medianMs / t.medianMs,
          check,
          ok,
          runs: t.runs,
        };
      };

      // ours forced to another path: one row each, timed like the default above.
      const forced = (impl: string, force: () => void, restore: () => void): BenchRecord => {
        force();
        const cf = zeros(m, n, "float32");
        gemm(tA, tB, 1, a, b, 0, cf);
        const t = timeIt(() => gemm(tA, tB, 1, a, b, 0, cf), { ...timing, warmup: 0 });
        restore();
        const err = sampledForwardError(tA, tB, a, b, cf, k, rng);
        const ok = !hasNaN(cf.data) && err <= (k + 3) * 2 ** -23;
        return row(impl, impl, t, `sampled fwd err ${err.toExponential(1)} ≤ (k+3)ε`, ok);
      };
      // the pure-JS backend (when the default above was wasm)
      if (getBackend() === "wasm") {
        records.push(
          forced(
            "ekfac-ts gemm js (f32)",
            () => setBackend("js"),
            () => setBackend("auto"),
          ),
        );
      }
      // the unfused kernel (when the default above was the fused one, single-threaded)
      if (getBackend() === "wasm" && getWasmKernel() === "fma" && getThreads() === 1) {
        records.push(
          forced(
            "ekfac-ts gemm wasm mul-add (f32)",
            () => setWasmKernel("mul-add"),
            () => setWasmKernel("auto"),
          ),
        );
      }

      // ours on 2 threads (this thread + 1 worker; 1024³ AB only), float32 and float64, vs 1 thread
      if (getBackend() === "wasm" && m === 1024 && !tA && !tB) {
        records.push(...(await threadRows(caseName, shape, a, b, c, { ...timing, warmup: 0 }, gf, ctx)));
      }

      // An anchor library's row: timed like ours, checked by its residual against ours.
      const anchorRow = (
        impl: string,
        label: string,
        t: Timing,
        out: ArrayLike<number>,
        ratio?: number,
        note = "",
      ): BenchRecord => {
        const res = relativeResidual(out, c.data);
        return row(
          impl,
          label,
          t,
          `residual vs ours ${res.toExponential(1)} ≤ ${RESIDUAL_TOL}${note}`,
          !hasNaN(out) && res <= RESIDUAL_TOL,
          ratio,
        );
      };

      // ml-matrix (float64)
      const ma = mlFrom(a);
      const mb = mlFrom(b);
      const mlMul = (): MlMatrix => {
        if (tA && !tB) return ma.transposeMultiply(mb);
        return (tA ? ma.transpose() : ma).mmul(tB ? mb.transpose() : mb);
      };
      let mlOut = mlMul();
      const ml = timeIt(
        () => {
          mlOut = mlMul();
        },
        { ...timing, warmup: 0 },
      );
      const mlArr = mlToArray(mlOut);
      records.push(anchorRow("ml-matrix mmul (f64)", "ml-matrix", ml, mlArr));

      // tfjs-core, cpu backend (float32)
      const ta = tf.tensor2d(a.data as Float32Array, [a.rows, a.cols], "float32");
      const tb = tf.tensor2d(b.data as Float32Array, [b.rows, b.cols], "float32");
      let tfOut: Float32Array = new Float32Array(0);
      const tfMul = (): void => {
        const r = tf.matMul(ta, tb, tA, tB);
        tfOut = r.dataSync() as Float32Array;
        r.dispose();
      };
      const tfT = timeIt(tfMul, timing);
      ta.dispose();
      tb.dispose();
      records.push(anchorRow("tfjs-core cpu matMul (f32)", "tfjs-cpu", tfT, tfOut));

      // tfjs-core, wasm backend (float32, single thread)
      await tf.setBackend("wasm");
      const wa = tf.tensor2d(a.data as Float32Array, [a.rows, a.cols], "float32");
      const wb = tf.tensor2d(b.data as Float32Array, [b.rows, b.cols], "float32");
      let twOut: Float32Array = new Float32Array(0);
      // Interleaved with ours (util.ts timeInterleaved): the ratio that matters most here is paired
      // per round, so a host whose speed drifts between the two timings cannot flip it.
      const [, twT] = timeInterleaved(
        [
          () => gemm(tA, tB, 1, a, b, 0, c),
          () => {
            const r = tf.matMul(wa, wb, tA, tB);
            twOut = r.dataSync() as Float32Array;
            r.dispose();
          },
        ],
        timing,
      ) as [InterleavedTiming, InterleavedTiming];
      wa.dispose();
      wb.dispose();
      await tf.setBackend("cpu");
      records.push(
        anchorRow(
          `tfjs-backend-wasm matMul (f32, ${getThreadsCount()} thread)`,
          "tfjs-wasm",
          twT,
          twOut,
          1 / twT.medianRatioToFirst,
          `; ours/theirs paired over ${twT.runs} interleaved rounds`,
        ),
      );
    }
  }

  records.push(...runSyrk(ctx, timing, rng));
  return records;
}

/** KFAC factor A = XᵀX (X is N×d): our syrk against our gemm and ml-matrix's gram. Flops counted as gemm's 2·N·d². */
function runSyrk(
  ctx: SuiteContext,
  timing: { timeMs: number; minRuns: number; maxRuns: number },
  rng: Rng,
): BenchRecord[] {
  const [nRows, d] = ctx.smoke ? [40, 33] : [256, 784];
  const caseName = "syrk XᵀX (KFAC factor)";
  const shape = `(${d}×${nRows})·(${nRows}×${d})`;
  const flops = 2 * nRows * d * d;
  const x = randomMatrix(rng, nRows, d);
  const cs = zeros(d, d, "float32");
  const cg = zeros(d, d, "float32");
  const s = timeIt(() => syrk(1, x, 0, cs), timing);
  const g = timeIt(() => gemm(true, false, 1, x, x, 0, cg), timing);
  const mx = mlFrom(x);
  let gram = mx.gram();
  const ml = timeIt(() => {
    gram = mx.gram();
  }, timing);
  let symmetric = true;
  for (let i = 0; i < d && symmetric; i++)
    for (let j = 0; j < i; j++) if (cs.data[i * d + j] !== cs.data[j * d + i]) symmetric = false;
  const resG = relativeResidual(cs.data, cg.data);
  const mlArr = mlToArray(gram);
  const resMl = relativeResidual(mlArr, cs.data);
  ctx.log(
    `  ${caseName}: syrk ${s.medianMs.toFixed(1)} ms, gemm ${g.medianMs.toFixed(1)} ms, ml gram ${ml.medianMs.toFixed(1)} ms`,
  );
  const rec = (impl: string, t: number, check: string, ok: boolean): BenchRecord => ({
    suite: SUITE,
    case: caseName,
    impl,
    shape,
    median_ms: t,
    gflops: flops / (t * 1e6),
    ratio_vs_ours: s.medianMs / t,
    check,
    ok,
  });
  return [
    rec("ekfac-ts syrk (f32)", s.medianMs, `exactly symmetric: ${symmetric}`, symmetric && !hasNaN(cs.data)),
    rec(
      "ekfac-ts gemm (f32)",
      g.medianMs,
      `residual vs syrk ${resG.toExponential(1)} ≤ ${RESIDUAL_TOL}`,
      resG <= RESIDUAL_TOL,
    ),
    rec(
      "ml-matrix gram (f64)",
      ml.medianMs,
      `residual vs syrk ${resMl.toExponential(1)} ≤ ${RESIDUAL_TOL}`,
      !hasNaN(mlArr) && resMl <= RESIDUAL_TOL,
    ),
  ];
}

export const gemmSuite: Suite = {
  name: SUITE,
  description: "float32 matrix multiply, all transposes: ekfac-ts vs ml-matrix vs tfjs-cpu; syrk for KFAC factors",
  run,
};
