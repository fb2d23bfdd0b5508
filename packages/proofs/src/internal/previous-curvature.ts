/**
 * REFERENCE ONLY (test oracle, not shipped behaviour): a frozen copy of the arithmetic of the curvature
 * optimizer as it stood before curvature became a transform (`CurvatureOptimizer.step` with
 * `KroneckerBlock` in @ekfac-ts/ekfac before issue 13), for ONE dense layer, so that the law
 * "transform-form KFAC/EKFAC equal the previous implementation" compares the new chain with the old
 * schedule on the same inputs. Do not change it to follow the library: it is what the library must
 * keep computing.
 *
 * Per step k (f = factorsEvery, T = basisEvery, T_s = scalingEvery; all counted globally):
 *   k % f = 0:                A, G ← ρ·(A, G) + (1−ρ)·batch factors (the first update takes the batch),
 *                             formed with linalg's gemmStrided exactly as before (same rounding, so the
 *                             eigendecompositions see bitwise the same matrices);
 *   k % T = 0:                eigendecompose (X + Xᵀ)/2 with eigh, λ clamped at 0; the scaling restarts;
 *   EKFAC, k % T = 0 or k % T_s = 0:  S ← ρ_S S + (1−ρ_S) S*, S* = (1/N) Σ_n (U_Gᵀ ∇_n U_A)² (naive sum);
 *   Δ = U_G [(U_Gᵀ ∇ U_A) ⊘ (S + ε)] U_Aᵀ (EKFAC) or ⊘ (λ_G λ_Aᵀ + ε) (KFAC, eigenbasis damping);
 *   ν = min(1, sqrt(κ / (η² Σ Δ∇))) (1 without clipping or when Σ Δ∇ ≤ 0);
 *   b ← Δ·ν (k = 0) or μ b + ν Δ; θ ← θ − η b (no buffer when μ = 0).
 */
import { eigh, gemmStrided } from "@ekfac-ts/linalg";

export interface PreviousOptions {
  readonly approximation: "kfac" | "ekfac";
  readonly learningRate: number;
  readonly damping: number;
  readonly momentum: number;
  readonly klClip: number | null;
  readonly factorsEvery: number;
  readonly basisEvery: number;
  readonly scalingEvery: number;
  readonly factorDecay: number;
  readonly scalingDecay: number;
}

/** One dense layer's W̄ = [W | b] (gDim × aDim, row-major) trained by the previous step. */
export class PreviousDenseCurvature {
  readonly A: Float64Array;
  readonly G: Float64Array;
  private uA: Float64Array;
  private uG: Float64Array;
  private lA: Float64Array;
  private lG: Float64Array;
  private readonly S: Float64Array;
  private readonly buf: Float64Array;
  private factorUpdates = 0;
  private scalingUpdates = 0;
  private steps = 0;

  constructor(
    readonly a: number,
    readonly g: number,
    readonly o: PreviousOptions,
  ) {
    this.A = new Float64Array(a * a);
    this.G = new Float64Array(g * g);
    this.uA = identity(a);
    this.uG = identity(g);
    this.lA = new Float64Array(a);
    this.lG = new Float64Array(g);
    this.S = new Float64Array(g * a);
    this.buf = new Float64Array(g * a);
  }

  /** One step: statistics (N rows of ā and of g = N·∂L/∂s), the mean gradient, θ updated in place. */
  step(n: number, aRows: Float64Array, gRows: Float64Array, grad: Float64Array, theta: Float64Array): void {
    const { a, g, o } = this;
    const k = this.steps;
    if (k % o.factorsEvery === 0) {
      const rho = this.factorUpdates === 0 ? 0 : o.factorDecay;
      gemmStrided(true, false, a, a, n, (1 - rho) / n, aRows, 0, a, aRows, 0, a, rho, this.A, 0, a);
      gemmStrided(true, false, g, g, n, (1 - rho) / n, gRows, 0, g, gRows, 0, g, rho, this.G, 0, g);
      this.factorUpdates++;
    }
    const refresh = k % o.basisEvery === 0;
    if (refresh) {
      [this.uA, this.lA] = decompose(this.A, a);
      [this.uG, this.lG] = decompose(this.G, g);
      this.scalingUpdates = 0;
    }
    if (o.approximation === "ekfac" && (refresh || k % o.scalingEvery === 0)) {
      const rho = this.scalingUpdates === 0 ? 0 : o.scalingDecay;
      const sStar = new Float64Array(g * a);
      const gradN = new Float64Array(g * a);
      for (let e = 0; e < n; e++) {
        for (let i = 0; i < g; i++)
          for (let j = 0; j < a; j++) gradN[i * a + j] = (gRows[e * g + i] as number) * (aRows[e * a + j] as number);
        const r = rotate(this.uG, this.uA, gradN, g, a);
        for (let i = 0; i < g * a; i++) sStar[i] = (sStar[i] as number) + (r[i] as number) ** 2 / n;
      }
      for (let i = 0; i < g * a; i++) this.S[i] = rho * (this.S[i] as number) + (1 - rho) * (sStar[i] as number);
      this.scalingUpdates++;
    }
    const r = rotate(this.uG, this.uA, grad, g, a);
    for (let i = 0; i < g; i++) {
      for (let j = 0; j < a; j++) {
        const s =
          o.approximation === "ekfac" ? (this.S[i * a + j] as number) : (this.lG[i] as number) * (this.lA[j] as number);
        r[i * a + j] = (r[i * a + j] as number) / (s + o.damping);
      }
    }
    const delta = rotateBack(this.uG, this.uA, r, g, a);
    let nu = 1;
    if (o.klClip !== null) {
      let dot = 0;
      for (let i = 0; i < g * a; i++) dot += (delta[i] as number) * (grad[i] as number);
      if (dot > 0 && Number.isFinite(dot)) nu = Math.min(1, Math.sqrt(o.klClip / (o.learningRate ** 2 * dot)));
    }
    for (let i = 0; i < g * a; i++) {
      const d = nu * (delta[i] as number);
      const b = o.momentum > 0 && k > 0 ? o.momentum * (this.buf[i] as number) + d : d;
      this.buf[i] = b;
      theta[i] = (theta[i] as number) - o.learningRate * b;
    }
    this.steps++;
  }
}

function identity(n: number): Float64Array {
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) u[i * n + i] = 1;
  return u;
}

function decompose(x: Float64Array, n: number): [Float64Array, Float64Array] {
  const sym = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) sym[i * n + j] = 0.5 * ((x[i * n + j] as number) + (x[j * n + i] as number));
  const r = eigh({ rows: n, cols: n, data: sym }, { vectors: true });
  if (r.status !== "success" || r.vectors === null) throw new Error("previous-curvature: eigh failed");
  return [Float64Array.from(r.vectors.data), Float64Array.from(r.values, (v) => Math.max(0, v))];
}

/** U_Gᵀ M U_A (naive). */
function rotate(uG: Float64Array, uA: Float64Array, m: Float64Array, g: number, a: number): Float64Array {
  const t = new Float64Array(g * a);
  for (let i = 0; i < g; i++)
    for (let j = 0; j < a; j++) {
      let s = 0;
      for (let k = 0; k < g; k++) s += (uG[k * g + i] as number) * (m[k * a + j] as number);
      t[i * a + j] = s;
    }
  const out = new Float64Array(g * a);
  for (let i = 0; i < g; i++)
    for (let j = 0; j < a; j++) {
      let s = 0;
      for (let l = 0; l < a; l++) s += (t[i * a + l] as number) * (uA[l * a + j] as number);
      out[i * a + j] = s;
    }
  return out;
}

/** U_G M U_Aᵀ (naive). */
function rotateBack(uG: Float64Array, uA: Float64Array, m: Float64Array, g: number, a: number): Float64Array {
  const t = new Float64Array(g * a);
  for (let i = 0; i < g; i++)
    for (let j = 0; j < a; j++) {
      let s = 0;
      for (let k = 0; k < g; k++) s += (uG[i * g + k] as number) * (m[k * a + j] as number);
      t[i * a + j] = s;
    }
  const out = new Float64Array(g * a);
  for (let i = 0; i < g; i++)
    for (let j = 0; j < a; j++) {
      let s = 0;
      for (let l = 0; l < a; l++) s += (t[i * a + l] as number) * (uA[j * a + l] as number);
      out[i * a + j] = s;
    }
  return out;
}
