/**
 * Portable conformance cases for @ekfac-ts/autodiff (see ../../../linalg/test/portable/harness.ts):
 * reverse-mode gradients against central finite differences in float64, on every runtime.
 */
import {
  backward,
  conv2d,
  gradcheck,
  logSoftmax,
  matmul,
  mul,
  sigmoid,
  sum,
  type Tensor,
  tanh,
  wrap,
} from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { check, checkClose, type PortableCase } from "../../../linalg/test/portable/harness.ts";

function normal(rng: Rng, shape: readonly number[], requiresGrad = false): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return wrap(rng.fillNormal(new Float64Array(n)), shape, { requiresGrad });
}

export const cases: PortableCase[] = [
  {
    name: "backward: ∂/∂W Σ(tanh(X·W) ⊙ C) equals central finite differences (float64)",
    run() {
      const rng = new Rng(21);
      const x = normal(rng, [5, 4]);
      const w = normal(rng, [4, 3], true);
      const c = normal(rng, [5, 3]);
      const f = (): Tensor => sum(mul(tanh(matmul(x, w)), c));
      backward(f());
      const analytic = w.grad?.data;
      check(analytic !== undefined, "W has no gradient after backward");
      const numeric = new Float64Array(w.size);
      const h = 1e-6;
      for (let j = 0; j < w.size; j++) {
        const keep = w.data[j] as number;
        w.data[j] = keep + h;
        const up = f().item();
        w.data[j] = keep - h;
        const down = f().item();
        w.data[j] = keep;
        numeric[j] = (up - down) / (2 * h);
      }
      checkClose(analytic, numeric, "∇W vs finite differences", { rtol: 1e-7 });
    },
  },
  {
    name: "gradcheck: a softmax classifier's loss Σ logSoftmax(X·W) ⊙ Y and σ(x)·tanh(x) pass",
    run() {
      const rng = new Rng(22);
      const x = normal(rng, [6, 5]);
      const w = normal(rng, [5, 4], true);
      const y = normal(rng, [6, 4]);
      const report = gradcheck((wt) => sum(mul(logSoftmax(matmul(x, wt), -1), y)), [w]);
      check(report.ok, `gradcheck: ${report.message}`);
      const v = normal(rng, [7], true);
      const elementwise = gradcheck((t) => mul(sigmoid(t), tanh(t)), [v]);
      check(elementwise.ok, `gradcheck: ${elementwise.message}`);
    },
  },
  {
    name: "conv2d: forward equals the direct sum, and gradcheck passes for x, w and b (stride 2, padding 1)",
    run() {
      const rng = new Rng(23);
      const x = normal(rng, [2, 2, 5, 5], true);
      const w = normal(rng, [3, 2, 3, 3], true);
      const b = normal(rng, [3], true);
      const options = { stride: 2, padding: 1 } as const;
      const y = conv2d(x, w, b, options);
      check(y.shape.join() === "2,3,3,3", `output shape ${y.shape.join("×")}`);
      const direct = new Float64Array(2 * 3 * 3 * 3);
      for (let n = 0; n < 2; n++)
        for (let o = 0; o < 3; o++)
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              let s = b.data[o] as number;
              for (let c = 0; c < 2; c++)
                for (let u = 0; u < 3; u++)
                  for (let v = 0; v < 3; v++) {
                    const r = 2 * i - 1 + u;
                    const q = 2 * j - 1 + v;
                    if (r < 0 || r >= 5 || q < 0 || q >= 5) continue; // zero padding
                    s +=
                      (x.data[((n * 2 + c) * 5 + r) * 5 + q] as number) *
                      (w.data[((o * 2 + c) * 3 + u) * 3 + v] as number);
                  }
              direct[((n * 3 + o) * 3 + i) * 3 + j] = s;
            }
      checkClose(y.data, direct, "conv2d vs direct sum");
      const report = gradcheck((xt, wt, bt) => conv2d(xt, wt, bt, options), [x, w, b]);
      check(report.ok, `gradcheck: ${report.message}`);
    },
  },
];
