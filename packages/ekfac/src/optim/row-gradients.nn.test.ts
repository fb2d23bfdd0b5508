/**
 * Gradients formed from the rows (curvature.ts header; nn's Linear "Deferred weight gradient"): on
 * nn's real layers, EKFAC asks the model to leave the dense weights' products (1/N)·rᵀā to the rows
 * its S* shares, `Optimizer.step` hands them over unread, and the step is the one the formed gradients
 * give, bit for bit. Pinned against the same optimizer behind an `identity()` head (which sees every
 * gradient, so the optimizer forms them): parameters after several steps, for the Fisher estimates
 * with loss rows, both precisions, fixed and adaptive step control; the products really stay unformed; a regularised weight is formed and used; a
 * non-finite batch is skipped; steps create no typed array.
 */
import { add, noGrad, square, sum, type Tensor, wrap } from "@ekfac-ts/autodiff";
import { type FloatArray, Rng } from "@ekfac-ts/linalg";
import { mlp, type Sequential, softmaxCrossEntropy } from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { countTypedArrayConstructions } from "../../test/allocation-spy.ts";
import type { KroneckerBlock } from "../curvature/kronecker-block.ts";
import { chain, ekfac, identity, Optimizer } from "../index.ts";

const N = 4;
const SIZES = [16, 12, 3];

function batch(step: number, dtype: "float32" | "float64"): { x: Tensor; labels: number[] } {
  const data = dtype === "float64" ? new Float64Array(N * 16) : new Float32Array(N * 16);
  new Rng(100 + step).fillNormal(data);
  return { x: wrap(data, [N, 16]), labels: [0, 1, 2, (step % 3) as number] };
}

type Fisher = "true" | "curvature-prop" | "empirical";

/** `steps` EKFAC steps; `headed`: behind an identity() head (every gradient formed and read). */
function train(
  fisher: Fisher,
  precision: "float32" | "float64",
  headed: boolean,
  steps: number,
  regularise = false,
  basisEvery = 3,
  adaptive = false,
): { model: Sequential; opt: Optimizer; curvature: ReturnType<typeof ekfac>["curvature"] } {
  const dtype = precision;
  const model = mlp(SIZES, "tanh", { seed: 3, dtype });
  const curvature = adaptive
    ? ekfac(model, { fisher, precision, basisEvery, seed: 2 })
    : ekfac(model, { learningRate: 0.05, klClip: 0.01, fisher, precision, basisEvery, seed: 2 });
  const opt = new Optimizer(headed ? chain(identity(), curvature) : curvature, model);
  const first = model.curvatureLayers()[0];
  for (let k = 0; k < steps; k++) {
    model.zeroGrad();
    const { x, labels } = batch(k, dtype);
    let loss = softmaxCrossEntropy(model.forward(x), labels);
    if (regularise && first !== undefined) {
      loss = add(loss, sum(square((first.weight as unknown as { tensor: Tensor }).tensor)));
    }
    loss.backward();
    const value = loss.data[0] as number;
    const after = () => noGrad(() => softmaxCrossEntropy(model.forward(x), labels).data[0] as number);
    const report = adaptive ? opt.step((when) => (when === "before" ? value : after())) : opt.step();
    if (!adaptive) expect(report.skipped).toBe(false);
  }
  return { model, opt, curvature: curvature.curvature };
}

function maxRelativeDifference(a: readonly FloatArray[], b: readonly FloatArray[]): number {
  let worst = 0;
  a.forEach((x, k) => {
    const y = b[k] as FloatArray;
    let scale = 0;
    for (let i = 0; i < x.length; i++) scale = Math.max(scale, Math.abs(y[i] as number));
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs((x[i] as number) - (y[i] as number)) / scale);
  });
  return worst;
}

describe("EKFAC forms the dense weights' gradients from the rows it shares", () => {
  for (const fisher of ["true", "curvature-prop", "empirical"] as const) {
    for (const precision of ["float64", "float32"] as const) {
      it(`${fisher} Fisher, ${precision}: the steps equal those from formed gradients; the products stay unformed`, () => {
        const rows = train(fisher, precision, false, 7);
        const formed = train(fisher, precision, true, 7);
        // Every layer's weight was handed over unread on the last step (its product never formed) and
        // took its rotated gradient from S*'s rows on every step.
        for (const l of rows.model.curvatureLayers()) expect(l.weight.gradFromRows).toBe(true);
        for (const l of formed.model.curvatureLayers()) expect(l.weight.gradFromRows).toBe(false);
        for (const { block } of rows.curvature.blocks) expect((block as KroneckerBlock).sharedRotations).toBe(7);
        for (const { block } of formed.curvature.blocks) expect((block as KroneckerBlock).sharedRotations).toBe(7);
        // Bit for bit: a direction from the rows reads nothing of ∇, formed or not.
        expect(rows.opt.params).toEqual(formed.opt.params);
        // Reading the last gradient now forms it: autodiff's, to rounding.
        const w = rows.model.curvatureLayers()[1]?.weight.grad as FloatArray;
        const want = formed.model.curvatureLayers()[1]?.weight.grad as FloatArray;
        expect(maxRelativeDifference([w], [want])).toBeLessThan(precision === "float64" ? 1e-12 : 1e-5);
      });
    }
  }

  for (const fisher of ["true", "empirical"] as const) {
    it(`adaptive step control (the default), ${fisher} Fisher: the model's linear terms from the rows give the same steps`, () => {
      const rows = train(fisher, "float64", false, 12, false, 3, true);
      const formed = train(fisher, "float64", true, 12, false, 3, true);
      for (const l of rows.model.curvatureLayers()) expect(l.weight.gradFromRows).toBe(true);
      // Steps 5–11 after the burn-in of 5, S* shared on each (the rows' steps from the second on).
      for (const { block } of rows.curvature.blocks) expect((block as KroneckerBlock).sharedRotations).toBe(7);
      expect(rows.opt.stepsWithdrawn).toBe(formed.opt.stepsWithdrawn);
      expect(rows.opt.params).toEqual(formed.opt.params);
    });
  }

  it("checkpoint → restore → continue equals uninterrupted training bit for bit (the resumed first step forms ∇)", () => {
    const stepOn = (model: Sequential, opt: Optimizer, k: number) => {
      model.zeroGrad();
      const { x, labels } = batch(k, "float32");
      softmaxCrossEntropy(model.forward(x), labels).backward();
      opt.step();
    };
    const whole = train("true", "float32", false, 4);
    const saved = whole.opt.state();
    const params = whole.model.parameters().map((p) => Float32Array.from(p.value));
    for (let k = 4; k < 9; k++) stepOn(whole.model, whole.opt, k);
    const model = mlp(SIZES, "tanh", { seed: 3 });
    for (const [i, p] of model.parameters().entries()) p.value.set(params[i] as Float32Array);
    const opt = new Optimizer(
      ekfac(model, { learningRate: 0.05, klClip: 0.01, fisher: "true", precision: "float32", basisEvery: 3, seed: 2 }),
      model,
    );
    opt.load(saved);
    for (let k = 4; k < 9; k++) stepOn(model, opt, k);
    expect(opt.params).toEqual(whole.opt.params);
  });

  it("a weight whose gradient holds more than the rows (a regulariser) is formed and used as given", () => {
    const rows = train("true", "float64", false, 5, true);
    const formed = train("true", "float64", true, 5, true);
    const [first, second] = rows.model.curvatureLayers();
    expect(first?.weight.gradFromRows).toBe(false);
    expect(second?.weight.gradFromRows).toBe(true);
    expect(rows.opt.params).toEqual(formed.opt.params);
  });

  it("a batch with a non-finite entry is skipped and leaves the parameters bit-unchanged", () => {
    // The empirical Fisher: the true one's sampler refuses NaN logits before any step.
    const { model, opt } = train("empirical", "float64", false, 3);
    const before = model.parameters().map((p) => Float64Array.from(p.value));
    model.zeroGrad();
    const { x, labels } = batch(9, "float64");
    x.data[5] = Number.NaN;
    softmaxCrossEntropy(model.forward(x), labels).backward();
    const report = opt.step();
    expect(report.skipped).toBe(true);
    for (const [k, p] of model.parameters().entries()) expect(Float64Array.from(p.value)).toEqual(before[k]);
  });

  it("steps after warm-up create no typed array (float32; no basis refresh, whose eigensolver allocates)", () => {
    const { model, opt } = train("true", "float32", false, 3, false, 1000);
    let created = 0;
    for (let k = 3; k < 13; k++) {
      model.zeroGrad();
      const { x, labels } = batch(k, "float32");
      softmaxCrossEntropy(model.forward(x), labels).backward();
      created += countTypedArrayConstructions(() => opt.step());
    }
    expect(created).toBe(0);
    for (const l of model.curvatureLayers()) expect(l.weight.gradFromRows).toBe(true);
  });
});
