// The contract of `QuadraticModelWorkspace` around its sums: every argument guard with its exact error
// type and message (the function and the argument named, as in the rest of the package); `begin` clears
// everything, including per-example sums left by a larger earlier batch, so a reused workspace gives the
// terms of a fresh one; `batchSize` in the terms is N only when Fisher statistics were added; δ₀ = null
// contributes nothing; float32 scale-and-shift statistics are widened exactly. The dense-oracle
// properties of the terms live in quadratic-model.test.ts.
import { Rng } from "@ekfac-ts/linalg";
import { describe, expect, it } from "vitest";
import { type DenseCase, randomCase } from "../../test/dense-reference.ts";
import { QuadraticModelWorkspace, type QuadraticTerms } from "./quadratic-model.ts";

const rng = new Rng(20261202);
const vec = (n: number) => rng.fillNormal(new Float64Array(n));
const sizeOf = (c: DenseCase) => c.shape.outDim * (c.shape.inDim + (c.shape.hasBias ? 1 : 0));

function layerTerms(ws: QuadraticModelWorkspace, c: DenseCase, v: Float64Array[], prev: boolean): QuadraticTerms {
  ws.begin(c.stats.batchSize);
  ws.addLayer(c.shape, c.stats, v[0] as Float64Array, prev ? (v[1] as Float64Array) : null, v[2] as Float64Array);
  return { ...ws.terms() };
}

/** Every one of the nine terms (batch size, three curvatures, three inner products, two linear terms) is 0. */
function expectAllZero(terms: QuadraticTerms): void {
  const entries = Object.entries({ ...terms });
  expect(entries).toHaveLength(9);
  expect(entries.filter(([, v]) => v !== 0)).toEqual([]);
}

describe("QuadraticModelWorkspace: sums, reuse and guards", () => {
  it("begin clears every sum: a reused workspace (larger batch first) gives a fresh workspace's terms", () => {
    const big = randomCase(1, "conv2d", 4, 3, true, 7, 2, 2);
    const small = randomCase(2, "conv2d", 4, 3, true, 3, 2, 2);
    const vb = [0, 1, 2].map(() => vec(sizeOf(big)));
    const vs = [0, 1, 2].map(() => vec(sizeOf(small)));
    const ws = new QuadraticModelWorkspace();
    layerTerms(ws, big, vb, true);
    ws.addParameter(vec(3), vec(3), vec(3));
    const reused = layerTerms(ws, small, vs, true);
    const fresh = layerTerms(new QuadraticModelWorkspace(), small, vs, true);
    expect(reused).toEqual(fresh);
    expect(fresh.batchSize).toBe(3);
    // After begin alone every term is zero (and no Fisher statistics: batchSize 0).
    expectAllZero(ws.begin(5).terms());
  });

  it("a fresh workspace's terms are all zero (nothing accumulated yet)", () => {
    expectAllZero(new QuadraticModelWorkspace().terms());
  });

  it("previous = null adds no δ₀ terms; addParameter alone adds no Fisher terms and leaves batchSize 0", () => {
    const c = randomCase(3, "dense", 2, 3, true, 4);
    const v = [0, 1, 2].map(() => vec(sizeOf(c)));
    const t = layerTerms(new QuadraticModelWorkspace(), c, v, false);
    expect([t.curvature12, t.curvature22, t.inner12, t.inner22, t.linear2]).toEqual([0, 0, 0, 0, 0]);
    expect(t.curvature11).toBeGreaterThan(0);
    expect(t.batchSize).toBe(4);
    const ws = new QuadraticModelWorkspace().begin(4);
    const p = ws.addParameter(Float64Array.of(1, 2), Float64Array.of(3, -1), Float64Array.of(0.5, 1)).terms();
    expect({ ...p }).toEqual({
      batchSize: 0,
      curvature11: 0,
      curvature12: 0,
      curvature22: 0,
      inner11: 5,
      inner12: 1,
      inner22: 10,
      linear1: 2.5,
      linear2: 0.5,
    });
  });

  it("float32 scale-and-shift statistics give the terms of their float64 copies", () => {
    const [n, t, ch] = [3, 2, 2];
    const xhat = Float32Array.from(vec(n * t * ch));
    const g = Float32Array.from(vec(n * t * ch));
    const [d, p, gr] = [vec(2 * ch), vec(2 * ch), vec(2 * ch)] as [Float64Array, Float64Array, Float64Array];
    const narrow = {
      ...new QuadraticModelWorkspace()
        .begin(n)
        .addScaleShift({ batchSize: n, positions: t, xhat, g }, true, d, p, gr)
        .terms(),
    };
    const wide = {
      ...new QuadraticModelWorkspace()
        .begin(n)
        .addScaleShift(
          { batchSize: n, positions: t, xhat: Float64Array.from(xhat), g: Float64Array.from(g) },
          true,
          d,
          p,
          gr,
        )
        .terms(),
    };
    expect(narrow).toEqual(wide);
    expect(narrow.batchSize).toBe(n);
  });

  it("begin: batchSize must be a positive integer", () => {
    const ws = new QuadraticModelWorkspace();
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "3" as unknown as number]) {
      expect(() => ws.begin(n)).toThrow(
        new RangeError(`QuadraticModelWorkspace.begin: batchSize must be a positive integer (got ${n})`),
      );
    }
    expect(ws.begin(1)).toBe(ws);
  });

  it("every add before begin is a TypeError naming the method", () => {
    const ws = new QuadraticModelWorkspace();
    const c = randomCase(4, "dense", 1, 1, false, 2);
    const v = new Float64Array(1);
    const rows = { batchSize: 2, positions: 1, xhat: new Float64Array(2), g: new Float64Array(2) };
    expect(() => ws.addLayer(c.shape, c.stats, v, null, v)).toThrow(
      new TypeError("QuadraticModelWorkspace.addLayer: call begin(batchSize) first"),
    );
    expect(() => ws.addScaleShift(rows, false, v, null, v)).toThrow(
      new TypeError("QuadraticModelWorkspace.addScaleShift: call begin(batchSize) first"),
    );
    expect(() => ws.addParameter(v, null, v)).toThrow(
      new TypeError("QuadraticModelWorkspace.addParameter: call begin(batchSize) first"),
    );
  });

  it("vectors: typed arrays of the block's size, with `previous` null or a typed array", () => {
    const ws = new QuadraticModelWorkspace().begin(2);
    const c = randomCase(5, "dense", 2, 1, true, 2); // size 2·2 = 4
    const four = new Float64Array(4);
    const plain = [0, 0, 0, 0] as unknown as Float64Array;
    const fn = "QuadraticModelWorkspace.addLayer";
    expect(() => ws.addLayer(c.shape, c.stats, plain, null, four)).toThrow(
      new TypeError(`${fn}: direction must be a Float32Array or Float64Array`),
    );
    expect(() => ws.addLayer(c.shape, c.stats, four, null, plain)).toThrow(
      new TypeError(`${fn}: gradient must be a Float32Array or Float64Array`),
    );
    expect(() => ws.addLayer(c.shape, c.stats, four, plain, four)).toThrow(
      new TypeError(`${fn}: previous must be a Float32Array, a Float64Array or null`),
    );
    expect(() => ws.addLayer(c.shape, c.stats, four, undefined as unknown as null, four)).toThrow(
      new TypeError(`${fn}: previous must be a Float32Array, a Float64Array or null`),
    );
    expect(() => ws.addLayer(c.shape, c.stats, new Float64Array(5), null, four)).toThrow(
      new RangeError(`${fn}: direction has length 5, expected 4`),
    );
    expect(() => ws.addLayer(c.shape, c.stats, four, new Float32Array(3), four)).toThrow(
      new RangeError(`${fn}: previous has length 3, expected 4`),
    );
    expect(() => ws.addLayer(c.shape, c.stats, four, null, new Float32Array(3))).toThrow(
      new RangeError(`${fn}: gradient has length 3, expected 4`),
    );
    expect(() =>
      ws.addLayer(c.shape, c.stats, Float32Array.from(four), Float32Array.from(four), new Float32Array(4)),
    ).not.toThrow();
    // addParameter takes its size from `direction`; a missing direction is the same TypeError.
    const p = "QuadraticModelWorkspace.addParameter";
    expect(() => ws.addParameter(undefined as unknown as Float64Array, null, four)).toThrow(
      new TypeError(`${p}: direction must be a Float32Array or Float64Array`),
    );
    expect(() => ws.addParameter(four, null, new Float64Array(3))).toThrow(
      new RangeError(`${p}: gradient has length 3, expected 4`),
    );
  });

  it("addLayer: the statistics' batch size must be the one passed to begin", () => {
    const c = randomCase(6, "dense", 1, 2, false, 3);
    const ws = new QuadraticModelWorkspace().begin(4);
    const v = new Float64Array(2);
    expect(() => ws.addLayer(c.shape, c.stats, v, null, v)).toThrow(
      new RangeError("QuadraticModelWorkspace.addLayer: statistics.batchSize = 3, expected 4 (as passed to begin)"),
    );
  });

  it("addScaleShift: statistics, hasShift, positions and the N·T·C row layout are checked", () => {
    const fn = "QuadraticModelWorkspace.addScaleShift";
    const ws = new QuadraticModelWorkspace().begin(2);
    const rows = { batchSize: 2, positions: 3, xhat: new Float64Array(12), g: new Float64Array(12) }; // C = 2
    const two = new Float64Array(2);
    const four = new Float64Array(4);
    for (const bad of [null, 3, "rows"]) {
      expect(() => ws.addScaleShift(bad as never, true, four, null, four)).toThrow(
        new TypeError(`${fn}: statistics must be an object`),
      );
    }
    expect(() => ws.addScaleShift(rows, 1 as unknown as boolean, four, null, four)).toThrow(
      new TypeError(`${fn}: hasShift must be a boolean`),
    );
    for (const key of ["xhat", "g"] as const) {
      expect(() =>
        ws.addScaleShift({ ...rows, [key]: Array.from(rows[key]) } as never, true, four, null, four),
      ).toThrow(new TypeError(`${fn}: statistics.${key} must be a Float32Array or Float64Array`));
    }
    expect(() => ws.addScaleShift({ ...rows, batchSize: 3 }, true, four, null, four)).toThrow(
      new RangeError(`${fn}: statistics.batchSize = 3, expected 2 (as passed to begin)`),
    );
    for (const t of [0, 1.5, -2, "3" as unknown as number]) {
      expect(() => ws.addScaleShift({ ...rows, positions: t }, true, four, null, four)).toThrow(
        new RangeError(`${fn}: statistics.positions must be a positive integer (got ${t})`),
      );
    }
    for (const [nx, ng] of [
      [13, 13],
      [12, 6],
      [0, 0],
      [6, 12],
    ] as const) {
      expect(() =>
        ws.addScaleShift({ ...rows, xhat: new Float64Array(nx), g: new Float64Array(ng) }, true, four, null, four),
      ).toThrow(
        new RangeError(
          `${fn}: statistics.xhat and statistics.g must both hold N·T·C = 6·C entries (got ${nx} and ${ng})`,
        ),
      );
    }
    // C = 2: 4 entries with a shift, 2 without.
    expect(() => ws.addScaleShift(rows, false, four, null, four)).toThrow(
      new RangeError(`${fn}: direction has length 4, expected 2`),
    );
    expect(() => ws.addScaleShift(rows, false, two, null, two)).not.toThrow();
    expect(() => ws.addScaleShift(rows, true, four, four, four)).not.toThrow();
  });
});
