/**
 * Portable conformance cases for @ekfac-ts/linalg (see harness.ts). They check laws and cross-runtime
 * determinism, not every edge case: the exhaustive suites are the vitest files in src/.
 */
import {
  cholesky,
  type EighOptions,
  eigh,
  fromArray,
  gemm,
  gemmStrided,
  getBackend,
  getBackendSetting,
  type Matrix,
  matmul,
  Rng,
  setBackend,
  symmetricWithSpectrum,
  view,
  wasmSupported,
  wasmWorkspaceStats,
  zeros,
} from "@ekfac-ts/linalg";
import fc from "fast-check";
import { randomMatrix } from "../random-matrix.ts";
import { check, checkClose, checkThrows, type PortableCase, portableRuns } from "./harness.ts";

/** The definition, in float64, with gemm's own parameters: C = α·op(A)·op(B) + β·C, op(X) = X or Xᵀ. */
function naiveGemm(...[transA, transB, alpha, a, b, beta, c]: Parameters<typeof gemm>): Float64Array {
  const m = c.rows;
  const n = c.cols;
  const k = transA ? a.rows : a.cols;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const aip = transA ? (a.data[p * a.cols + i] as number) : (a.data[i * a.cols + p] as number);
        const bpj = transB ? (b.data[j * b.cols + p] as number) : (b.data[p * b.cols + j] as number);
        s += aip * bpj;
      }
      out[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * (c.data[i * n + j] as number));
    }
  }
  return out;
}

/** |x| entrywise, in float64 (for the scale of gemm's rounding error bound). */
function absolute(x: Matrix): Matrix {
  return { ...x, data: Float64Array.from(x.data, Math.abs) };
}

/** A random symmetric n×n float64 matrix with N(0, 1) entries on and below the diagonal. */
function symmetric(rng: Rng, n: number): Matrix {
  const a = zeros(n, n, "float64");
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const x = rng.normal();
      a.data[i * n + j] = x;
      a.data[j * n + i] = x;
    }
  }
  return a;
}

/** Checks A·V = V·Λ and VᵀV = I, residuals scaled by ‖A‖_F and n, and λ ascending; returns Λ. */
function checkEigh(a: Matrix, label: string, options: EighOptions = {}): Float64Array {
  const n = a.rows;
  const { status, values, vectors } = eigh(a, options);
  check(status === "success", `${label}: eigh status ${status}`);
  check(vectors !== null, `${label}: no eigenvectors`);
  for (let j = 1; j < n; j++)
    check((values[j - 1] as number) <= (values[j] as number), `${label}: λ not ascending at ${j}`);
  const av = matmul(a, vectors);
  const vl = zeros(n, n, "float64");
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) vl.data[i * n + j] = (vectors.data[i * n + j] as number) * (values[j] as number);
  let norm = 0;
  for (const x of a.data) norm += x * x;
  const tol = 1e-13 * Math.max(1, n) * Math.max(1, Math.sqrt(norm));
  checkClose(av.data, vl.data, `${label}: A·V vs V·Λ`, { rtol: 0, atol: tol });
  const vtv = matmul(vectors, vectors, { transA: true });
  const eye = zeros(n, n, "float64");
  for (let i = 0; i < n; i++) eye.data[i * n + i] = 1;
  checkClose(vtv.data, eye.data, `${label}: VᵀV vs I`, { rtol: 0, atol: 1e-13 * Math.max(1, n) });
  return Float64Array.from(values);
}

export const cases: PortableCase[] = [
  {
    name: "gemm: C = α·op(A)·op(B) + β·C matches the naive triple loop for all four transpose cases",
    run() {
      const rng = new Rng(1);
      const [m, n, k] = [7, 5, 9];
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const a = randomMatrix(rng, transA ? k : m, transA ? m : k);
          const b = randomMatrix(rng, transB ? n : k, transB ? k : n);
          const c = randomMatrix(rng, m, n);
          const expected = naiveGemm(transA, transB, 0.75, a, b, -1.5, c);
          gemm(transA, transB, 0.75, a, b, -1.5, c);
          checkClose(c.data, expected, `gemm(transA=${transA}, transB=${transB})`);
        }
      }
    },
  },
  {
    name: "gemm: float32 agrees with the float64 definition within float32 tolerance",
    run() {
      const rng = new Rng(2);
      const a = randomMatrix(rng, 33, 17, "float32");
      const b = randomMatrix(rng, 17, 29, "float32");
      const c = zeros(33, 29, "float32");
      gemm(false, false, 1, a, b, 0, c);
      checkClose(c.data, naiveGemm(false, false, 1, a, b, 0, c), "float32 gemm");
    },
  },
  {
    name: "gemm: β = 0 overwrites C (NaN already in C vanishes)",
    run() {
      const a = fromArray(2, 2, [1, 2, 3, 4], "float64");
      const b = fromArray(2, 2, [5, 6, 7, 8], "float64");
      const c = fromArray(2, 2, [Number.NaN, Number.NaN, Number.NaN, Number.NaN], "float64");
      gemm(false, false, 1, a, b, 0, c);
      checkClose(c.data, [19, 22, 43, 50], "β = 0 product");
    },
  },
  {
    name: "gemm on a strided sub-block view equals gemmStrided with offsets and leading dimensions",
    run() {
      const rng = new Rng(3);
      const big = randomMatrix(rng, 8, 10);
      const a = view(big, 1, 2, 4, 3); // 4×3 block at (1, 2), leading dimension 10
      const b = randomMatrix(rng, 3, 5);
      const c1 = zeros(4, 5, "float64");
      const c2 = new Float64Array(4 * 5);
      gemm(false, false, 1, a, b, 0, c1);
      gemmStrided(false, false, 4, 5, 3, 1, big.data, 1 * 10 + 2, 10, b.data, 0, 5, 0, c2, 0, 5);
      checkClose(c1.data, c2, "view vs strided");
      const dense = zeros(4, 3, "float64"); // the same block, copied element by element
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 3; j++) dense.data[i * 3 + j] = big.data[(i + 1) * 10 + j + 2] as number;
      checkClose(c1.data, naiveGemm(false, false, 1, dense, b, 0, c1), "view vs naive");
    },
  },
  {
    name: "gemm: mismatched inner dimensions are a RangeError naming gemm and both shapes",
    run() {
      checkThrows(() => gemm(false, false, 1, zeros(2, 3), zeros(4, 2), 0, zeros(2, 2)), RangeError, /gemm.*3.*4/);
    },
  },
  {
    name: "(AB)ᵀ = BᵀAᵀ on random shapes, including empty dimensions (property)",
    run() {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 6 }),
          fc.integer({ min: 0, max: 6 }),
          fc.integer({ min: 0, max: 6 }),
          fc.integer(),
          (m, n, k, seed) => {
            const rng = new Rng(seed);
            const a = randomMatrix(rng, m, k);
            const b = randomMatrix(rng, k, n);
            const abT = transpose(matmul(a, b));
            const bTaT = matmul(b, a, { transA: true, transB: true });
            check(bTaT.rows === n && bTaT.cols === m, `BᵀAᵀ is ${bTaT.rows}×${bTaT.cols}, expected ${n}×${m}`);
            checkClose(bTaT.data, abT.data, "BᵀAᵀ vs (AB)ᵀ", { atol: 1e-12 });
          },
        ),
        { numRuns: portableRuns },
      );
    },
  },
  {
    name: "eigh: A·V = V·Λ and VᵀV = I for a random symmetric 24×24 matrix",
    run() {
      checkEigh(symmetric(new Rng(4), 24), "24×24");
    },
  },
  {
    name: "eigh: A·V = V·Λ and VᵀV = I on random sizes 0…9, including repeated eigenvalues (property)",
    run() {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 9 }), fc.integer(), fc.boolean(), (n, seed, repeated) => {
          const rng = new Rng(seed);
          // With `repeated`, A = I + u·uᵀ has eigenvalue 1 with multiplicity n − 1.
          let a = symmetric(rng, n);
          if (repeated) {
            const u = rng.fillNormal(new Float64Array(n));
            a = zeros(n, n, "float64");
            for (let i = 0; i < n; i++)
              for (let j = 0; j < n; j++) a.data[i * n + j] = (i === j ? 1 : 0) + (u[i] as number) * (u[j] as number);
          }
          checkEigh(a, `n=${n}${repeated ? " (I + uuᵀ)" : ""}`);
        }),
        { numRuns: portableRuns },
      );
    },
  },
  {
    name: "cholesky: L·Lᵀ = A with L lower triangular for an SPD matrix",
    run() {
      const rng = new Rng(5);
      const x = randomMatrix(rng, 30, 12);
      const a = matmul(x, x, { transA: true }); // XᵀX, SPD with probability 1
      const { status, factor } = cholesky(a);
      check(status === "success", `cholesky status ${status}`);
      for (let i = 0; i < 12; i++)
        for (let j = i + 1; j < 12; j++) check(factor.data[i * 12 + j] === 0, `L[${i}, ${j}] is not 0`);
      checkClose(matmul(factor, factor, { transB: true }).data, a.data, "L·Lᵀ vs A");
    },
  },
  {
    name: "eigh (float64, n = 48 > the divide-and-conquer leaf of 32): A·V = V·Λ, VᵀV = I, Λ equals QR's and a known spectrum",
    run() {
      const n = 48;
      const a = symmetric(new Rng(6), n);
      const dc = checkEigh(a, "48×48 divide and conquer", { algorithm: "divide-and-conquer" });
      const qr = checkEigh(a, "48×48 QR", { algorithm: "qr" });
      let norm = 0;
      for (const x of a.data) norm += x * x;
      checkClose(dc, qr, "λ by divide and conquer vs QR", { rtol: 0, atol: 1e-13 * n * Math.sqrt(norm) });
      // Clusters of equal eigenvalues exercise the merge's deflation: λ ∈ {−2 (×12), 0.5 (×12), 1 … 24}.
      const spectrum = Float64Array.from({ length: n }, (_, i) => (i < 12 ? -2 : i < 24 ? 0.5 : i - 23));
      const known = symmetricWithSpectrum(spectrum, new Rng(7));
      const got = checkEigh(known, "48×48 with repeated eigenvalues", { algorithm: "divide-and-conquer" });
      checkClose(got, spectrum, "λ vs the spectrum it was built from", { rtol: 0, atol: 1e-12 * n });
    },
  },
  {
    name: 'gemm: the "wasm" and "js" backends agree within float32 rounding on 37×41×29 with transposes',
    run() {
      const before = getBackendSetting();
      try {
        setBackend("auto");
        if (!wasmSupported()) {
          // No WebAssembly SIMD (or run-time compilation forbidden): "auto" must fall back silently.
          check(getBackend() === "js", `"auto" resolved to ${getBackend()} without wasm support`);
          checkThrows(() => setBackend("wasm"), Error, /setBackend.*wasm/);
          return;
        }
        check(getBackend() === "wasm", `"auto" resolved to ${getBackend()} although wasm is supported`);
        const rng = new Rng(8);
        const [m, n, k] = [37, 41, 29];
        const [alpha, beta] = [0.75, -0.5];
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = randomMatrix(rng, transA ? k : m, transA ? m : k, "float32");
            const b = randomMatrix(rng, transB ? n : k, transB ? k : n, "float32");
            const c0 = randomMatrix(rng, m, n, "float32");
            const label = `transA=${transA}, transB=${transB}`;
            setBackend("js");
            const cJs = fromArray(m, n, c0.data, "float32");
            gemm(transA, transB, alpha, a, b, beta, cJs);
            setBackend("wasm");
            const calls = wasmWorkspaceStats().calls;
            const cWasm = fromArray(m, n, c0.data, "float32");
            gemm(transA, transB, alpha, a, b, beta, cWasm);
            check(wasmWorkspaceStats().calls === calls + 1, `${label}: the product did not run on wasm`);
            // Entrywise: both lie within (k + 2)·u·(|α|·|op(A)||op(B)| + |β||C|) of the exact value
            // (Higham §3.5, u = 2⁻²⁴), so they lie within twice that of each other.
            // |α|·|op(A)|·|op(B)| + |β|·|C| entrywise: the scale of the bound.
            const bound = naiveGemm(
              transA,
              transB,
              Math.abs(alpha),
              absolute(a),
              absolute(b),
              Math.abs(beta),
              absolute(c0),
            );
            const u = 2 ** -24;
            for (let i = 0; i < m * n; i++) {
              const d = Math.abs((cWasm.data[i] as number) - (cJs.data[i] as number));
              check(
                d <= 2 * (k + 2) * u * (bound[i] as number),
                `${label}: entry ${i} differs by ${d} (wasm ${cWasm.data[i]}, js ${cJs.data[i]}, bound ${2 * (k + 2) * u * (bound[i] as number)})`,
              );
            }
          }
        }
      } finally {
        setBackend(before);
      }
      check(getBackendSetting() === before, `backend setting not restored (${getBackendSetting()} vs ${before})`);
    },
  },
  {
    name: "Rng: a seeded stream is bit-identical in every runtime (uint32s and the sum of 1000 normals)",
    run() {
      // Golden values recorded on Node 20; any engine that differs breaks cross-runtime reproducibility.
      const rng = new Rng(20180607);
      const words = [rng.nextUint32(), rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
      check(words.join() === "1447661189,627495266,3898920517,3185202313", `uint32 stream ${words.join()}`);
      const x = rng.fillNormal(new Float64Array(1000));
      let sum = 0;
      for (const v of x) sum += v;
      check(sum === 14.76536389403933, `sum of normals ${sum}, expected 14.76536389403933 exactly`);
      check(x[999] === -0.8051308078628625, `1000th normal ${x[999]}, expected -0.8051308078628625 exactly`);
    },
  },
];

function transpose(a: Matrix): Matrix {
  const t = zeros(a.cols, a.rows, "float64");
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < a.cols; j++) t.data[j * a.rows + i] = a.data[i * a.cols + j] as number;
  return t;
}
