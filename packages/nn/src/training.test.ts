import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchLoader } from "./data/batches.ts";
import { Dropout, Sequential } from "./layers/basic.ts";
import { BatchNorm1d } from "./layers/batchnorm.ts";
import { Linear } from "./layers/linear.ts";
import { softmaxCrossEntropy } from "./losses.ts";
import { mlp } from "./models.ts";
import type { Module } from "./module.ts";
import { accuracy, type BatchProgress, evaluate, fit } from "./training.ts";

/** A toy 3-class problem in R⁴: the label is the argmax of the first three coordinates. */
function toy(count: number, seed: number) {
  const inputs = new Rng(seed).fillNormal(new Float64Array(count * 4));
  const targets = Int32Array.from({ length: count }, (_, i) => {
    const r = inputs.subarray(i * 4, i * 4 + 3);
    return r.indexOf(Math.max(...r));
  });
  return { inputs, targets, count };
}

/** Plain SGD through the structural interface: nn never sees an optimizer package. */
function sgd(model: Module, lr: number) {
  return {
    steps: 0,
    step() {
      this.steps++;
      for (const p of model.parameters()) {
        const g = p.grad as Float64Array;
        for (let i = 0; i < p.value.length; i++) p.value[i] = (p.value[i] as number) - lr * (g[i] as number);
      }
    },
  };
}

const data = toy(200, 1);
const heldOut = toy(100, 2);
const model64 = () => mlp([4, 16, 3], "tanh", { seed: 3, dtype: "float64" });

describe("fit", () => {
  it("steps once per batch, and the epoch loss is the size-weighted mean of the batch losses", () => {
    const model = model64();
    const opt = sgd(model, 0.5);
    const seen: BatchProgress[] = [];
    const history = fit(model, opt, data, {
      epochs: 3,
      batchSize: 64, // 200 = 3·64 + 8: a short final batch
      inputShape: [4],
      loss: softmaxCrossEntropy,
      metrics: { accuracy },
      validation: heldOut,
      onBatch: (p) => seen.push(p),
    });
    expect(opt.steps).toBe(12);
    expect(seen.map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3]);
    for (const h of history) {
      const losses = seen.filter((p) => p.epoch === h.epoch).map((p) => p.loss);
      const weighted =
        (64 * ((losses[0] as number) + (losses[1] as number) + (losses[2] as number)) + 8 * (losses[3] as number)) /
        200;
      expect(h.loss).toBeCloseTo(weighted, 12);
      // Size-weighted batch accuracies are (Σ correct rows)/200: a multiple of 1/200 in [0, 1].
      const correct = (h.metrics.accuracy as number) * 200;
      expect(correct).toBeGreaterThanOrEqual(0);
      expect(correct).toBeLessThanOrEqual(200);
      expect(Math.abs(correct - Math.round(correct))).toBeLessThan(1e-9);
    }
    // Learning happened: the held-out loss fell and accuracy beats chance (1/3) clearly.
    const first = history[0]?.validation;
    const last = history[2]?.validation;
    expect(last?.loss as number).toBeLessThan(first?.loss as number);
    expect(last?.metrics.accuracy as number).toBeGreaterThan(0.6);
  });

  it("is reproducible: the same seed gives bit-identical histories, another seed another order", () => {
    const run = (seed: number) => {
      const model = model64();
      return fit(model, sgd(model, 0.3), data, {
        epochs: 2,
        batchSize: 32,
        inputShape: [4],
        loss: softmaxCrossEntropy,
        seed,
      });
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)[1]?.loss).not.toBe(run(6)[1]?.loss);
  });

  it("refuses bad arguments before training, naming the argument", () => {
    const model = model64();
    const before = Float64Array.from(model.parameters()[0]?.value as Float64Array);
    const base = { epochs: 1, batchSize: 10, inputShape: [4], loss: softmaxCrossEntropy };
    expect(() => fit(model, {} as never, data, base)).toThrow(/fit: optimizer must have a step\(\) method/);
    expect(() => fit(model, sgd(model, 1), data, { ...base, epochs: 0 })).toThrow(
      /options\.epochs must be an integer ≥ 1/,
    );
    expect(() => fit(model, sgd(model, 1), data, { ...base, inputShape: [2, 3] })).toThrow(
      /options\.inputShape must be positive integers with product 4/,
    );
    expect(() => fit(model, sgd(model, 1), data, { ...base, batchSize: 500, dropLast: true })).toThrow(/no full batch/);
    expect(model.parameters()[0]?.value).toEqual(before);
  });
});

describe("fit's training metrics", () => {
  it("are per-epoch means of the batch values weighted by batch size: a short last batch counts by its rows, a dropped one not at all", () => {
    // Targets are row indices, so a metric sees which rows its batch holds; the loss maps them to toy's labels.
    const base = toy(200, 1);
    const rows = { inputs: base.inputs, targets: Int32Array.from({ length: 200 }, (_, i) => i), count: 200 };
    const labelsOf = (r: ArrayLike<number>) => Array.from(r, (i) => base.targets[i] as number);
    const model = model64();
    // The optimizer leaves the parameters alone, so every row's output is known in advance.
    const outputs = noGrad(() => Array.from(model.forward(wrap(base.inputs, [200, 4])).data));
    const mean = (xs: number[]) => xs.reduce((p, q) => p + q, 0) / xs.length;
    const seed = 7;
    for (const dropLast of [false, true]) {
      const history = fit(model, { step() {} }, rows, {
        epochs: 3,
        batchSize: 64, // 200 = 3·64 + 8
        inputShape: [4],
        seed,
        dropLast,
        loss: (out, r) => softmaxCrossEntropy(out, labelsOf(r)),
        metrics: {
          size: (_, r) => r.length,
          first: (_, r) => r[0] as number,
          meanRow: (_, r) => mean(Array.from(r)),
          meanOutput: (out) => mean(Array.from(out.data).filter((_, k) => k % 3 === 0)),
          accuracy: (out, r) => accuracy(out, labelsOf(r)),
        },
      });
      expect(history).toHaveLength(3);
      // The same epochs' batches, from a loader with fit's seed: fit shuffles with BatchLoader({ rng: seed }).
      const loader = new BatchLoader(rows, { batchSize: 64, rng: seed, dropLast });
      const total = dropLast ? 192 : 200;
      const firsts: number[] = [];
      for (const h of history) {
        let first = 0;
        let visited: number[] = [];
        for (const b of loader.epoch()) {
          first += b.size * (b.indices[0] as number);
          visited = visited.concat(Array.from(b.indices));
        }
        expect(visited).toHaveLength(total);
        firsts.push(first / total);
        expect(h.metrics.first).toBeCloseTo(first / total, 10);
        expect(h.metrics.meanRow).toBeCloseTo(mean(visited), 10);
        expect(h.metrics.meanOutput).toBeCloseTo(mean(visited.map((i) => outputs[i * 3] as number)), 12);
        let correct = 0;
        for (const i of visited) {
          const o = outputs.slice(i * 3, i * 3 + 3);
          if (o.indexOf(Math.max(...o)) === base.targets[i]) correct++;
        }
        expect(h.metrics.accuracy).toBeCloseTo(correct / total, 12);
      }
      // Order-free values: Σ size² / Σ size (the unweighted mean of the sizes would be 50), and the mean
      // row index over every row, 99.5, when none is dropped.
      expect(history.map((h) => h.metrics.size)).toEqual(dropLast ? [64, 64, 64] : [61.76, 61.76, 61.76]);
      if (!dropLast) for (const h of history) expect(h.metrics.meanRow).toBeCloseTo(99.5, 12);
      // Each epoch is its own mean (a fresh shuffle), not a running mean over the epochs so far.
      expect(new Set(firsts).size).toBeGreaterThan(1);
    }
  });
});

describe("fit's loss closure", () => {
  function bnModel() {
    const dtype = "float64";
    return new Sequential(
      new Linear(4, 5, { rng: 1, dtype }),
      new BatchNorm1d(5, { dtype }),
      new Linear(5, 3, { rng: 2, dtype }),
    );
  }

  it("fit passes the training pass's own loss for 'before' and a forward pass for 'after', which moves BatchNorm's running statistics", () => {
    const model = bnModel();
    const data = toy(16, 4);
    const seen: [string | undefined, number][] = [];
    const buffers = () => model.buffers().flatMap(([, d]) => Array.from(d));
    const optimizer = {
      step(loss?: (when?: "before" | "after") => number) {
        const atStep = buffers();
        seen.push(["before", (loss as (w: "before") => number)("before")]);
        expect(buffers()).toEqual(atStep); // "before" runs no pass
        seen.push(["after", (loss as (w: "after") => number)("after")]);
        expect(buffers()).not.toEqual(atStep); // "after" is a training-mode forward pass (MATH.md §11)
      },
    };
    const history = fit(model, optimizer, data, {
      epochs: 1,
      batchSize: 16,
      inputShape: [4],
      loss: softmaxCrossEntropy,
      seed: 1,
    });
    // One batch, no update: "after" is the same loss by a second forward pass.
    expect(seen[0]?.[1]).toBe(history[0]?.loss);
    expect(seen[1]?.[1]).toBeCloseTo(seen[0]?.[1] as number, 12);
  });
});

describe("Module.replay: a training-mode pass with the last one's random draws", () => {
  it("Dropout reuses its last training-mode mask without advancing its generator; eval mode is unaffected", () => {
    const x = wrap(new Float64Array(64).fill(1), [8, 8]);
    const drop = new Dropout(0.5, 3);
    const twin = new Dropout(0.5, 3);
    const first = Array.from(drop.forward(x).data);
    expect(Array.from(twin.forward(x).data)).toEqual(first);
    const model = new Sequential(drop);
    expect(model.replay(() => Array.from(model.forward(x).data))).toEqual(first);
    expect(model.replay(() => Array.from(model.forward(x).data))).toEqual(first);
    // The stream did not move: the next pass draws what the twin's next pass draws, a new mask.
    const second = Array.from(drop.forward(x).data);
    expect(second).toEqual(Array.from(twin.forward(x).data));
    expect(second).not.toEqual(first);
    // Before any training pass, replay draws from a copy of the generator: the next pass's mask.
    const fresh = new Dropout(0.5, 9);
    const ahead = new Dropout(0.5, 9);
    expect(fresh.replay(() => Array.from(fresh.forward(x).data))).toEqual(Array.from(ahead.forward(x).data));
    expect(Array.from(fresh.forward(x).data)).toEqual(Array.from(new Dropout(0.5, 9).forward(x).data));
    model.eval();
    expect(model.replay(() => Array.from(model.forward(x).data))).toEqual(Array.from(x.data));
  });

  it("nests, returns f's value and restores the setting when f throws; fit's 'after' pass replays the masks", () => {
    const x = wrap(new Float64Array(64).fill(1), [8, 8]);
    const drop = new Dropout(0.5, 4);
    const model = new Sequential(drop);
    const first = Array.from(model.forward(x).data);
    expect(() =>
      model.replay(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(Array.from(model.forward(x).data)).not.toEqual(first); // not replaying any more
    const last = model.replay(() => model.replay(() => Array.from(model.forward(x).data)));
    expect(model.replay(() => 7)).toBe(7);
    expect(Array.from(model.replay(() => model.forward(x).data))).toEqual(last);
    // fit: with a Dropout model the "after" loss on one batch with no update equals "before" exactly.
    const net = new Sequential(
      new Linear(4, 6, { rng: 1, dtype: "float64" }),
      new Dropout(0.5, 2),
      new Linear(6, 3, { rng: 2, dtype: "float64" }),
    );
    const seen: number[] = [];
    fit(
      net,
      {
        step(loss?: (when?: "before" | "after") => number) {
          seen.push((loss as (w: string) => number)("before"), (loss as (w: string) => number)("after"));
        },
      },
      toy(16, 4),
      { epochs: 1, batchSize: 16, inputShape: [4], loss: softmaxCrossEntropy, seed: 1 },
    );
    expect(seen[1]).toBe(seen[0]);
  });
});

describe("evaluate", () => {
  it("the mean over examples does not depend on the evaluation batch size (law: size-weighted means)", () => {
    const model = model64();
    const x = wrap(heldOut.inputs, [heldOut.count, 4]);
    const whole = noGrad(() => {
      const out = model.forward(x);
      return { loss: softmaxCrossEntropy(out, heldOut.targets).item(), acc: accuracy(out, heldOut.targets) };
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 120 }), (batchSize) => {
        const e = evaluate(model, heldOut, {
          inputShape: [4],
          batchSize,
          loss: softmaxCrossEntropy,
          metrics: { accuracy },
        });
        return (
          Math.abs((e.loss as number) - whole.loss) <= 1e-12 &&
          Math.abs((e.metrics.accuracy as number) - whole.acc) <= 1e-12
        );
      }),
      { numRuns: 30 },
    );
  });

  it("runs in eval mode, restores the model's mode and records no gradient", () => {
    const model = model64();
    model.train();
    const e = evaluate(model, heldOut, { inputShape: [4] });
    expect(e.loss).toBeNull();
    expect(model.training).toBe(true);
    expect(model.parameters().every((p) => p.grad === null || p.grad.every((g) => g === 0))).toBe(true);
    model.eval();
    evaluate(model, heldOut, { inputShape: [4] });
    expect(model.training).toBe(false);
  });
});

describe("accuracy", () => {
  it("is 1 on the argmax labels and counts the rest (law: accuracy = matches / N)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 2, max: 6 }), fc.integer(), (n, c, seed) => {
        const rng = new Rng(seed);
        const logits = rng.fillNormal(new Float64Array(n * c));
        const argmax = Int32Array.from({ length: n }, (_, i) => {
          const r = logits.subarray(i * c, (i + 1) * c);
          return r.indexOf(Math.max(...r));
        });
        const t = wrap(logits, [n, c]);
        const shifted = argmax.map((y, i) => (i % 2 === 0 ? (y + 1) % c : y));
        return accuracy(t, argmax) === 1 && accuracy(t, shifted) === Math.floor(n / 2) / n;
      }),
    );
  });

  it("refuses logits that are not N × C and labels of another length", () => {
    expect(() => accuracy(wrap(new Float64Array(6), [6]), [0])).toThrow(/accuracy: logits must be N × C/);
    expect(() => accuracy(wrap(new Float64Array(6), [2, 3]), [0])).toThrow(/accuracy: labels must hold 2 entries/);
  });
});
