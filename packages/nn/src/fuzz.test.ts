/**
 * Fuzz suite over nn's public entry points (issue 19): layer construction with random (often bad)
 * arguments, forwards on random shapes including empty batches, train and eval mode, losses and
 * samplers on random logits with NaN/±∞ and random labels. Every call ends in a clear
 * TypeError/RangeError naming the layer or function, or a correct result (shapes, finiteness from
 * finite input, state that stays finite). Depth: FC_NUM_RUNS.
 */
import { type Tensor, tensor } from "@ekfac-ts/autodiff";
import { clearErrorOr, Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AvgPool2d, Dropout, LeakyReLU, MaxPool2d } from "./layers/basic.ts";
import { BatchNorm1d, BatchNorm2d } from "./layers/batchnorm.ts";
import { Conv2d } from "./layers/conv.ts";
import { Linear } from "./layers/linear.ts";
import { mseLoss, sampleCategorical, sigmoidCrossEntropy, softmaxCrossEntropy } from "./losses.ts";
import type { Module } from "./module.ts";

const allFinite = (x: ArrayLike<number>): boolean => Array.prototype.every.call(x, Number.isFinite);
const arg = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -1, max: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(0.5, Number.NaN, Number.POSITIVE_INFINITY, -0) },
);
const real = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: -2, max: 2, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5, 0, 1) },
);

function input(shape: number[], seed: number): Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  return tensor(new Rng(seed).fillNormal(new Float64Array(n)), shape, { dtype: "float64" });
}

describe("nn fuzz", () => {
  it("layers built from random arguments: a RangeError naming the layer, or a layer whose forward works on random shapes", () => {
    fc.assert(
      fc.property(
        arg,
        arg,
        arg,
        real,
        real,
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.integer(),
        (p, q, r, x, y, batch, train, seed) => {
          const f64 = { dtype: "float64" as const };
          const builders: [string, () => Module, number[]][] = [
            ["Linear", () => new Linear(p, q, f64), [batch, p]],
            ["Conv2d", () => new Conv2d(p, q, r, f64), [batch, p, 3, 3]],
            ["BatchNorm", () => new BatchNorm1d(p, { ...f64, eps: x, momentum: y }), [batch, p]],
            ["BatchNorm", () => new BatchNorm2d(p, { ...f64, momentum: y }), [batch, p, 2, 2]],
            ["MaxPool2d", () => new MaxPool2d(r, { stride: q }), [batch, 1, 3, 3]],
            ["AvgPool2d", () => new AvgPool2d(r, { padding: q }), [batch, 1, 3, 3]],
            ["LeakyReLU", () => new LeakyReLU(x), [batch, 2]],
            ["Dropout", () => new Dropout(x, seed), [batch, 3]],
          ];
          for (const [name, build, shape] of builders) {
            const layer = clearErrorOr(name, build);
            if (layer === undefined) continue;
            layer.train(train);
            if (!shape.every((d) => Number.isInteger(d) && d >= 0)) continue;
            const out = clearErrorOr(name, () => layer.forward(input(shape, seed)));
            if (out === undefined) continue;
            expect(out.shape[0]).toBe(batch);
            expect(allFinite(out.data), `${name} output`).toBe(true);
            for (const [, data] of layer.stateDict()) expect(allFinite(data.data), `${name} state`).toBe(true);
          }
        },
      ),
    );
  });

  it("BatchNorm running statistics stay finite over random batch sizes (0, 1 included) in train mode", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        (sizes, seed) => {
          const bn = new BatchNorm1d(2, { dtype: "float64" });
          for (const [k, n] of sizes.entries()) bn.forward(input([n, 2], seed + k));
          expect(allFinite(bn.runningMean) && allFinite(bn.runningVar)).toBe(true);
        },
      ),
    );
  });

  it("losses on random logits and labels: a RangeError/TypeError naming the loss exactly for invalid labels or targets, else the loss's value (finite, ≥ 0 and within its bounds from finite logits)", () => {
    // Logits: finite (mostly moderate, some large enough that a naive exp overflows); special values
    // (NaN, ±∞) injected into a minority of cases.
    const finiteLogit = fc.oneof(
      { weight: 4, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
      { weight: 1, arbitrary: fc.double({ min: -1e3, max: 1e3, noNaN: true }) },
    );
    const specialLogit = fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY);
    const size = fc.oneof(
      { weight: 1, arbitrary: fc.constant(0) },
      { weight: 9, arbitrary: fc.integer({ min: 1, max: 5 }) },
    );
    const bad = fc.constantFrom<unknown>(-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 7, "1");
    const caseArb = fc
      .tuple(size, size, fc.constantFrom("float32" as const, "float64" as const))
      .chain(([n, c, dtype]) =>
        fc.record({
          n: fc.constant(n),
          c: fc.constant(c),
          dtype: fc.constant(dtype),
          logits: fc.array(finiteLogit, { minLength: n * c, maxLength: n * c }),
          specials: fc.oneof(
            { weight: 6, arbitrary: fc.constant<[number, number][]>([]) },
            { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), specialLogit), { minLength: 1, maxLength: 3 }) },
          ),
          // Labels: n classes in [0, c) mostly; a minority of another length, out of range, not integers,
          // or not an array at all.
          labels: fc.oneof(
            { weight: 8, arbitrary: fc.array(fc.nat(Math.max(c - 1, 0)), { minLength: n, maxLength: n }) },
            {
              weight: 1,
              arbitrary: fc
                .tuple(fc.array(fc.nat(Math.max(c - 1, 0)), { minLength: n, maxLength: n }), fc.nat(), bad)
                .map(([ys, k, v]) => (ys.length === 0 ? [v] : ys.map((y, i) => (i === k % ys.length ? v : y)))),
            },
            {
              weight: 1,
              arbitrary: fc.oneof(
                fc.array(fc.nat(Math.max(c - 1, 0)), { maxLength: 6 }),
                fc.constantFrom<unknown>(null, undefined, 3, {}, tensor([0], [1])),
              ),
            },
          ),
          labelsTyped: fc.boolean(),
          // Sigmoid targets: uniform in [0, 1] (ends included) mostly; a minority with one entry outside
          // (or NaN), of another shape, or of the other element type.
          targets: fc.array(
            fc.oneof(
              { weight: 9, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
              { weight: 1, arbitrary: fc.constantFrom(0, 1) },
            ),
            {
              minLength: n * c,
              maxLength: n * c,
            },
          ),
          targetFault: fc.oneof(
            { weight: 8, arbitrary: fc.constant<null>(null) },
            {
              weight: 2,
              arbitrary: fc.oneof(
                fc.tuple(
                  fc.constant("value" as const),
                  fc.nat(),
                  fc.constantFrom(-0.5, 1.5, -1e-300, 1 + 2 ** -52, Number.NaN, Number.POSITIVE_INFINITY),
                ),
                fc.tuple(fc.constant("shape" as const), fc.nat(), fc.constant(0)),
                fc.tuple(fc.constant("dtype" as const), fc.nat(), fc.constant(0)),
              ),
            },
          ),
        }),
      );
    let runs = 0;
    let softmaxChecked = 0;
    let sigmoidChecked = 0;
    const defaultRuns = fc.readConfigureGlobal().numRuns ?? 100;
    fc.assert(
      fc.property(caseArb, (k) => {
        runs++;
        const { n, c, dtype } = k;
        const zv = k.logits.slice();
        for (const [i, v] of k.specials) if (zv.length > 0) zv[i % zv.length] = v;
        const z = tensor(zv, [n, c], { dtype });
        const zs = Array.from(z.data); // the logits as stored (float32-rounded for float32)
        const finiteZ = allFinite(zs);
        const eps = dtype === "float32" ? 1e-5 : 1e-12;

        // softmaxCrossEntropy: valid ⇔ an integer label in [0, c) per row, n ≥ 1.
        const labels =
          k.labelsTyped && Array.isArray(k.labels) && k.labels.every((y) => typeof y === "number")
            ? Float64Array.from(k.labels as number[])
            : (k.labels as unknown as number[]);
        const labelsValid =
          n >= 1 &&
          (Array.isArray(labels) || labels instanceof Float64Array) &&
          labels.length === n &&
          Array.from(labels as ArrayLike<unknown>).every(
            (y) => Number.isInteger(y) && (y as number) >= 0 && (y as number) < c,
          );
        const ce = clearErrorOr("softmaxCrossEntropy", () => softmaxCrossEntropy(z, labels));
        expect(ce !== undefined, `softmaxCrossEntropy accepted ${JSON.stringify(labels)} for [${n}, ${c}]`).toBe(
          labelsValid,
        );
        if (ce !== undefined && finiteZ) {
          // ℓ_i = logsumexp(z_i) − z_{i,y}: max_j z_ij − z_{i,y} ≤ ℓ_i ≤ log c + max_j z_ij − z_{i,y}.
          let gap = 0;
          let ref = 0;
          let scale = 1;
          for (let i = 0; i < n; i++) {
            const row = zs.slice(i * c, (i + 1) * c);
            const m = Math.max(...row);
            const zy = row[(labels as ArrayLike<number>)[i] as number] as number;
            gap += m - zy;
            ref += m + Math.log(row.reduce((p, q) => p + Math.exp(q - m), 0)) - zy;
            scale = Math.max(scale, ...row.map(Math.abs));
          }
          gap /= n;
          ref /= n;
          const loss = ce.item();
          const tol = eps * 16 * scale * (c + 1);
          expect(Number.isFinite(loss)).toBe(true);
          expect(loss).toBeGreaterThanOrEqual(0);
          expect(loss).toBeGreaterThanOrEqual(gap - tol);
          expect(loss).toBeLessThanOrEqual(Math.log(c) + gap + tol);
          expect(Math.abs(loss - ref)).toBeLessThanOrEqual(tol);
          softmaxChecked++;
        }

        // sigmoidCrossEntropy / mseLoss targets.
        const fault = k.targetFault;
        const tv = k.targets.slice();
        if (fault?.[0] === "value" && tv.length > 0) tv[fault[1] % tv.length] = fault[2];
        const tShape = fault?.[0] === "shape" ? (fault[1] % 2 === 0 ? [n + 1, c] : [n, c + 1]) : [n, c];
        const tDtype = fault?.[0] === "dtype" ? (dtype === "float32" ? "float64" : "float32") : dtype;
        const tLen = (tShape[0] as number) * (tShape[1] as number);
        const t = tensor(tLen === tv.length ? tv : new Array(tLen).fill(0.5), tShape, { dtype: tDtype });
        const ts = Array.from(t.data);
        const sameLayout = tShape[0] === n && tShape[1] === c && tDtype === dtype;
        const targetsValid = n >= 1 && sameLayout && ts.every((y) => y >= 0 && y <= 1);
        const s = clearErrorOr("sigmoidCrossEntropy", () => sigmoidCrossEntropy(z, t));
        expect(
          s !== undefined,
          `sigmoidCrossEntropy accepted targets ${JSON.stringify(ts)} [${tShape}] ${tDtype}`,
        ).toBe(targetsValid);
        if (s !== undefined && finiteZ) {
          // Bernoulli NLL: 0 ≤ softplus(s) − y·s ≤ softplus(|s|) for y ∈ [0, 1], summed over D, meaned over N.
          let ref = 0;
          let upper = 0;
          let scale = 1;
          for (let i = 0; i < n * c; i++) {
            const x = zs[i] as number;
            const sp = Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
            ref += sp - (ts[i] as number) * x;
            upper += Math.abs(x) + Math.log1p(Math.exp(-Math.abs(x)));
            scale = Math.max(scale, Math.abs(x));
          }
          const loss = s.item();
          const tol = eps * 16 * scale * (c + 1);
          expect(Number.isFinite(loss)).toBe(true);
          expect(loss).toBeGreaterThanOrEqual(0);
          expect(loss).toBeLessThanOrEqual(upper / n + tol);
          expect(Math.abs(loss - ref / n)).toBeLessThanOrEqual(tol);
          sigmoidChecked++;
        }

        // mseLoss: finite targets of the logits' shape and type (a NaN or ±∞ target is refused); ½‖z − t‖²/n.
        const m = clearErrorOr("mseLoss", () => mseLoss(z, t));
        expect(m !== undefined).toBe(n >= 1 && sameLayout && allFinite(ts));
        if (m !== undefined && finiteZ) {
          let ref = 0;
          for (let i = 0; i < n * c; i++) ref += ((zs[i] as number) - (ts[i] as number)) ** 2;
          ref *= 0.5 / n;
          expect(m.item()).toBeGreaterThanOrEqual(0);
          expect(Math.abs(m.item() - ref)).toBeLessThanOrEqual(eps * 16 * (1 + ref));
        }
      }),
      { numRuns: Math.max(200, defaultRuns) },
    );
    // The success branches carry the checks: most generated cases must reach them.
    expect(softmaxChecked / runs).toBeGreaterThanOrEqual(0.3);
    expect(sigmoidChecked / runs).toBeGreaterThanOrEqual(0.3);
  });

  it("sampleCategorical on random logits (NaN, ±∞ included): a RangeError, or classes whose logits are finite", () => {
    const logit = fc.oneof(
      { weight: 4, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
      { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY) },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(logit, { minLength: 12, maxLength: 12 }),
        fc.integer(),
        (n, c, vals, seed) => {
          const z = tensor(vals.slice(0, n * c), [n, c], { dtype: "float64" });
          const k = clearErrorOr("sampleCategoricalInto", () => sampleCategorical(z, new Rng(seed)));
          if (k === undefined) return;
          for (let i = 0; i < n; i++) {
            const cls = k[i] as number;
            expect(cls >= 0 && cls < c).toBe(true);
            expect(Number.isFinite(z.data[i * c + cls] as number)).toBe(true);
          }
        },
      ),
    );
  });
});
