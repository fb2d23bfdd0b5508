import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { gemm, gemmStrided, matmul, matmulInto } from "./gemm.ts";
import { gemmBlocked, gemmKernel, gemmSmall, gemmWorkspace } from "./internal/gemm-kernel.ts";
import { allocate, type DType, epsilonOf, type FloatArray, fromArray, type Matrix, view, zeros } from "./matrix.ts";
import { Rng } from "./random.ts";

type Kernel = typeof gemmKernel;
const kernels: Record<string, Kernel> = { dispatch: gemmKernel, small: gemmSmall, blocked: gemmBlocked };

/** A stored rows×cols matrix inside a larger buffer: offset `off`, leading dimension cols + pad. */
interface Stored {
  readonly buf: FloatArray;
  readonly off: number;
  readonly ld: number;
  readonly rows: number;
  readonly cols: number;
}

function stored(rng: Rng, rows: number, cols: number, pad: number, off: number, dtype: DType, fillPad: number): Stored {
  const ld = Math.max(1, cols + pad);
  const buf = allocate(off + rows * ld + 3, dtype).fill(fillPad);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) buf[off + i * ld + j] = 2 * rng.uniform() - 1;
  return { buf, off, ld, rows, cols };
}

const at = (s: Stored, i: number, j: number): number => s.buf[s.off + i * s.ld + j] as number;

/**
 * Reference C = α·op(A)·op(B) + β·C0 in float64, and the componentwise magnitude
 * |α|·|op(A)|·|op(B)| + |β|·|C0| that bounds its rounding error (Higham, Accuracy and Stability,
 * §3.5: |C − Ĉ| ≤ γ_{k+2}·(|α||A||B| + |β||C0|) entrywise).
 */
function reference(
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Stored,
  b: Stored,
  beta: number,
  c0: Stored,
): { ref: Float64Array; mag: Float64Array } {
  const ref = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const x = tA ? at(a, p, i) : at(a, i, p);
        const y = tB ? at(b, j, p) : at(b, p, j);
        s += x * y;
        t += Math.abs(x * y);
      }
      const cij = beta === 0 ? 0 : beta * at(c0, i, j);
      ref[i * n + j] = alpha * s + cij;
      mag[i * n + j] = Math.abs(alpha) * t + Math.abs(cij);
    }
  }
  return { ref, mag };
}

const frob = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] as number) ** 2;
  return Math.sqrt(s);
};

/**
 * Forward-error check: ‖C − C_ref‖_F ≤ (k + 3)·(ε·‖|α||op(A)||op(B)| + |β||C0|‖_F + √(mn)·η), ε = 2u of
 * the dtype (the factor 2 covers the float64 reference's own rounding) and η its smallest subnormal
 * (each rounding may also lose η to underflow: fl(x) = x(1 + δ) + η', |η'| ≤ η). Returns a message
 * or "" if within.
 */
function forwardError(c: Stored, m: number, n: number, k: number, ref: Float64Array, mag: Float64Array): string {
  let d2 = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = at(c, i, j);
      if (!Number.isFinite(v)) return `C[${i}, ${j}] = ${v} is not finite`;
      d2 += (v - (ref[i * n + j] as number)) ** 2;
    }
  }
  const eta = c.buf instanceof Float64Array ? 2 ** -1074 : 2 ** -149;
  const bound = (k + 3) * (epsilonOf(c.buf) * frob(mag) + Math.sqrt(m * n) * eta);
  const err = Math.sqrt(d2);
  return err <= bound ? "" : `‖C − C_ref‖_F = ${err} > bound ${bound} (m=${m} n=${n} k=${k})`;
}

/** Padding of every stored operand must come out untouched (the kernel stays inside its views). */
function paddingIntact(s: Stored, before: FloatArray): boolean {
  for (let idx = 0; idx < s.buf.length; idx++) {
    const rel = idx - s.off;
    const i = Math.floor(rel / s.ld);
    const j = rel - i * s.ld;
    const inside = rel >= 0 && i < s.rows && j < s.cols;
    if (!inside && !Object.is(s.buf[idx], before[idx])) return false;
  }
  return true;
}

const dims = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 9 }) },
  { weight: 2, arbitrary: fc.integer({ min: 10, max: 40 }) },
);
const scalar = fc.oneof(fc.constantFrom(0, 1, -1, 0.5), fc.double({ min: -3, max: 3, noNaN: true }));

const caseArb = fc.record({
  kernel: fc.constantFrom("dispatch", "small", "blocked"),
  dtype: fc.constantFrom<DType>("float32", "float64"),
  tA: fc.boolean(),
  tB: fc.boolean(),
  m: dims,
  n: dims,
  k: dims,
  alpha: scalar,
  beta: scalar,
  pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3)),
  offs: fc.tuple(fc.nat(5), fc.nat(5), fc.nat(5)),
  seed: fc.nat(),
});

function runCase(
  kernel: Kernel,
  dtype: DType,
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  beta: number,
  pads: readonly [number, number, number],
  offs: readonly [number, number, number],
  seed: number,
): string {
  const rng = new Rng(seed);
  // Padding of A and B is NaN: reading outside the views would poison C.
  const a = tA
    ? stored(rng, k, m, pads[0], offs[0], dtype, Number.NaN)
    : stored(rng, m, k, pads[0], offs[0], dtype, Number.NaN);
  const b = tB
    ? stored(rng, n, k, pads[1], offs[1], dtype, Number.NaN)
    : stored(rng, k, n, pads[1], offs[1], dtype, Number.NaN);
  const c = stored(rng, m, n, pads[2], offs[2], dtype, 7.25);
  if (beta === 0) for (let i = 0; i < m; i++) c.buf[c.off + i * c.ld] = Number.NaN; // must vanish
  const { ref, mag } = reference(tA, tB, m, n, k, alpha, a, b, beta, c);
  const before = c.buf.slice();
  kernel(tA, tB, m, n, k, alpha, a.buf, a.off, a.ld, b.buf, b.off, b.ld, beta, c.buf, c.off, c.ld);
  if (!paddingIntact(c, before)) return "C was written outside its view";
  return forwardError(c, m, n, k, ref, mag);
}

describe("gemm kernel", () => {
  it("C = α·op(A)·op(B) + β·C within the forward-error bound, every transpose, dtype, stride and kernel", () => {
    fc.assert(
      fc.property(caseArb, (x) => {
        const msg = runCase(
          kernels[x.kernel] as Kernel,
          x.dtype,
          x.tA,
          x.tB,
          x.m,
          x.n,
          x.k,
          x.alpha,
          x.beta,
          x.pads,
          x.offs,
          x.seed,
        );
        if (msg !== "") throw new Error(msg);
      }),
    );
  });

  it("C = α·op(A)·op(B) + β·C across the packed kernel's block edges (MC = 64, KC = 384, NC = 4096, 8×4 tiles)", () => {
    const shapes: [number, number, number][] = [
      [65, 7, 385],
      [129, 33, 769],
      [200, 3, 1000],
      [8, 4, 256],
      [9, 5, 1],
      [3, 4101, 2],
    ];
    for (const [m, n, k] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          for (const dtype of ["float32", "float64"] as const) {
            const msg = runCase(gemmBlocked, dtype, tA, tB, m, n, k, 0.75, 0.5, [1, 2, 0], [3, 0, 1], m * 31 + n);
            expect(msg, `${m}×${n}×${k} ${tA ? "T" : "N"}${tB ? "T" : "N"} ${dtype}`).toBe("");
          }
        }
      }
    }
  });

  it("C = α·op(A)·op(B) + β·C for one-row and one-column products (the gemv route)", () => {
    const shapes: [number, number, number][] = [
      [1, 300, 70],
      [1, 70, 300],
      [90, 1, 200],
      [1, 1, 5000],
    ];
    for (const [m, n, k] of shapes) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          for (const dtype of ["float32", "float64"] as const) {
            for (const beta of [0, -1.5]) {
              const msg = runCase(gemmKernel, dtype, tA, tB, m, n, k, 1.25, beta, [2, 1, 3], [1, 4, 2], m + 7 * n + k);
              expect(msg, `${m}×${n}×${k} ${tA ? "T" : "N"}${tB ? "T" : "N"} ${dtype} β=${beta}`).toBe("");
            }
          }
        }
      }
    }
  });

  it("β = 0 overwrites C: NaN and Inf already in C vanish (both kernels)", () => {
    for (const kernel of [gemmSmall, gemmBlocked]) {
      const a = new Float32Array(20 * 20).fill(1);
      const c = new Float32Array(20 * 20).fill(Number.NaN);
      c[3] = Number.POSITIVE_INFINITY;
      kernel(false, false, 20, 20, 20, 2, a, 0, 20, a, 0, 20, 0, c, 0, 20);
      expect(c.every((v) => v === 40)).toBe(true);
    }
  });

  it("α = 0 only scales C: A and B are not read (NaN in A does not propagate)", () => {
    for (const kernel of [gemmSmall, gemmBlocked]) {
      const a = new Float64Array(30 * 30).fill(Number.NaN);
      const c = new Float64Array(30 * 30).map((_, i) => i);
      kernel(true, false, 30, 30, 30, 0, a, 0, 30, a, 0, 30, -2, c, 0, 30);
      expect(c.every((v, i) => v === -2 * i)).toBe(true);
      kernel(false, true, 30, 30, 30, 0, a, 0, 30, a, 0, 30, 0, c, 0, 30);
      expect(c.every((v) => v === 0)).toBe(true);
    }
  });

  it("k = 0 gives C = β·C; m = 0 or n = 0 touches nothing", () => {
    const c = new Float32Array([1, 2, 3, 4]);
    const empty = new Float32Array(0);
    gemmBlocked(false, false, 2, 2, 0, 1, empty, 0, 1, empty, 0, 2, 3, c, 0, 2);
    expect(Array.from(c)).toEqual([3, 6, 9, 12]);
    gemmBlocked(false, false, 0, 2, 5, 1, empty, 0, 5, new Float32Array(10), 0, 2, 0, c, 0, 2);
    expect(Array.from(c)).toEqual([3, 6, 9, 12]);
  });

  it("no allocation after the first call at a given size: packing buffers are reused", () => {
    const a = new Float32Array(300 * 300).fill(0.5);
    const c = new Float32Array(300 * 300);
    gemmBlocked(false, true, 300, 300, 300, 1, a, 0, 300, a, 0, 300, 0, c, 0, 300);
    const first = gemmWorkspace();
    for (const [tA, tB] of [
      [false, false],
      [true, true],
      [true, false],
    ] as const) {
      gemmBlocked(tA, tB, 300, 300, 300, 1, a, 0, 300, a, 0, 300, 0, c, 0, 300);
      gemmBlocked(tA, tB, 100, 50, 70, 1, a, 0, 300, a, 0, 300, 1, c, 0, 300);
    }
    const after = gemmWorkspace();
    expect(after.packA).toBe(first.packA);
    expect(after.packB).toBe(first.packB);
    expect(after.allocations).toBe(first.allocations);
  });
});

describe("gemm (matrix API)", () => {
  const rand = (rng: Rng, r: number, c: number, dtype: DType = "float64"): Matrix => {
    const m = zeros(r, c, dtype);
    rng.fillUniform(m.data, -1, 1);
    return m;
  };

  it("(AB)ᵀ = BᵀAᵀ", () => {
    fc.assert(
      fc.property(dims, dims, dims, fc.nat(), (m, n, k, seed) => {
        const rng = new Rng(seed);
        const a = rand(rng, m, k);
        const b = rand(rng, k, n);
        const ab = matmul(a, b);
        const btat = matmul(b, a, { transA: true, transB: true }); // n×m
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let mag = 0;
            for (let p = 0; p < k; p++) mag += Math.abs((a.data[i * k + p] as number) * (b.data[p * n + j] as number));
            const d = Math.abs((ab.data[i * n + j] as number) - (btat.data[j * m + i] as number));
            if (d > 2 * (k + 2) * 2 ** -52 * mag) throw new Error(`(${i}, ${j}): ${d}`);
          }
        }
      }),
    );
  });

  it("gemm on strided views equals gemm on the copied blocks", () => {
    const rng = new Rng(5);
    const big = rand(rng, 20, 30);
    const a = view(big, 2, 3, 7, 9); // 7×9
    const b = view(big, 10, 1, 9, 6); // 9×6
    const cBig = zeros(12, 12, "float64");
    const c = view(cBig, 1, 2, 7, 6);
    gemm(false, false, 1, a, b, 0, c);
    const aCopy = fromArray(
      7,
      9,
      Array.from({ length: 63 }, (_, t) => big.data[(2 + Math.floor(t / 9)) * 30 + 3 + (t % 9)] as number),
      "float64",
    );
    const bCopy = fromArray(
      9,
      6,
      Array.from({ length: 54 }, (_, t) => big.data[(10 + Math.floor(t / 6)) * 30 + 1 + (t % 6)] as number),
      "float64",
    );
    const ref = matmul(aCopy, bCopy);
    for (let i = 0; i < 7; i++)
      for (let j = 0; j < 6; j++)
        expect(cBig.data[(1 + i) * 12 + 2 + j]).toBeCloseTo(ref.data[i * 6 + j] as number, 12);
    expect(cBig.data[0]).toBe(0); // outside the view
  });

  it("matmul of a 1×1 by a 1×1 is the product; an empty product is zero", () => {
    expect(matmul(fromArray(1, 1, [3]), fromArray(1, 1, [-2])).data[0]).toBe(-6);
    const z = matmul(zeros(2, 0), zeros(0, 3));
    expect(z.rows).toBe(2);
    expect(z.cols).toBe(3);
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("matmulInto overwrites out (β = 0): NaN in out vanish", () => {
    const out = fromArray(2, 2, [Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
    matmulInto(out, fromArray(2, 2, [1, 2, 3, 4]), fromArray(2, 2, [1, 0, 0, 1]));
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4]);
  });

  it("bad input throws TypeError/RangeError naming the function, the argument and the shapes", () => {
    const a = zeros(3, 4);
    const b = zeros(5, 2);
    expect(() => gemm(false, false, 1, a, b, 0, zeros(3, 2))).toThrow(
      /^gemm: inner dimensions differ \(a is 3×4, b is 5×2\)$/,
    );
    expect(() => gemm(true, false, 1, a, b, 0, zeros(4, 2))).toThrow(
      /gemm: inner dimensions differ \(aᵀ is 4×3, b is 5×2\)/,
    );
    expect(() => gemm(false, true, 1, a, zeros(2, 4), 0, zeros(3, 3))).toThrow(/gemm: c is 3×3, expected 3×2/);
    expect(() => gemm(false, false, 1, a, zeros(4, 2, "float64"), 0, zeros(3, 2))).toThrow(TypeError);
    expect(() => gemm(false, false, 1, a, zeros(4, 2, "float64"), 0, zeros(3, 2))).toThrow(
      /gemm: a is float32 but b is float64/,
    );
    const bad = { rows: 2, cols: 2, data: [1, 2, 3, 4] } as unknown as Matrix;
    expect(() => gemm(false, false, 1, bad, bad, 0, zeros(2, 2))).toThrow(
      /gemm: a.data must be a Float32Array or Float64Array \(got Array\)/,
    );
    expect(() =>
      gemm(false, false, 1, { rows: 2, cols: 2, data: new Float32Array(3) }, zeros(2, 2), 0, zeros(2, 2)),
    ).toThrow(/gemm: a.data has length 3, expected rows·cols = 2·2 = 4/);
    const sq = zeros(3, 3);
    expect(() => gemm(false, false, 1, sq, zeros(3, 3), 0, sq)).toThrow(RangeError);
    expect(() => gemm(false, false, 1, sq, zeros(3, 3), 0, sq)).toThrow(
      /gemm: c must not share its buffer with a or b/,
    );
    const shared = new Float32Array(18);
    const sub = { rows: 3, cols: 3, data: shared.subarray(9) };
    expect(() => gemm(false, false, 1, { rows: 3, cols: 3, data: shared.subarray(0, 9) }, sq, 0, sub)).not.toThrow();
    expect(() => gemm(false, false, 1, { rows: 3, cols: 3, data: shared.subarray(5, 14) }, sq, 0, sub)).toThrow(
      /gemm: c must not share/,
    );
    expect(() => gemm(false, false, "1" as unknown as number, sq, sq, 0, zeros(3, 3))).toThrow(
      /gemm: alpha must be a number/,
    );
    const f = new Float32Array(12);
    expect(() =>
      gemmStrided(false, false, 3, 4, 2, 1, f, 0, 1, f.slice(), 0, 4, 0, new Float32Array(12), 0, 4),
    ).toThrow(/gemmStrided: lda = 1 must be ≥ max\(1, 2\)/);
    expect(() =>
      gemmStrided(false, false, 3, 4, 4, 1, f, 0, 4, f.slice(), 0, 4, 0, new Float32Array(12), 0, 4),
    ).toThrow(/gemmStrided: b \(stored 4×4, offset 0, ld 4\) needs 16 elements, has 12/);
    expect(() => gemmStrided(false, false, -1, 4, 4, 1, f, 0, 4, f, 0, 4, 0, f, 0, 4)).toThrow(
      /gemmStrided: m must be a non-negative integer/,
    );
    expect(() => gemmStrided(false, false, 1, 1, 1, 1, f, 0, 1, f.slice(), 0, 1, 0, f, 0, 1)).toThrow(
      /gemmStrided: c must not share/,
    );
  });
});
