/**
 * Laws of @ekfac-ts/linalg: BLAS-3 products, the symmetric eigensolver, Cholesky and triangular solves,
 * Kronecker products. Tolerances are the classical rounding-error bounds (Higham, "Accuracy and
 * Stability of Numerical Algorithms", 2nd ed.; GVL = Golub & Van Loan, "Matrix Computations", 4th ed.),
 * with ε the machine epsilon of the element type (2⁻⁵² for float64, 2⁻²³ for float32).
 */
import {
  type DType,
  type EighAlgorithm,
  type EighResult,
  type FloatArray,
  getBackendSetting,
  type Matrix,
  Rng,
  setBackend,
  ulp,
  wasmSupported,
} from "@ekfac-ts/linalg";
import fc from "fast-check";
import { gaussianMatrix, labelled, type SymmetricCase, seedArb, spdArb, symmetricArb } from "../arbitraries.ts";
import type { Implementation } from "../impl.ts";
import { at, distance, frob, maxEntrywise, naiveGemm } from "../internal/dense.ts";
import { defineLaw, type Law, type LawSpec, type Measurement, worstOf } from "../law.ts";

const dtypeArb = fc.constantFrom<DType>("float64", "float32");
const epsOf = (dtype: DType): number => (dtype === "float64" ? 2 ** -52 : 2 ** -23);
/** η/ε: smallest subnormal over machine epsilon, the underflow floor of the entrywise bounds. */
const floorOf = (dtype: DType): number => (dtype === "float64" ? 2 ** -1074 / 2 ** -52 : 2 ** -149 / 2 ** -23);

function blank(rows: number, cols: number, dtype: DType): Matrix {
  return { rows, cols, data: dtype === "float64" ? new Float64Array(rows * cols) : new Float32Array(rows * cols) };
}

function copy(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}

const scalarArb = fc.oneof(fc.constantFrom(0, 1, -1, 0.5), fc.double({ min: -4, max: 4, noNaN: true }));

const gemmCaseArb = fc
  .record({
    m: fc.integer({ min: 0, max: 10 }),
    n: fc.integer({ min: 0, max: 10 }),
    k: fc.integer({ min: 0, max: 10 }),
    tA: fc.boolean(),
    tB: fc.boolean(),
    alpha: scalarArb,
    beta: scalarArb,
    dtype: dtypeArb,
    seed: seedArb,
    square: fc.boolean(),
  })
  // Half the cases square (m = n = k): a dropped or misplaced transpose flag still type-checks there.
  .map(({ square, ...c }) => (square ? { ...c, n: c.m, k: c.m } : c))
  .map((c) => {
    const rng = new Rng(c.seed);
    const a = c.tA ? gaussianMatrix(c.k, c.m, rng, c.dtype) : gaussianMatrix(c.m, c.k, rng, c.dtype);
    const b = c.tB ? gaussianMatrix(c.n, c.k, rng, c.dtype) : gaussianMatrix(c.k, c.n, rng, c.dtype);
    const c0 = gaussianMatrix(c.m, c.n, rng, c.dtype);
    return labelled({ ...c, a, b, c0 }, JSON.stringify(c));
  });

const gemmNaive = defineLaw({
  id: "linalg.gemm.naive",
  title: "gemm = the naive triple loop",
  statement: "gemm(tA, tB, α, A, B, β, C) = α·op(A)·op(B) + β·C, op(X) ∈ {X, Xᵀ}, entrywise within rounding",
  source: "BLAS xGEMM; rounding bound of inner products: Higham (2002) §3.1 and §3.5 (|C − Ĉ| ≤ γ_{k+2}·|α||A||B| + …)",
  generator:
    "m, n, k ∈ [0, 10] (zero-sized dimensions included; half the cases square, m = n = k), all four transpose combinations, α and β from {0, ±1, 0.5} or uniform in [−4, 4] (β = 0 overwrites C), N(0, 1) entries, float64 and float32",
  tolerance:
    "max_ij |Ĉ_ij − C_ij| / (M_ij + η/ε) ≤ (k + 3)·ε, with M = |α|·|op(A)|·|op(B)| + |β|·|C₀|, C the float64 reference on the same stored inputs and η the smallest subnormal (gradual underflow: β and α may be subnormal)",
  why: "Each entry is an inner product of length k plus two scalings and one rounding to storage: γ_{k+2} ≤ (k + 3)·u with u = ε/2, and the factor 2 covers the reference's own rounding. A componentwise bound, so a wrong entry anywhere cannot hide behind a large norm.",
  arbitrary: gemmCaseArb,
  measure(impl, c): Measurement {
    const out = copy(c.c0);
    impl.linalg.gemm(c.tA, c.tB, c.alpha, c.a, c.b, c.beta, out);
    const { ref, mag } = naiveGemm(c.tA, c.tB, c.alpha, c.a, c.b, c.beta, c.c0);
    return { error: maxEntrywise(out.data, ref, mag, floorOf(c.dtype)), tolerance: (c.k + 3) * epsOf(c.dtype) };
  },
});

const transposeCaseArb = fc
  .record({
    m: fc.integer({ min: 1, max: 9 }),
    n: fc.integer({ min: 1, max: 9 }),
    k: fc.integer({ min: 1, max: 9 }),
    dtype: dtypeArb,
    seed: seedArb,
    square: fc.boolean(),
  })
  .map(({ square, ...c }) => (square ? { ...c, n: c.k } : c))
  .map((c) => {
    const rng = new Rng(c.seed);
    return labelled(
      { ...c, a: gaussianMatrix(c.m, c.k, rng, c.dtype), b: gaussianMatrix(c.k, c.n, rng, c.dtype) },
      JSON.stringify(c),
    );
  });

const gemmTranspose = defineLaw({
  id: "linalg.gemm.transpose",
  title: "(AB)ᵀ = BᵀAᵀ",
  statement: "gemm(false, false, 1, A, B) = (gemm(true, true, 1, B, A))ᵀ for A m×k, B k×n stored as they are",
  source: "Transpose of a product; transposed operands read in place (BLAS transa/transb flags)",
  generator:
    "m, n, k ∈ [1, 9] (half the cases with square B, n = k, where a dropped transpose flag still type-checks), N(0, 1) entries, float64 and float32",
  tolerance: "max_ij |(AB)_ij − (BᵀAᵀ)_ji| / ((|A||B|)_ij + η/ε) ≤ 2·(k + 2)·ε",
  why: "Both sides are computed approximations of the same inner products, each within γ_{k+1} of the exact value (Higham §3.1), so they differ by at most twice that.",
  arbitrary: transposeCaseArb,
  measure(impl, c): Measurement {
    const ab = blank(c.m, c.n, c.dtype);
    const btat = blank(c.n, c.m, c.dtype);
    impl.linalg.gemm(false, false, 1, c.a, c.b, 0, ab);
    impl.linalg.gemm(true, true, 1, c.b, c.a, 0, btat);
    const { mag } = naiveGemm(false, false, 1, c.a, c.b, 0, ab);
    const t = new Float64Array(c.m * c.n);
    for (let i = 0; i < c.m; i++) for (let j = 0; j < c.n; j++) t[i * c.n + j] = at(btat, j, i);
    return { error: maxEntrywise(ab.data, t, mag, floorOf(c.dtype)), tolerance: 2 * (c.k + 2) * epsOf(c.dtype) };
  },
});

const syrkCaseArb = fc
  .record({
    d: fc.integer({ min: 0, max: 10 }),
    samples: fc.integer({ min: 0, max: 12 }),
    trans: fc.boolean(),
    alpha: scalarArb,
    beta: scalarArb,
    dtype: dtypeArb,
    seed: seedArb,
  })
  .map((c) => {
    const rng = new Rng(c.seed);
    const x = c.trans ? gaussianMatrix(c.samples, c.d, rng, c.dtype) : gaussianMatrix(c.d, c.samples, rng, c.dtype);
    const c0 = gaussianMatrix(c.d, c.d, rng, c.dtype);
    for (let i = 0; i < c.d; i++) for (let j = 0; j < i; j++) c0.data[j * c.d + i] = c0.data[i * c.d + j] as number;
    return labelled({ ...c, x, c0 }, JSON.stringify(c));
  });

const syrkGemm = defineLaw({
  id: "linalg.syrk.gemm",
  title: "syrk = gemm, exactly symmetric",
  statement:
    "syrk(α, X, β, C) = α·XᵀX + β·C = gemm(true, false, α, X, X, β, C)  (X·Xᵀ with trans = false), and Ĉ = Ĉᵀ bit for bit",
  source: "BLAS xSYRK (the KFAC factor update A = āᵀā/N, Martens & Grosse 2015 §3)",
  generator:
    "d ∈ [0, 10], N ∈ [0, 12] (N < d: rank-deficient), both orientations, α, β as for gemm, symmetric C₀, float64 and float32",
  tolerance: "max_ij |syrk_ij − gemm_ij| / ((|α||X|ᵀ|X| + |β||C₀|)_ij + η/ε) ≤ 2·(N + 3)·ε; max_ij |Ĉ_ij − Ĉ_ji| = 0",
  why: "Both are within γ_{N+2} of the exact product entrywise (Higham §3.5); the upper triangle is a copy of the lower one, so symmetry is exact, which the eigensolver downstream relies on.",
  arbitrary: syrkCaseArb,
  measure(impl, c): Measurement {
    const s = copy(c.c0);
    const g = copy(c.c0);
    impl.linalg.syrk(c.alpha, c.x, c.beta, s, { trans: c.trans });
    impl.linalg.gemm(c.trans, !c.trans, c.alpha, c.x, c.x, c.beta, g);
    const { mag } = naiveGemm(c.trans, !c.trans, c.alpha, c.x, c.x, c.beta, c.c0);
    let asym = 0;
    for (let i = 0; i < c.d; i++)
      for (let j = 0; j < i; j++) asym = Math.max(asym, Math.abs(at(s, i, j) - at(s, j, i)));
    return worstOf(
      {
        error: maxEntrywise(s.data, g.data, mag, floorOf(c.dtype)),
        tolerance: 2 * (c.samples + 3) * epsOf(c.dtype),
        note: "syrk vs gemm",
      },
      { error: Number.isNaN(asym) ? Number.POSITIVE_INFINITY : asym, tolerance: 0, note: "symmetry" },
    );
  },
});

/** ‖A·V − V·Λ‖_F / ‖A‖_F and ‖VᵀV − I‖_F in float64 from the stored values. */
function eigenResiduals(a: Matrix, values: ArrayLike<number>, v: Matrix): { res: number; orth: number } {
  const n = a.rows;
  let num = 0;
  let den = 0;
  let orth = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let o = 0;
      for (let k = 0; k < n; k++) {
        s += at(a, i, k) * at(v, k, j);
        o += at(v, k, i) * at(v, k, j);
      }
      s -= at(v, i, j) * (values[j] as number);
      num += s * s;
      den += at(a, i, j) ** 2;
      o -= i === j ? 1 : 0;
      orth += o * o;
    }
  }
  return { res: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num), orth: Math.sqrt(orth) };
}

/**
 * The eigensolver's two paths: implicit QR, and divide and conquer, whose merges only run above its
 * 32-row leaves, so a quarter of the cases are 33…72 rows (one and two levels of merges).
 */
const eighCaseArb: fc.Arbitrary<SymmetricCase & { readonly algorithm: EighAlgorithm }> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: symmetricArb({ maxN: 16, dtypes: ["float64", "float32"] }) },
      { weight: 1, arbitrary: symmetricArb({ minN: 33, maxN: 72, dtypes: ["float64", "float32"] }) },
    ),
    fc.constantFrom<EighAlgorithm>("divide-and-conquer", "qr"),
  )
  .map(([c, algorithm]) =>
    labelled(
      { ...c, algorithm },
      `{ kind: "${c.kind}", n: ${c.n}, seed: ${c.seed}, dtype: "${c.dtype}", algorithm: "${algorithm}" }`,
    ),
  );

const eighGenerator =
  'algorithm "divide-and-conquer" (default) or "qr"; n ∈ [0, 16] (3/4 of the cases) or [33, 72] (above the 32-row divide-and-conquer leaves); GOE random, prescribed spectra (uniform, clustered within 1e-9, repeated values from {−1, 0, 2}, wide-range |λ| ∈ [1e-8, 1e8] with random signs) built as Q·diag(λ)·Qᵀ, graded D·B·D (entries 1e-6…1e6), rank-deficient covariances XᵀX/N with N ≤ n, Wilkinson W⁺_n, random symmetric tridiagonal (nothing left to reduce), diagonal, zero; float64 and float32';

const failed = (status: string): Measurement => ({
  error: Number.POSITIVE_INFINITY,
  tolerance: 0,
  note: `status ${status}`,
});

type EighCase = SymmetricCase & { readonly algorithm: EighAlgorithm };

/**
 * A law on eigh(A) with the vectors, over the eigh cases: `check` gets the decomposition; any status
 * other than "success" (or missing vectors) fails the case.
 */
function eighLaw(
  spec: Omit<LawSpec<EighCase>, "arbitrary" | "measure" | "generator"> & {
    readonly generator?: string;
    check(c: EighCase, r: EighResult & { readonly vectors: Matrix }, impl: Implementation): Measurement;
  },
): Law {
  const { check, ...description } = spec;
  return defineLaw({
    generator: eighGenerator,
    ...description,
    arbitrary: eighCaseArb,
    measure(impl, c): Measurement {
      const r = impl.linalg.eigh(c.matrix, { algorithm: c.algorithm });
      if (r.status !== "success" || r.vectors === null) return failed(r.status);
      return check(c, r as EighResult & { readonly vectors: Matrix }, impl);
    },
  });
}

const eighResidual = eighLaw({
  id: "linalg.eigh.residual",
  title: "A·V = V·Λ",
  statement: 'eigh(A) = (Λ, V) with ‖A·V − V·Λ‖_F ≤ c·n·ε·‖A‖_F and status "success"',
  source:
    "GVL Alg. 8.3.1 (Householder tridiagonalization) + 8.3.2/8.3.3 (implicit symmetric QR, Wilkinson shift); backward stability GVL §8.3.5",
  tolerance: "‖AV − VΛ‖_F / ‖A‖_F ≤ 8·max(n, 4)·ε",
  why: "The symmetric QR algorithm is normwise backward stable: the computed pairs are exact for A + E with ‖E‖ ≈ p(n)·u·‖A‖ and p(n) a modest multiple of n (GVL §8.3.5). The scaling by max|a_ij| keeps graded and wide-range matrices inside the same bound.",
  check(c, r): Measurement {
    const { res } = eigenResiduals(c.matrix, r.values, r.vectors);
    return { error: res, tolerance: 8 * Math.max(c.n, 4) * epsOf(c.dtype) };
  },
});

const eighOrthogonal = eighLaw({
  id: "linalg.eigh.orthogonal",
  title: "VᵀV = I",
  statement: "the eigenvector matrix of eigh(A) is orthogonal: ‖VᵀV − I‖_F ≤ c·n^{3/2}·ε",
  source:
    "GVL §8.3.5 (V is a product of Householder reflections and Givens rotations, each orthogonal to working precision)",
  tolerance: "‖VᵀV − I‖_F ≤ 8·max(n, 4)^{3/2}·ε",
  why: "About n reflections and O(n²) rotations, each orthogonal to O(ε); the Frobenius norm of an n×n error adds √n. Repeated and clustered eigenvalues are the hard case: the vectors are not unique there, but must stay orthonormal.",
  check(c, r): Measurement {
    const { orth } = eigenResiduals(c.matrix, r.values, r.vectors);
    return { error: orth, tolerance: 8 * Math.max(c.n, 4) ** 1.5 * epsOf(c.dtype) };
  },
});

const eighSpectrum = eighLaw({
  id: "linalg.eigh.spectrum",
  title: "eigenvalues ascending, equal to the prescribed spectrum (Weyl)",
  statement: "λ̂₁ ≤ λ̂₂ ≤ … ≤ λ̂ₙ, and |λ̂ᵢ − λᵢ| ≤ c·n·ε·‖A‖₂ when A = Q·diag(λ)·Qᵀ is built with known λ",
  source: "Weyl's inequality |λᵢ(A + E) − λᵢ(A)| ≤ ‖E‖₂ (GVL Thm. 8.1.5) with the backward error of GVL §8.3.5",
  generator: `${eighGenerator} (the spectrum comparison applies to the prescribed-spectrum, diagonal and zero kinds; ordering to all)`,
  tolerance: "max_i |λ̂ᵢ − λᵢ| / max|λ| ≤ 8·max(n, 4)·ε; max_i (λ̂ᵢ₋₁ − λ̂ᵢ)₊ = 0",
  why: "A backward error E with ‖E‖₂ ≤ p(n)·u·‖A‖₂ moves each eigenvalue by at most ‖E‖₂ (Weyl); forming and rounding A = QΛQᵀ adds an error of the same order. The order is a contract (sorted ascending), hence tolerance 0.",
  // With vectors, as KFAC calls it: divide and conquer computes its eigenvalues by the secular equation.
  check(c, r): Measurement {
    let disorder = 0;
    for (let i = 1; i < c.n; i++) disorder = Math.max(disorder, (r.values[i - 1] as number) - (r.values[i] as number));
    const order: Measurement = {
      error: Number.isNaN(disorder) ? Number.NaN : disorder,
      tolerance: 0,
      note: "ascending order",
    };
    if (c.spectrum === null) return order;
    let norm = 0;
    let err = 0;
    for (let i = 0; i < c.n; i++) {
      norm = Math.max(norm, Math.abs(c.spectrum[i] as number));
      err = Math.max(err, Math.abs((r.values[i] as number) - (c.spectrum[i] as number)));
    }
    return worstOf(order, {
      error: norm > 0 ? err / norm : err,
      tolerance: 8 * Math.max(c.n, 4) * epsOf(c.dtype),
      note: "prescribed spectrum",
    });
  },
});

const eighValuesOnly = defineLaw({
  id: "linalg.eigh.values-only",
  title: "eigenvalues-only mode = the full decomposition's eigenvalues",
  statement:
    "eigh(A, { vectors: false }) returns vectors = null and eigenvalues with max_i |λ̂ᵢ − λᵢ| ≤ c·n·ε·max|λ| from those of eigh(A)",
  source:
    "GVL §8.3.5: implicit QR without vectors (the values-only route) and the route with vectors (QR or divide and conquer) are each backward stable, so they agree to the sum of their backward errors (Weyl, GVL Thm. 8.1.5)",
  generator: eighGenerator,
  tolerance: "max_i |λ̂ᵢ − λᵢ| / max|λ| ≤ 16·max(n, 4)·ε (twice the one-solver bound of linalg.eigh.spectrum)",
  why: "Each route moves the eigenvalues by at most its backward error p(n)·u·‖A‖₂; two routes differ by at most the sum. A values-only route that skipped the sort, the unscaling or a deflation would be off by O(‖A‖).",
  arbitrary: eighCaseArb,
  measure(impl, c): Measurement {
    const full = impl.linalg.eigh(c.matrix, { algorithm: c.algorithm });
    const only = impl.linalg.eigh(c.matrix, { vectors: false });
    if (full.status !== "success") return failed(full.status);
    if (only.status !== "success") return failed(only.status);
    if (only.vectors !== null) return { error: Number.POSITIVE_INFINITY, tolerance: 0, note: "vectors not null" };
    let norm = 0;
    let err = 0;
    for (let i = 0; i < c.n; i++) {
      norm = Math.max(norm, Math.abs(full.values[i] as number));
      err = Math.max(err, Math.abs((only.values[i] as number) - (full.values[i] as number)));
    }
    return { error: norm > 0 ? err / norm : err, tolerance: 16 * Math.max(c.n, 4) * epsOf(c.dtype) };
  },
});

/**
 * The reduction eigh starts from: every kind of symmetric matrix at n ≤ 30 (unblocked Householder), and
 * GOE random matrices at 161…192 rows, past the blocked reduction's 160-row crossover.
 */
const tridiagonalizeCaseArb: fc.Arbitrary<SymmetricCase> = fc.oneof(
  { weight: 9, arbitrary: symmetricArb({ maxN: 30 }) },
  { weight: 1, arbitrary: symmetricArb({ minN: 161, maxN: 192, kinds: ["random"] }) },
);

const tridiagonalizeLaw = defineLaw({
  id: "linalg.tridiagonalize.reconstruct",
  title: "A = Q·T·Qᵀ with QᵀQ = I",
  statement:
    "tridiagonalize(A) = (d, e, Q) with T = tridiag(e, d, e): ‖A − Q·T·Qᵀ‖_F ≤ c·n·ε·‖A‖_F and ‖QᵀQ − I‖_F ≤ c·n^{3/2}·ε",
  source:
    "GVL Alg. 8.3.1 (Householder tridiagonalization) and its backward stability (GVL §8.3.1, §5.1.12); blocked as LAPACK dsytrd/dlatrd",
  generator:
    "n ∈ [0, 30] (9/10 of the cases) over every kind of symmetricArb, or n ∈ [161, 192] GOE random (the blocked path); float64",
  tolerance: "‖A − QTQᵀ‖_F / ‖A‖_F ≤ 8·max(n, 4)·ε and ‖QᵀQ − I‖_F ≤ 8·max(n, 4)^{3/2}·ε",
  why: "n − 2 Householder reflections, each applied with a relative error of a few ε, give a backward error p(n)·ε·‖A‖ with p a small multiple of n; Q is their product, orthogonal to working precision, with the √n of a Frobenius norm. A wrong reflector, or a blocked update that drops a WY term, is off by O(‖A‖).",
  runScale: 0.05,
  arbitrary: tridiagonalizeCaseArb,
  measure(impl, c): Measurement {
    const n = c.n;
    const { diagonal: d, offDiagonal: e, q } = impl.linalg.tridiagonalize(c.matrix);
    if (q === null) return { error: Number.POSITIVE_INFINITY, tolerance: 0, note: "no Q" };
    // Q·T column by column (T has three diagonals), then the two dense products.
    const qt: Matrix = { rows: n, cols: n, data: new Float64Array(n * n) };
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        let v = at(q, i, k) * (d[k] as number);
        if (k > 0) v += at(q, i, k - 1) * (e[k - 1] as number);
        if (k + 1 < n) v += at(q, i, k + 1) * (e[k] as number);
        qt.data[i * n + k] = v;
      }
    }
    const qtqt = naiveGemm(false, true, 1, qt, q, 0, qt).ref;
    const qtq = naiveGemm(true, false, 1, q, q, 0, qt).ref;
    const identity = new Float64Array(n * n);
    for (let i = 0; i < n; i++) identity[i * n + i] = 1;
    const a = Float64Array.from(c.matrix.data);
    const norm = frob(a);
    const m = Math.max(n, 4);
    return worstOf(
      {
        error: norm > 0 ? distance(qtqt, a) / norm : distance(qtqt, a),
        tolerance: 8 * m * epsOf(c.dtype),
        note: "A = QTQᵀ",
      },
      { error: distance(qtq, identity), tolerance: 8 * m ** 1.5 * epsOf(c.dtype), note: "QᵀQ = I" },
    );
  },
});

interface TridiagonalCase {
  readonly n: number;
  readonly seed: number;
  readonly dtype: DType;
}

const tridiagonalQRLaw = defineLaw({
  id: "linalg.tridiagonal-qr.residual",
  title: "implicit QR on T: T·z_k = d_k·z_k, trace preserved",
  statement:
    "tridiagonalQR(d, e, Z = I) overwrites d with the eigenvalues of T = tridiag(e, d, e) and the rows of Z with its eigenvectors: ‖(T·z_kᵀ − d_k·z_kᵀ)_k‖_F ≤ c·n·ε·‖T‖_F, and Σ_k d_k = tr T",
  source: "GVL Alg. 8.3.2 (implicit symmetric QR step with Wilkinson shift) and 8.3.3 (symmetric QR algorithm), §8.3.5",
  generator: "n ∈ [1, 40]; diagonal and off-diagonal N(0, 1); float64 and float32 (computed in the input's type)",
  tolerance: "residual / ‖T‖_F ≤ 8·max(n, 4)·ε; |Σd_k − tr T| ≤ 8·n·ε·max(‖T‖_F, 1)",
  why: "Each QR sweep applies orthogonal Givens rotations with a relative error of a few ε, so the computed pairs are exact for T + E with ‖E‖ ≈ p(n)·ε·‖T‖ (GVL §8.3.5); the trace is a similarity invariant. A wrong shift only slows convergence, but a wrong rotation or deflation breaks both.",
  arbitrary: fc
    .record({
      n: fc.integer({ min: 1, max: 40 }),
      seed: seedArb,
      dtype: fc.constantFrom<DType>("float64", "float32"),
    })
    .map((c) => labelled(c, JSON.stringify(c))),
  measure(impl, c: TridiagonalCase): Measurement {
    const { n, dtype } = c;
    const rng = new Rng(c.seed);
    const dIn = Array.from({ length: n }, () => rng.normal());
    const eIn = Array.from({ length: n - 1 }, () => rng.normal());
    const d = dtype === "float32" ? Float32Array.from(dIn) : Float64Array.from(dIn);
    const e = dtype === "float32" ? Float32Array.from(eIn) : Float64Array.from(eIn);
    // The rounded inputs are T (float32 rounds them on the way in).
    const d0 = Array.from(d);
    const e0 = Array.from(e);
    const z: Matrix = {
      rows: n,
      cols: n,
      data: dtype === "float32" ? new Float32Array(n * n) : new Float64Array(n * n),
    };
    for (let i = 0; i < n; i++) z.data[i * n + i] = 1;
    const r = impl.linalg.tridiagonalQR(d, e, z);
    if (r.status !== "success") return failed(r.status);
    let norm = 0;
    for (const x of [...d0, ...e0, ...e0]) norm += x * x;
    norm = Math.sqrt(norm);
    let res = 0;
    for (let k = 0; k < n; k++) {
      for (let i = 0; i < n; i++) {
        let tz = (d0[i] as number) * at(z, k, i);
        if (i > 0) tz += (e0[i - 1] as number) * at(z, k, i - 1);
        if (i + 1 < n) tz += (e0[i] as number) * at(z, k, i + 1);
        res += (tz - (d[k] as number) * at(z, k, i)) ** 2;
      }
    }
    const eps = epsOf(dtype);
    const trace0 = d0.reduce((s, x) => s + x, 0);
    const trace1 = Array.from(d).reduce((s, x) => s + x, 0);
    return worstOf(
      { error: Math.sqrt(res) / Math.max(norm, 1e-300), tolerance: 8 * Math.max(n, 4) * eps, note: "T·z = d·z" },
      { error: Math.abs(trace1 - trace0), tolerance: 8 * n * eps * Math.max(norm, 1), note: "trace" },
    );
  },
});

const entryArb = fc.oneof(fc.constantFrom(0, 1, -1), fc.double({ min: -1e3, max: 1e3, noNaN: true }));

const eighClosedForm = defineLaw({
  id: "linalg.eigh.closed-form",
  title: "closed forms for n ≤ 2",
  statement: "n = 1: λ = a, V = [±1]. n = 2, A = [[a, b], [b, d]]: λ± = (a + d)/2 ± √(((a − d)/2)² + b²), ascending",
  source: "Characteristic polynomial of a 2×2 symmetric matrix (GVL §8.5.2, the 2-by-2 symmetric Schur decomposition)",
  generator:
    "n ∈ {1, 2}; a, b, d from {0, ±1} or uniform in [−1e3, 1e3] (so b = 0, a = d and repeated eigenvalues all occur), float64",
  tolerance:
    "max_i |λ̂ᵢ − λᵢ| ≤ 8·(ε·max(|a|, |b|, |d|) + η), η the smallest subnormal; for n = 1 also |V₁₁| = 1 exactly",
  why: "Both the closed form (evaluated with hypot) and the solver are backward stable for a 2×2 matrix, a few ulps of max|a_ij| each.",
  arbitrary: fc
    .record({ n: fc.constantFrom(1, 2), a: entryArb, b: entryArb, d: entryArb })
    .map((c) => labelled(c, JSON.stringify(c))),
  measure(impl, c): Measurement {
    const m: Matrix =
      c.n === 1
        ? { rows: 1, cols: 1, data: Float64Array.of(c.a) }
        : { rows: 2, cols: 2, data: Float64Array.of(c.a, c.b, c.b, c.d) };
    const r = impl.linalg.eigh(m);
    if (r.status !== "success" || r.vectors === null) return failed(r.status);
    const scale = Math.max(Math.abs(c.a), c.n === 2 ? Math.abs(c.b) : 0, c.n === 2 ? Math.abs(c.d) : 0);
    const tol = 8 * (2 ** -52 * scale + 2 ** -1074);
    if (c.n === 1) {
      return worstOf(
        { error: Math.abs((r.values[0] as number) - c.a), tolerance: tol, note: "λ = a" },
        { error: Math.abs(Math.abs(r.vectors.data[0] as number) - 1), tolerance: 0, note: "V = [±1]" },
      );
    }
    const mid = (c.a + c.d) / 2;
    const rad = Math.hypot((c.a - c.d) / 2, c.b);
    return {
      error: Math.max(Math.abs((r.values[0] as number) - (mid - rad)), Math.abs((r.values[1] as number) - (mid + rad))),
      tolerance: tol,
      note: `expected [${mid - rad}, ${mid + rad}], got [${r.values[0]}, ${r.values[1]}]`,
    };
  },
});

const choleskyLaw = defineLaw({
  id: "linalg.cholesky.reconstruct",
  title: "L·Lᵀ = A",
  statement:
    "cholesky(A) = L lower triangular with positive diagonal and |L·Lᵀ − A| ≤ γ_{n+1}·|L|·|Lᵀ| entrywise, for SPD A",
  source: "GVL Alg. 4.2.1 (Cholesky); componentwise backward error: Higham (2002) Thm. 10.3",
  generator: "SPD float64 A = Q·diag(λ)·Qᵀ, n ∈ [1, 12], λ geometric from 1 to κ with κ ∈ [1, 1e8]",
  tolerance: "max_ij |L·Lᵀ − A|_ij / (|L|·|Lᵀ|)_ij ≤ (n + 2)·ε; upper triangle exactly 0; L_ii > 0",
  why: "Higham Thm. 10.3: the computed factor satisfies L̂L̂ᵀ = A + ΔA with |ΔA| ≤ γ_{n+1}|L̂||L̂ᵀ| (γ_{n+1} ≈ (n + 1)·ε/2) whenever the factorisation runs to completion, which it does for κ·n·ε ≪ 1.",
  arbitrary: spdArb({ maxN: 12, maxCondition: 1e8 }),
  measure(impl, c): Measurement {
    const r = impl.linalg.cholesky(c.matrix);
    if (r.status !== "success") return failed(r.status);
    const l = r.factor;
    const n = c.n;
    const llt = new Float64Array(n * n);
    const mag = new Float64Array(n * n);
    let shape = 0;
    for (let i = 0; i < n; i++) {
      if (!(at(l, i, i) > 0)) shape = Number.POSITIVE_INFINITY;
      for (let j = 0; j < n; j++) {
        if (j > i) shape = Math.max(shape, Math.abs(at(l, i, j)));
        let s = 0;
        let t = 0;
        for (let k = 0; k < n; k++) {
          s += at(l, i, k) * at(l, j, k);
          t += Math.abs(at(l, i, k) * at(l, j, k));
        }
        llt[i * n + j] = s;
        mag[i * n + j] = t;
      }
    }
    return worstOf(
      { error: maxEntrywise(llt, c.matrix.data, mag), tolerance: (n + 2) * 2 ** -52, note: "L·Lᵀ = A" },
      { error: shape, tolerance: 0, note: "L lower triangular with positive diagonal" },
    );
  },
});

const triangularArb = fc
  .record({
    n: fc.integer({ min: 1, max: 10 }),
    k: fc.integer({ min: 1, max: 3 }),
    lower: fc.boolean(),
    transpose: fc.boolean(),
    unitDiagonal: fc.boolean(),
    dtype: dtypeArb,
    seed: seedArb,
  })
  .map((c) => {
    const rng = new Rng(c.seed);
    const t = gaussianMatrix(c.n, c.n, rng, c.dtype);
    for (let i = 0; i < c.n; i++) {
      // Diagonal away from 0; with a unit diagonal the stored value is garbage that must not be read.
      t.data[i * c.n + i] = c.unitDiagonal ? 7 : (rng.uniform() < 0.5 ? -1 : 1) * (1 + Math.abs(rng.normal()));
      for (let j = 0; j < c.n; j++) if (j !== i) t.data[i * c.n + j] = (t.data[i * c.n + j] as number) / Math.sqrt(c.n);
    }
    return labelled({ ...c, t, b: gaussianMatrix(c.n, c.k, rng, c.dtype) }, JSON.stringify(c));
  });

const solveTriangularLaw = defineLaw({
  id: "linalg.solve.triangular",
  title: "op(T)·X = B (triangular solve, backward stable)",
  statement:
    "X = solveTriangular(T, B, {lower, transpose, unitDiagonal}) satisfies |op(T)·X − B| ≤ γ_n·|op(T)|·|X| entrywise",
  source:
    "GVL Alg. 3.1.1/3.1.2 (forward and back substitution); Higham (2002) Thm. 8.5 (componentwise backward stability)",
  generator:
    "n ∈ [1, 10], k ∈ [1, 3] right-hand sides, lower/upper, transposed or not, unit diagonal (stored diagonal 7, must be ignored) or |T_ii| ∈ [1, ∞), off-diagonals N(0, 1/n), float64 and float32",
  tolerance: "max_ij |op(T)X − B|_ij / (|op(T)||X|)_ij ≤ (n + 1)·ε, using only the referenced triangle",
  why: "Substitution computes the exact solution of (T + ΔT)x = b with |ΔT| ≤ γ_n|T| (Higham Thm. 8.5), whatever the conditioning of T, so the residual is bounded componentwise by γ_n|T||x̂|.",
  arbitrary: triangularArb,
  measure(impl, c): Measurement {
    const x = impl.linalg.solveTriangular(c.t, c.b, {
      lower: c.lower,
      transpose: c.transpose,
      unitDiagonal: c.unitDiagonal,
    });
    const n = c.n;
    // The referenced triangle of T only, with the implied unit diagonal.
    const tri = (i: number, j: number): number => {
      if (i === j) return c.unitDiagonal ? 1 : at(c.t, i, i);
      return (c.lower ? i > j : i < j) ? at(c.t, i, j) : 0;
    };
    const r = new Float64Array(n * c.k);
    const mag = new Float64Array(n * c.k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < c.k; j++) {
        let s = 0;
        let t = 0;
        for (let p = 0; p < n; p++) {
          const v = (c.transpose ? tri(p, i) : tri(i, p)) * at(x, p, j);
          s += v;
          t += Math.abs(v);
        }
        r[i * c.k + j] = s;
        mag[i * c.k + j] = t;
      }
    }
    return { error: maxEntrywise(r, c.b.data, mag), tolerance: (n + 1) * epsOf(c.dtype) };
  },
});

const spdSolveArb = fc
  .tuple(spdArb({ maxN: 12, maxCondition: 1e8 }), fc.integer({ min: 1, max: 3 }), seedArb)
  .map(([a, k, seed]) =>
    labelled(
      { a, b: gaussianMatrix(a.n, k, new Rng(seed), "float64") as Matrix<Float64Array>, k, seed },
      `{ a: ${fc.stringify(a)}, k: ${k}, seed: ${seed} }`,
    ),
  );

const spdSolveLaw = defineLaw({
  id: "linalg.solve.spd",
  title: "A·X = B (SPD solve via Cholesky, backward stable)",
  statement: "X = spdSolve(A, B) satisfies ‖A·X − B‖_F ≤ γ_{3n+1}·√n·‖A‖_F·‖X‖_F",
  source: "GVL §4.2 (Cholesky solve: L·Lᵀ·X = B by two triangular solves); Higham (2002) Thm. 10.4",
  generator:
    "SPD A as for the Cholesky law (n ∈ [1, 12], κ ∈ [1, 1e8]), B n×k with k ∈ [1, 3] right-hand sides, float64",
  tolerance: "‖AX − B‖_F / (‖A‖_F‖X‖_F) ≤ (3n + 2)·√n·ε",
  why: "Higham Thm. 10.4: (A + ΔA)x̂ = b with |ΔA| ≤ γ_{3n+1}|L||Lᵀ|, and ‖|L||Lᵀ|‖_F ≤ ‖L‖²_F = trace(A) ≤ √n‖A‖_F. A normwise residual bound: independent of κ, unlike the forward error.",
  arbitrary: spdSolveArb,
  measure(impl, c): Measurement {
    const x = impl.linalg.spdSolve(c.a.matrix, c.b);
    const n = c.a.n;
    const { ref } = naiveGemm(false, false, 1, c.a.matrix, x, 0, x);
    const res = distance(ref, c.b.data);
    const scale = frob(c.a.matrix.data) * frob(x.data);
    return { error: scale > 0 ? res / scale : res, tolerance: (3 * n + 2) * Math.sqrt(n) * 2 ** -52 };
  },
});

const kronArb = fc
  .record({
    m: fc.integer({ min: 1, max: 4 }),
    p: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 1, max: 4 }),
    q: fc.integer({ min: 1, max: 4 }),
    seed: seedArb,
  })
  .map((c) => {
    const rng = new Rng(c.seed);
    const b = gaussianMatrix(c.m, c.p, rng) as Matrix<Float64Array>;
    const a = gaussianMatrix(c.n, c.q, rng) as Matrix<Float64Array>;
    const x = rng.fillNormal(new Float64Array(c.p * c.q));
    return labelled({ ...c, a, b, x }, JSON.stringify(c));
  });

const kronLaw = defineLaw({
  id: "linalg.kron.matvec",
  title: "(B ⊗ A)·vec(X) = vec(B·X·Aᵀ), explicit and implicit",
  statement:
    "row-major vec: kronMatVec(B, A, vec X) = kron(B, A)·vec X = vec(B·X·Aᵀ), with kron(B, A)[i·n + k, j·q + l] = B_ij·A_kl",
  source:
    'Van Loan, "The ubiquitous Kronecker product" (2000), property vec(BXAᵀ) = (A ⊗ B)vec(X) in column-major form; row-major form per MATH.md §1',
  generator:
    "B m×p, A n×q with m, p, n, q ∈ [1, 4] (non-square, so the factor order is visible), X p×q, N(0, 1) float64 entries",
  tolerance: "max_i |ŷᵢ − yᵢ| / (|B||X||A|ᵀ)ᵢ ≤ 2·(p + q + 2)·ε, for both the explicit and the implicit product",
  why: "Each output entry is a double sum of p·q products; summed as nested dot products of lengths q and p it is within γ_{p+q} of the exact value (Higham §3.1), as is the float64 reference.",
  arbitrary: kronArb,
  measure(impl, c): Measurement {
    const implicit = impl.linalg.kronMatVec(c.b, c.a, c.x);
    const k = impl.linalg.kron(c.b, c.a);
    const rows = c.m * c.n;
    const cols = c.p * c.q;
    const explicit = new Float64Array(rows);
    if (k.rows !== rows || k.cols !== cols)
      return { error: Number.POSITIVE_INFINITY, tolerance: 0, note: "kron shape" };
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += at(k, r, j) * (c.x[j] as number);
      explicit[r] = s;
    }
    // vec(B·X·Aᵀ)[i·n + k] = Σ_{j,l} B_ij X_jl A_kl, and its magnitude.
    const ref = new Float64Array(rows);
    const mag = new Float64Array(rows);
    for (let i = 0; i < c.m; i++) {
      for (let kk = 0; kk < c.n; kk++) {
        let s = 0;
        let t = 0;
        for (let j = 0; j < c.p; j++) {
          for (let l = 0; l < c.q; l++) {
            const v = at(c.b, i, j) * (c.x[j * c.q + l] as number) * at(c.a, kk, l);
            s += v;
            t += Math.abs(v);
          }
        }
        ref[i * c.n + kk] = s;
        mag[i * c.n + kk] = t;
      }
    }
    const tol = 2 * (c.p + c.q + 2) * 2 ** -52;
    return worstOf(
      { error: maxEntrywise(implicit, ref, mag), tolerance: tol, note: "kronMatVec" },
      { error: maxEntrywise(explicit, ref, mag), tolerance: tol, note: "kron(B, A)·x" },
    );
  },
});

const TINY = 2 ** -63;

/** Entries with the values that decide the kernels' branches mixed in: ±0, ±tiny, a subnormal, NaN, ±∞. */
const vectorArb = fc
  .record({ n: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 250, max: 600 })), seed: seedArb })
  .map((c) => {
    const rng = new Rng(c.seed);
    const specials = [0, -0, TINY / 2, -TINY / 2, TINY, 2 ** -149, Number.NaN, Infinity, -Infinity];
    const draw = (): number =>
      rng.uniform() < 0.15
        ? (specials[Math.floor(rng.uniform() * specials.length)] as number)
        : (rng.uniform() - 0.5) * 2 ** Math.floor(rng.uniform() * 40 - 20);
    const x = Float32Array.from({ length: c.n }, draw);
    const y = Float32Array.from({ length: c.n }, draw);
    const w = Float64Array.from({ length: c.n }, draw);
    const s = Float64Array.from({ length: c.n }, () => Math.abs(draw()));
    return labelled({ ...c, x, y, w, s }, JSON.stringify(c));
  });

/** Entries of a and b that differ in their bits (any NaN equals any NaN). */
function bitMismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let bad = a.length === b.length ? 0 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const u = a[i] as number;
    const v = b[i] as number;
    if (!(Object.is(u, v) || (Number.isNaN(u) && Number.isNaN(v)))) bad++;
  }
  return bad;
}

const isTiny = (v: number): boolean => Math.abs(v) > 0 && Math.abs(v) < TINY;

const vectorLaw = defineLaw({
  id: "linalg.vector.definitions",
  title: "the elementwise vector kernels equal their definitions bit for bit, on the wasm and the JS path",
  statement:
    "for float32 x, y and float64 w, s: flushTiny zeroes exactly the entries 0 < |x| < τ; squaresFlushedInto writes x² (0 below τ, NaN kept) and flushes x keeping signs; roundFlushedInto is fround with the τ test in float64; quotientFlushedInto is fround(x/(s + d)) with tiny quotients 0; decayInto is ρw + (1 − ρ)x in float64; axpbyInto is fround(a·x + b·y) then y ← x; scaleInto is fround(s·x) in place; convertRowsInto is fround(c·w); bernoulliResidualInto is (σ(x) − [u < σ(x)])/d in float64 with σ as logistic32 computes it (the float32 x here), false exactly when some x is NaN; hasTiny and allFinite answer as their definitions — with the backend set to wasm (where supported) and to js",
  source:
    "IEEE 754-2008 §5.4 (each operation correctly rounded, so a SIMD lane and a scalar operation on the same operands agree); WebAssembly core spec 2.0 §4.4.3 (f32x4/f64x2 lanes, demote/promote); packages/linalg/src/vector.ts",
  generator:
    "lengths 0–12 (below the wasm threshold) and 250–600 (across it, odd and even), entries (U − ½)·2^k for k ∈ [−20, 20) with ±0, ±τ/2, τ = 2⁻⁶³, the smallest subnormal, NaN and ±∞ mixed in at 15 %",
  tolerance: "0 mismatching entries (bit equality, any NaN for any NaN)",
  why: "Every kernel is one IEEE operation sequence per entry, written the same way in the SIMD loop and the JS loop (no fused multiply-add, float64 where the definition computes in float64), so there is no rounding to allow for.",
  arbitrary: vectorArb,
  measure(impl, c): Measurement {
    const L = impl.linalg;
    const { n, x, y, w, s } = c;
    const backends: ("js" | "wasm")[] = wasmSupported() ? ["js", "wasm"] : ["js"];
    const initial = getBackendSetting();
    const parts: Measurement[] = [];
    const check = (note: string, got: FloatArray | number[], want: FloatArray | number[]): void => {
      parts.push({ error: bitMismatches(got, want), tolerance: 0, note });
    };
    try {
      for (const backend of backends) {
        setBackend(backend);
        const flushed = x.slice();
        L.flushTiny(flushed, n, TINY);
        check(
          `flushTiny (${backend})`,
          flushed,
          Float32Array.from(x, (v) => (isTiny(v) ? 0 : v)),
        );
        const rows = x.slice();
        const sq = new Float32Array(n);
        L.squaresFlushedInto(rows, 0, sq, 0, n, TINY, true);
        check(
          `squaresFlushedInto (${backend})`,
          [...sq, ...rows],
          [
            ...Array.from(x, (v) => Math.fround(v * v)).map((q) => (q >= TINY || Number.isNaN(q) ? q : 0)),
            ...Array.from(x, (v) => (isTiny(v) ? v * 0 : v)),
          ],
        );
        const rounded = new Float32Array(n);
        L.roundFlushedInto(w, 0, rounded, 0, n, TINY);
        check(
          `roundFlushedInto (${backend})`,
          rounded,
          Float32Array.from(w, (v) => (isTiny(v) ? 0 : v)),
        );
        const q = new Float32Array(n);
        L.quotientFlushedInto(x, 0, s, 0, 1e-3, q, 0, n, TINY);
        check(
          `quotientFlushedInto (${backend})`,
          q,
          Float32Array.from(x, (v, i) => {
            const r = v / ((s[i] as number) + 1e-3);
            return isTiny(r) ? 0 : r;
          }),
        );
        const avg = w.slice();
        L.decayInto(avg, 0, x, 0, n, 0.95);
        check(
          `decayInto (${backend})`,
          avg,
          Float64Array.from(w, (v, i) => 0.95 * v + (1 - 0.95) * (x[i] as number)),
        );
        const ax = x.slice();
        const ay = y.slice();
        L.axpbyInto(ax, 0, ay, 0, n, 0.9, 1, true);
        const want = Float32Array.from(x, (v, i) => 0.9 * v + (y[i] as number));
        check(`axpbyInto (${backend})`, [...ax, ...ay], [...want, ...want]);
        const scaled = x.slice();
        L.scaleInto(scaled, 0, n, -0.01);
        check(
          `scaleInto (${backend})`,
          scaled,
          Float32Array.from(x, (v) => -0.01 * v),
        );
        const narrowed = new Float32Array(n);
        L.convertRowsInto(w, 0, n, narrowed, 0, n, n > 0 ? 1 : 0, n, -0.5);
        check(
          `convertRowsInto (${backend})`,
          narrowed,
          Float32Array.from(w, (v) => -0.5 * v),
        );
        const u = new Rng(n + 17).fillUniform(new Float64Array(n));
        const p = Float64Array.from(x, (v) => L.logistic32(v));
        const residual = new Float64Array(n);
        const numbers = L.bernoulliResidualInto(x, 0, u, residual, 0, n, 250);
        check(
          `bernoulliResidualInto (${backend})`,
          [...residual, +numbers],
          [...Array.from(p, (q, i) => (q - +((u[i] as number) < q)) / 250), +!Array.from(x).some(Number.isNaN)],
        );
        check(
          `hasTiny, allFinite (${backend})`,
          [+L.hasTiny(x, n, TINY), +L.allFinite(x)],
          [+Array.from(x).some(isTiny), +Array.from(x).every(Number.isFinite)],
        );
      }
    } finally {
      setBackend(initial);
    }
    return worstOf(...parts);
  },
});

/** The float32 spacing at |x|: 2^(e − 23) for 2^e ≤ |x| < 2^(e + 1), 2⁻¹⁴⁹ below the normal range. */
function ulp32(x: number): number {
  const a = Math.abs(x);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

/**
 * How far s is from σ(v): −1 when v is a special value (NaN, below `cutoff`, ±0, +∞) and s is not its
 * exact result, 0 when it is; otherwise |s − σ(v)| in units of `ulpOf(σ(v))`, σ written with Math.exp.
 */
function logisticMiss(v: number, s: number, cutoff: number, ulpOf: (x: number) => number): number {
  if (Number.isNaN(v)) return Number.isNaN(s) ? 0 : -1;
  if (v < cutoff) return Object.is(s, 0) ? 0 : -1;
  if (v === 0) return s === 0.5 ? 0 : -1;
  if (v === Infinity) return s === 1 ? 0 : -1;
  const e = Math.exp(-Math.abs(v));
  const want = v < 0 ? e / (1 + e) : 1 / (1 + e);
  return Math.abs(s - want) / ulpOf(want);
}

const logisticArb = fc
  .record({ n: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 250, max: 600 })), seed: seedArb })
  .map((c) => {
    const rng = new Rng(c.seed);
    const specials = [0, -0, Number.NaN, Infinity, -Infinity, 707.9, -707.9, 708, -708, -708.5, 745, -1e300];
    const x = Float64Array.from({ length: c.n }, () => {
      const u = rng.uniform();
      if (u < 0.1) return specials[rng.int(specials.length)] as number;
      return (rng.uniform() - 0.5) * (u < 0.6 ? 16 : 1500);
    });
    return labelled({ ...c, x }, JSON.stringify(c));
  });

const logisticLaw = defineLaw({
  id: "linalg.vector.logistic",
  title:
    "sigmoidInto is σ within 3 ulps and logistic32 within 3 float32 ulps, exact at their special values, the same bits on the wasm and the JS path",
  statement:
    "for float64 (and the same values rounded to float32) x: |sigmoidInto(x) − σ(x)| ≤ 3 ulp(σ(x)) with σ(v) = 1/(1 + e^(−v)) written with Math.exp (e/(1 + e), e = e^v, for v < 0); σ(±0) = ½, σ(+∞) = 1, σ(v) = +0 for v < −708 (−∞ included), σ(NaN) = NaN; the wasm and JS paths agree bit for bit. For the float32 values: logistic32(x) is a float32 within 3 float32 ulps of σ(x), +0 for x < −87, with the same special values",
  source:
    "fdlibm e_exp.c (Sun, 1993): argument reduction x = k·ln 2 + r with ln 2 split in two; Taylor's series of e^r to degree 13 (truncation ≤ 4.2e-18 for |r| ≤ ln 2/2); Cephes expf.c (Moshier) for the float32 twin: ln 2 = 0.693359375 + C2, degree 7 (truncation ≤ 5.2e-9); MATH.md §12; packages/linalg/src/internal/exp.ts",
  generator:
    "lengths 0–12 and 250–600; entries (U − ½)·16 or (U − ½)·1500, with ±0, NaN, ±∞, ±707.9, ±708, −708.5, 745, −1e300 mixed in at 10 %",
  tolerance:
    "3 ulps of the reference σ (the reduction and the polynomial are within 1 ulp of Math.exp, the quotient adds up to 2), float64 ulps for sigmoidInto and float32 ulps for logistic32; 0 mismatching entries between the paths and at the special values",
  why: "e^(−|v|) is computed to within 1 ulp (reduction exact in its first part, polynomial truncation below half an ulp, a dozen roundings damped by |r| < 0.35), then σ = num/(1 + e) rounds twice more; Math.exp is itself within 1 ulp in V8. logistic32 is the same scheme with every operation rounded to float32 (measured ≤ 2.3 float32 ulps over 2·10⁶ values).",
  arbitrary: logisticArb,
  measure(impl, c): Measurement {
    const { n, x } = c;
    const backends: ("js" | "wasm")[] = wasmSupported() ? ["js", "wasm"] : ["js"];
    const initial = getBackendSetting();
    const parts: Measurement[] = [];
    const outs: Float64Array[] = [];
    try {
      for (const backend of backends) {
        setBackend(backend);
        for (const input of [x, Float32Array.from(x)]) {
          const out = new Float64Array(n);
          impl.linalg.sigmoidInto(input, 0, out, 0, n);
          outs.push(out);
          let worst = 0;
          let special = 0;
          for (let i = 0; i < n; i++) {
            const miss = logisticMiss(input[i] as number, out[i] as number, -708, ulp);
            if (miss < 0) special++;
            else worst = Math.max(worst, miss);
          }
          const kind = input instanceof Float32Array ? "float32" : "float64";
          parts.push({ error: worst, tolerance: 3, note: `ulps from σ, ${kind} x (${backend})` });
          parts.push({ error: special, tolerance: 0, note: `special values, ${kind} x (${backend})` });
        }
      }
    } finally {
      setBackend(initial);
    }
    // logistic32 on the float32 values (its SIMD twin's bits are the definitions law's, bernoulliResidualInto).
    let worst32 = 0;
    let special32 = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.fround(x[i] as number);
      const s = impl.linalg.logistic32(v);
      const miss = s === Math.fround(s) || Number.isNaN(s) ? logisticMiss(v, s, -87, ulp32) : -1;
      if (miss < 0) special32++;
      else worst32 = Math.max(worst32, miss);
    }
    parts.push({ error: worst32, tolerance: 3, note: "float32 ulps of logistic32 from σ" });
    parts.push({ error: special32, tolerance: 0, note: "logistic32: special values, float32 results" });
    if (outs.length === 4) {
      parts.push({
        error: bitMismatches(outs[0] as Float64Array, outs[2] as Float64Array),
        tolerance: 0,
        note: "wasm = js, float64 x",
      });
      parts.push({
        error: bitMismatches(outs[1] as Float64Array, outs[3] as Float64Array),
        tolerance: 0,
        note: "wasm = js, float32 x",
      });
    }
    return worstOf(...parts);
  },
});

const gramCaseArb = fc
  .record({
    k: fc.integer({ min: 0, max: 10 }),
    d: fc.integer({ min: 1, max: 12 }),
    rank: fc.integer({ min: 0, max: 10 }),
    scale: fc.constantFrom(1, 0.1, 1e-3, 1e3),
    seed: seedArb,
  })
  .map((c) => {
    // X = B·C with B k × r and C r × d: rank min(r, k, d), so rank-deficient rows and the k ≥ d route both occur.
    const rng = new Rng(c.seed);
    const r = Math.min(c.rank, c.k, c.d);
    const b = gaussianMatrix(c.k, r, rng);
    const cm = gaussianMatrix(r, c.d, rng);
    const x = blank(c.k, c.d, "float64");
    for (let i = 0; i < c.k; i++)
      for (let j = 0; j < c.d; j++) {
        let t = 0;
        for (let p = 0; p < r; p++) t += at(b, i, p) * at(cm, p, j);
        x.data[i * c.d + j] = t;
      }
    // The formed product s·XᵀX in float64, the reference.
    const a = blank(c.d, c.d, "float64");
    for (let i = 0; i < c.d; i++)
      for (let j = 0; j < c.d; j++) {
        let t = 0;
        for (let p = 0; p < c.k; p++) t += at(x, p, i) * at(x, p, j);
        a.data[i * c.d + j] = c.scale * t;
      }
    return labelled({ ...c, x, a }, JSON.stringify(c));
  });

const gramEighLaw = defineLaw({
  id: "linalg.gram-eigh.decomposition",
  title: "gramEigh(X, s) is an eigendecomposition of s·XᵀX",
  statement:
    "gramEigh(X, {scale: s}) = (Λ, U) with ‖s·XᵀX·U − U·Λ‖_F ≤ c·d·ε·‖s·XᵀX‖_F, ‖UᵀU − I‖_F ≤ c·d^{3/2}·ε, Λ ascending and within c·d·ε·‖s·XᵀX‖₂ of eigh(s·XᵀX)'s (clamped at 0), without forming s·XᵀX when X has fewer rows than columns",
  source:
    "Householder LQ of X (GVL Alg. 5.2.1 on Xᵀ; backward stable, Higham 2002 Thm. 19.4) and eigh of the k × k s·LᵀL (GVL §8.3.5); Weyl's inequality (GVL Thm. 8.1.5) for the spectrum",
  generator:
    "X = B·C, B k × r and C r × d Gaussian with k ∈ [0, 10], d ∈ [1, 12], r = min(rank, k, d), rank ∈ [0, 10] (rank-deficient rows, zero X, k < d by LQ and k ≥ d by the formed product), s ∈ {1, 0.1, 1e-3, 1e3}, float64",
  tolerance:
    "residual / ‖s·XᵀX‖_F ≤ 8·max(d, 4)·ε; ‖UᵀU − I‖_F ≤ 8·max(d, 4)^{3/2}·ε; max_i |λ̂ᵢ − max(λᵢ, 0)| / max|λ| ≤ 16·max(d, 4)·ε; ascending order exactly",
  why: "The LQ route decomposes s·(X + ΔX)ᵀ(X + ΔX) with columnwise ‖Δxⱼ‖ ≤ γ̃·‖xⱼ‖, a perturbation of s·XᵀX of at most 2γ̃·trace(s·XᵀX) ≤ 2γ̃·√d·‖s·XᵀX‖_F; the inner eigh adds p(k)·ε·‖s·LᵀL‖; U is a product of Householder reflections and eigh's vectors, orthogonal to working precision. The eigh law's bounds (linalg.eigh.residual, .orthogonal, .spectrum) hold with room at these sizes; a route that lost the complement or mixed the row space would be off by O(‖A‖).",
  arbitrary: gramCaseArb,
  measure(impl, c): Measurement {
    const r = impl.linalg.gramEigh(c.x, { scale: c.scale });
    if (r.status !== "success" || r.vectors === null) return failed(r.status);
    const d = c.d;
    const u = r.vectors;
    const norm = frob(c.a.data);
    let res = 0;
    let orth = 0;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let au = 0;
        let utu = 0;
        for (let p = 0; p < d; p++) {
          au += at(c.a, i, p) * at(u, p, j);
          utu += at(u, p, i) * at(u, p, j);
        }
        res += (au - at(u, i, j) * (r.values[j] as number)) ** 2;
        orth += (utu - (i === j ? 1 : 0)) ** 2;
      }
    const ref = impl.linalg.eigh(c.a, { vectors: false });
    if (ref.status !== "success") return failed(ref.status);
    let top = 0;
    let spec = 0;
    let disorder = 0;
    for (let i = 0; i < d; i++) {
      top = Math.max(top, Math.abs(ref.values[i] as number));
      spec = Math.max(spec, Math.abs((r.values[i] as number) - Math.max(0, ref.values[i] as number)));
      if (i > 0) disorder = Math.max(disorder, (r.values[i - 1] as number) - (r.values[i] as number));
    }
    const eps = 2 ** -52;
    const m = Math.max(d, 4);
    return worstOf(
      { error: norm > 0 ? Math.sqrt(res) / norm : Math.sqrt(res), tolerance: 8 * m * eps, note: "residual" },
      { error: Math.sqrt(orth), tolerance: 8 * m ** 1.5 * eps, note: "orthogonality" },
      { error: top > 0 ? spec / top : spec, tolerance: 16 * m * eps, note: "spectrum of eigh(s·XᵀX)" },
      { error: Number.isNaN(disorder) ? Number.NaN : disorder, tolerance: 0, note: "ascending order" },
    );
  },
});

export const linalgLaws: readonly Law[] = [
  gemmNaive,
  gemmTranspose,
  syrkGemm,
  eighResidual,
  eighOrthogonal,
  eighSpectrum,
  eighValuesOnly,
  eighClosedForm,
  gramEighLaw,
  tridiagonalizeLaw,
  tridiagonalQRLaw,
  choleskyLaw,
  solveTriangularLaw,
  spdSolveLaw,
  kronLaw,
  vectorLaw,
  logisticLaw,
];
