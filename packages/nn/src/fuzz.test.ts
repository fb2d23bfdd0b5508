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

  it("losses on random logits and labels: a RangeError naming the loss, or a finite loss from finite logits", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.oneof(fc.integer({ min: -1, max: 4 }), fc.constant(0.5)), { maxLength: 4 }),
        fc.integer(),
        (n, c, labels, seed) => {
          const z = input([n, c], seed);
          const ce = clearErrorOr("softmaxCrossEntropy", () => softmaxCrossEntropy(z, labels));
          if (ce !== undefined) expect(Number.isFinite(ce.item())).toBe(true);
          const t = input([n, c], seed + 1);
          const s = clearErrorOr("sigmoidCrossEntropy", () => sigmoidCrossEntropy(z, t));
          if (s !== undefined) expect(Number.isFinite(s.item())).toBe(true);
          const m = clearErrorOr("mseLoss", () => mseLoss(z, t));
          if (m !== undefined) expect(Number.isFinite(m.item())).toBe(true);
        },
      ),
    );
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
