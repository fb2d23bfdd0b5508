/**
 * EKFAC's scaling: the second moment of per-example gradients in a Kronecker-factored eigenbasis.
 *
 *   S*[i,j] = (1/N) Σ_n ((U_Gᵀ ∇_n U_A)[i,j])²,   ∇_n = Σ_t g_{n,t} ā_{n,t}ᵀ   (gDim × aDim)
 *
 * Source: George et al. 2018, §3.2 and Algorithm 1 (line "s* ← E[(U_Gᵀ ∇_n U_A)²]"); MATH.md §3, §6.
 * With U_A = I and U_G = I it is the diagonal of the Fisher (DiagonalFisher reuses this kernel).
 *
 * Strategies (all give the same S*; a test checks they agree to rounding):
 * - "gram": with rotated rows Ã = ā U_A, G̃ = g U_G,
 *     S* = (1/N) Σ_n Σ_{t,t'} (G̃_{n,t} ∘ G̃_{n,t'})ᵀ (Ã_{n,t} ∘ Ã_{n,t'})
 *   stacked over the T(T+1)/2 unordered pairs (t ≤ t', weight 2 off the diagonal) as ONE product.
 *   For T = 1 (dense layers) this is the paper's rank-one trick S* = (1/N)(G̃∘G̃)ᵀ(Ã∘Ã).
 * - "rotate-rows": Ã, G̃ as above, then per example M_n = G̃_nᵀ Ã_n (a batched product over T), S* += M_n∘M_n.
 * - "rotate-gradients": per example ∇_n = g_nᵀ a_n, then M_n = U_Gᵀ ∇_n U_A, S* += M_n∘M_n.
 * Multiply-add counts (a = aDim, g = gDim, R = N·T rows; rotation terms vanish with an identity basis):
 *   gram R(a²+g²) + N·T(T+1)/2·g·a;  rotate-rows R(a²+g²) + R·g·a;  rotate-gradients R·g·a + N(g²a + ga²),
 * with the squares taken of the sizes the rotations work in when a basis has deflated coordinates
 * (MATH.md §9: a' = a less U_A's unit columns, so R·a'² for the rows and g·a'² for a gradient).
 * `chooseScalingStrategy` picks the smallest; gram wins for T = 1, rotate-gradients for large T.
 *
 * Deviation: none in the estimator. Allocation: none; the caller passes workspaces sized by
 * `scalingRowsSize` (see `ScalingWorkspace`).
 */
import { type FloatArray, gemmStrided, squaresFlushedInto } from "@ekfac-ts/linalg";
import { FLUSH32, flushTiny32, tinyNonzero } from "../internal/stats.ts";
import type { BasisRotation } from "./basis-rotation.ts";

/** How S* is computed; every strategy gives the same S* (see the file header for the formulas and costs). */
export type ScalingStrategy = "gram" | "rotate-rows" | "rotate-gradients";

/**
 * Multiply-adds of computing S* with `strategy` for N = `n` examples of `t` positions (rotations omitted when
 * `identityBasis`). `aRotated` and `gRotated` are the sizes the rotations work in (default aDim, gDim):
 * a basis with unit columns (deflated coordinates, `KroneckerBlock.rotationSizes()`) rotates a row of
 * length a in aRotated² multiply-adds (basis-rotation.ts); the copies of the unit coordinates are not
 * counted.
 */
export function scalingCost(
  strategy: ScalingStrategy,
  n: number,
  t: number,
  aDim: number,
  gDim: number,
  identityBasis: boolean,
  aRotated = aDim,
  gRotated = gDim,
): number {
  const r = n * t;
  const rotateRows = identityBasis ? 0 : r * (aRotated * aRotated + gRotated * gRotated);
  switch (strategy) {
    case "gram":
      return rotateRows + ((n * t * (t + 1)) / 2) * gDim * aDim;
    case "rotate-rows":
      return rotateRows + r * gDim * aDim;
    case "rotate-gradients":
      return r * gDim * aDim + (identityBasis ? 0 : n * rotationCost(aDim, gDim, aRotated, gRotated));
  }
}

/** Multiply-adds of U_Gᵀ X U_A for a gDim × aDim matrix X with bases that rotate in gRotated and aRotated dimensions. */
function rotationCost(aDim: number, gDim: number, aRotated: number, gRotated: number): number {
  return gRotated * gRotated * aDim + gDim * aRotated * aRotated;
}

/** The strategy with the fewest multiply-adds (`scalingCost`, same arguments) for this batch and layer. */
export function chooseScalingStrategy(
  n: number,
  t: number,
  aDim: number,
  gDim: number,
  identityBasis: boolean,
  aRotated = aDim,
  gRotated = gDim,
): ScalingStrategy {
  let best: ScalingStrategy = "gram";
  let bestCost = scalingCost("gram", n, t, aDim, gDim, identityBasis, aRotated, gRotated);
  for (const s of ["rotate-rows", "rotate-gradients"] as const) {
    const c = scalingCost(s, n, t, aDim, gDim, identityBasis, aRotated, gRotated);
    if (c < bestCost) {
      best = s;
      bestCost = c;
    }
  }
  return best;
}

/**
 * Where the step's rotated gradient U_Gᵀ ∇ U_A comes from (kronecker-block.ts, "Shared rows"):
 * - "rotate": two products on ∇, g·a·(g + a) multiply-adds;
 * - "from-rows": (1/N) G̃ᵀ Ã from the rotated rows S* was just built from, R·g·a, plus the check
 *   that ∇ = (1/N) gᵀ ā (`sharedRowsCheckCost`). Valid when the captured g are the training loss's
 *   own (empirical Fisher). Needs rows (not "rotate-gradients") and a basis.
 * - "from-loss-rows": the captured g realise another Fisher (true, curvature propagation), but the
 *   producer also handed over the loss's own signals g_L (`LayerStatistics.lossG`): S*'s Ã is shared,
 *   G̃_L = g_L U_G costs R·g² more.
 * Each layer takes whichever source has fewer multiply-adds. (Until 2026-12-03 "from-loss-rows" also had
 * to be 3× cheaper: measured then, its batch-shaped products looked slower per flop than the square
 * rotations — but those runs had subnormal numbers in the rows (internal/stats.ts, FLUSH32). Re-measured
 * after the flushes with packages/bench/src/examples/loss-rows.ts at batch 250/256, three runs: the
 * rows made the EKFAC step 1–4 % faster on the demo autoencoder and 3–13 % on the 784-1000-500-10 MLP.)
 * Since ∇ = (1/N) Σ_rows g ā ᵀ (MATH.md §1), U_Gᵀ ∇ U_A = (1/N) (g U_G)ᵀ (ā U_A) = (1/N) G̃ᵀ Ã.
 */
export type RotatedGradientSource = "rotate" | "from-rows" | "from-loss-rows";

/** Random directions of the probed shared-rows check (`sharedRowsCheck`). */
export const SHARED_ROWS_PROBES = 8;

/**
 * How the next `precondition` checks that its gradient is the rows' own, ∇ = (1/N) gᵀā
 * (kronecker-block.ts, `isStatisticsGradient`): "exact" forms D = (1/N) gᵀā (R·g·a + g·a
 * multiply-adds), "probes" compares ∇V with (1/N) gᵀ(āV) for SHARED_ROWS_PROBES fixed random
 * directions V (Freivalds' check: 8·(R·a + R·g + g·a)). Whichever is cheaper; "exact" on ties. Until
 * 2026-12-03 the check was always exact, which cost as much as the shared product itself.
 */
export function sharedRowsCheck(r: number, aDim: number, gDim: number): "exact" | "probes" {
  return SHARED_ROWS_PROBES * (r * aDim + r * gDim + gDim * aDim) < r * gDim * aDim + gDim * aDim ? "probes" : "exact";
}

/** Multiply-adds of `sharedRowsCheck`'s choice for R rows. */
export function sharedRowsCheckCost(r: number, aDim: number, gDim: number): number {
  return sharedRowsCheck(r, aDim, gDim) === "probes"
    ? SHARED_ROWS_PROBES * (r * aDim + r * gDim + gDim * aDim)
    : r * gDim * aDim + gDim * aDim;
}

/** Multiply-adds of forming the rotated gradient from `source` (`scalingCost`'s arguments, rotated sizes included). */
export function rotatedGradientCost(
  source: RotatedGradientSource,
  n: number,
  t: number,
  aDim: number,
  gDim: number,
  aRotated = aDim,
  gRotated = gDim,
): number {
  const r = n * t;
  switch (source) {
    case "rotate":
      return rotationCost(aDim, gDim, aRotated, gRotated);
    case "from-rows":
      return r * gDim * aDim + sharedRowsCheckCost(r, aDim, gDim);
    case "from-loss-rows":
      return r * gRotated * gRotated + r * gDim * aDim + sharedRowsCheckCost(r, aDim, gDim);
  }
}

/**
 * The cheaper source for a layer, given S*'s strategy (rows are shared only where S* formed them) and
 * which rows of the loss's signals exist: "statistics" (the captured g are the loss's), "loss" (g_L
 * captured beside a sampled Fisher's g) or "none" (always "rotate"). `aRotated`, `gRotated` as in
 * `scalingCost`.
 */
export function chooseRotatedGradientSource(
  strategy: ScalingStrategy,
  n: number,
  t: number,
  aDim: number,
  gDim: number,
  signals: "statistics" | "loss" | "none" = "statistics",
  aRotated = aDim,
  gRotated = gDim,
): RotatedGradientSource {
  if (strategy === "rotate-gradients" || signals === "none") return "rotate";
  const shared = signals === "statistics" ? "from-rows" : "from-loss-rows";
  return rotatedGradientCost(shared, n, t, aDim, gDim, aRotated, gRotated) <
    rotatedGradientCost("rotate", n, t, aDim, gDim, aRotated, gRotated)
    ? shared
    : "rotate";
}

/**
 * Workspaces of `scalingInto`: `rows` holds `scalingRowsSize(…)` elements, `m1` and `m2` gDim·aDim each
 * (three distinct buffers because a product must not write into a buffer it reads).
 */
export interface ScalingWorkspace<T extends FloatArray = Float64Array> {
  rows: T;
  m1: T;
  m2: T;
}

/** Float64 elements `ScalingWorkspace.rows` needs. */
export function scalingRowsSize(strategy: ScalingStrategy, n: number, t: number, aDim: number, gDim: number): number {
  const r = n * t;
  switch (strategy) {
    case "gram":
      return r * (aDim + gDim) + ((n * t * (t + 1)) / 2) * (aDim + gDim);
    case "rotate-rows":
      return r * (aDim + gDim);
    case "rotate-gradients":
      return 0;
  }
}

/**
 * Writes S* (gDim × aDim, row-major, at `out[outOff…]`) for one Kronecker block, in the precision of
 * its arguments (all float64, or all float32 for the float32 rotations of kronecker-block.ts).
 * `a` holds rows = N·T rows of length aDim from `aOff`, `g` the matching rows of length gDim from `gOff`
 * (example-major: row n·T + t). `uA`/`uG` are the eigenbases (basis-rotation.ts: the products skip the
 * coordinates a factor does not see), or null for the identity basis.
 */
export function scalingInto<T extends FloatArray>(
  out: T,
  outOff: number,
  a: T,
  aOff: number,
  g: T,
  gOff: number,
  n: number,
  t: number,
  aDim: number,
  gDim: number,
  uA: BasisRotation<T> | null,
  uG: BasisRotation<T> | null,
  strategy: ScalingStrategy,
  workspace: ScalingWorkspace<T>,
): T {
  const { rows: ws, m1, m2 } = workspace;
  const r = n * t;
  const ga = gDim * aDim;

  // Rotated rows Ã (r × aDim) at 0 and G̃ (r × gDim) after it, for the strategies that read them;
  // rotate-gradients (and the identity basis) read a and g directly.
  let at = a;
  let atBase = aOff;
  let gt = g;
  let gtBase = gOff;
  if (uA !== null && uG !== null && strategy !== "rotate-gradients") {
    uA.right(a, aOff, r, ws, 0, false);
    uG.right(g, gOff, r, ws, r * aDim, false);
    // Float32: entries below FLUSH32 stored as 0; gram with T = 1 does it in its one pass below.
    if (ws instanceof Float32Array && !(strategy === "gram" && t === 1)) flushTiny32(ws, r * (aDim + gDim));
    at = ws;
    atBase = 0;
    gt = ws;
    gtBase = r * aDim;
  }

  if (strategy !== "gram") {
    // Per example, ∇̃_e = G̃_eᵀ Ã_e (rows rotated above), or ∇_e = g_eᵀ a_e rotated after as U_Gᵀ ∇_e U_A
    // (rotate-gradients); S* is the mean of the squares.
    out.fill(0, outOff, outOff + ga);
    for (let e = 0; e < n; e++) {
      const ge = gtBase + e * t * gDim;
      const ae = atBase + e * t * aDim;
      gemmStrided(true, false, gDim, aDim, t, 1, gt, ge, gDim, at, ae, aDim, 0, m1, 0, aDim);
      if (uA !== null && uG !== null && strategy === "rotate-gradients") {
        // m2 = U_Gᵀ ∇_e, then m1 = m2 U_A (float32 operands flushed as the rows above).
        if (m1 instanceof Float32Array) flushTiny32(m1, ga);
        uG.left(m1, 0, aDim, m2, 0, true);
        if (m2 instanceof Float32Array) flushTiny32(m2, ga);
        uA.right(m2, 0, gDim, m1, 0, false);
      }
      for (let k = 0; k < ga; k++) {
        const v = m1[k] as number;
        out[outOff + k] = (out[outOff + k] as number) + v * v;
      }
    }
    const inv = 1 / n;
    for (let k = 0; k < ga; k++) out[outOff + k] = (out[outOff + k] as number) * inv;
    return out;
  }

  // gram: pair rows P_g (pairs × gDim, weighted) and P_a (pairs × aDim), then S* = (1/N) P_gᵀ P_a.
  // In float32 an entry below FLUSH32 is stored as 0 (internal/stats.ts: no subnormal products), as
  // in the rotated rows above. With
  // T = 1 the pair rows' column means are the factors' eigenvalues, so this moves S*_ij by at most
  // FLUSH32·(λ_G[i] + λ_A[j]), the direction by that over ε relative: < 1e-7 for ε ≥ 1e-8, norms ≤ 1e4.
  const tiny = ws instanceof Float32Array ? FLUSH32 : 0;
  const pairs = (n * t * (t + 1)) / 2;
  const pgOff = r * (aDim + gDim);
  const paOff = pgOff + pairs * gDim;
  if (t === 1) {
    // One pair per example, weight 1: P_a = Ã∘Ã and P_g = G̃∘G̃. Rotated rows (Ã then G̃ at the start of
    // the workspace) are squared in one pass into the same order after them, P_a then P_g, and get
    // their own flush there; the captured rows (identity basis) are read where they are.
    if (at === ws) {
      const len = n * (aDim + gDim);
      squaresFlushedInto(ws, 0, ws, len, len, tiny, true);
      const pa = len;
      const pg = len + n * aDim;
      gemmStrided(true, false, gDim, aDim, n, 1 / n, ws, pg, gDim, ws, pa, aDim, 0, out, outOff, aDim);
      return out;
    }
    squaresFlushedInto(gt, gtBase, ws, pgOff, n * gDim, tiny, false);
    squaresFlushedInto(at, atBase, ws, paOff, n * aDim, tiny, false);
    gemmStrided(true, false, gDim, aDim, n, 1 / n, ws, pgOff, gDim, ws, paOff, aDim, 0, out, outOff, aDim);
    return out;
  }
  let p = 0;
  for (let e = 0; e < n; e++) {
    for (let t1 = 0; t1 < t; t1++) {
      for (let t2 = t1; t2 < t; t2++) {
        const w = t1 === t2 ? 1 : 2;
        const g1 = gtBase + (e * t + t1) * gDim;
        const g2 = gtBase + (e * t + t2) * gDim;
        const pg = pgOff + p * gDim;
        for (let i = 0; i < gDim; i++) {
          const v = w * (gt[g1 + i] as number) * (gt[g2 + i] as number);
          ws[pg + i] = tinyNonzero(v, tiny) ? 0 : v;
        }
        const a1 = atBase + (e * t + t1) * aDim;
        const a2 = atBase + (e * t + t2) * aDim;
        const pa = paOff + p * aDim;
        for (let j = 0; j < aDim; j++) {
          const v = (at[a1 + j] as number) * (at[a2 + j] as number);
          ws[pa + j] = tinyNonzero(v, tiny) ? 0 : v;
        }
        p++;
      }
    }
  }
  gemmStrided(true, false, gDim, aDim, pairs, 1 / n, ws, pgOff, gDim, ws, paOff, aDim, 0, out, outOff, aDim);
  return out;
}
