/**
 * The quadratic model on statistics captured by @ekfac-ts/nn's real layers (a devDependency): the
 * per-example directional derivatives it builds from ā and g (scaled by N) are those of each example's
 * own loss, checked against central differences of ℓ_n along the direction, across two conv layers
 * (one grouped, T > 1) and a dense head.
 */
import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { softmaxCrossEntropy } from "@ekfac-ts/nn";
import { describe, expect, it } from "vitest";
import { groupedCnn } from "../../test/nn-models.ts";
import type { CurvatureLayer } from "../capture.ts";
import { QuadraticModelWorkspace } from "./quadratic-model.ts";

const N = 5;
const shapeX = [2, 4, 4] as const;
const labels = [0, 1, 2, 1, 0];

/** Adds h·V (W̄ = [W | b] layout) to a layer's weight and bias. */
function perturb(layer: CurvatureLayer, v: Float64Array, h: number): void {
  const aDim = layer.inDim + (layer.hasBias ? 1 : 0);
  for (let i = 0; i < layer.outDim; i++) {
    for (let j = 0; j < layer.inDim; j++) {
      const k = i * layer.inDim + j;
      layer.weight.value[k] = (layer.weight.value[k] as number) + h * (v[i * aDim + j] as number);
    }
    if (layer.bias !== null)
      layer.bias.value[i] = (layer.bias.value[i] as number) + h * (v[i * aDim + layer.inDim] as number);
  }
}

describe("quadratic model with @ekfac-ts/nn's capture", () => {
  it("ΔᵀFΔ, ΔᵀFδ₀ and ∇ᵀΔ equal central differences of the per-example losses along Δ and δ₀", () => {
    const model = groupedCnn();
    const rng = new Rng(4);
    const size = shapeX[0] * shapeX[1] * shapeX[2];
    const x = rng.fillNormal(new Float64Array(N * size));
    model.setCapture(true);
    model.zeroGrad();
    softmaxCrossEntropy(model.forward(wrap(x, [N, ...shapeX])), labels).backward();
    const layers = model.curvatureLayers();
    const dirs = layers.map((l) => rng.fillNormal(new Float64Array(l.outDim * (l.inDim + 1))));
    const prevs = layers.map((l) => rng.fillNormal(new Float64Array(l.outDim * (l.inDim + 1))));
    const ws = new QuadraticModelWorkspace().begin(N);
    layers.forEach((l, k) => {
      const aDim = l.inDim + 1;
      const grad = new Float64Array(l.outDim * aDim);
      for (let i = 0; i < l.outDim; i++) {
        for (let j = 0; j < l.inDim; j++) grad[i * aDim + j] = l.weight.grad?.[i * l.inDim + j] as number;
        grad[i * aDim + l.inDim] = l.bias?.grad?.[i] as number;
      }
      if (l.statistics === null) throw new Error(`no statistics for ${l.name}`);
      ws.addLayer(l, l.statistics, dirs[k] as Float64Array, prevs[k] as Float64Array, grad);
    });
    const terms = { ...ws.terms() };
    model.setCapture(false);

    // d_n(V) = dℓ_n(θ + hV)/dh at 0, by central differences on each example alone.
    const h = 1e-5;
    const lossOf = (n: number) =>
      noGrad(
        () =>
          softmaxCrossEntropy(model.forward(wrap(x.slice(n * size, (n + 1) * size), [1, ...shapeX])), [
            labels[n] as number,
          ]).data[0] as number,
      );
    const derivatives = (vs: Float64Array[]) =>
      Array.from({ length: N }, (_, n) => {
        layers.forEach((l, k) => {
          perturb(l, vs[k] as Float64Array, h);
        });
        const up = lossOf(n);
        layers.forEach((l, k) => {
          perturb(l, vs[k] as Float64Array, -2 * h);
        });
        const down = lossOf(n);
        layers.forEach((l, k) => {
          perturb(l, vs[k] as Float64Array, h);
        });
        return (up - down) / (2 * h);
      });
    const dDir = derivatives(dirs);
    const dPrev = derivatives(prevs);
    const mean = (f: (n: number) => number) => Array.from({ length: N }, (_, n) => f(n)).reduce((s, v) => s + v) / N;
    const fdd = mean((n) => (dDir[n] as number) ** 2);
    const fdp = mean((n) => (dDir[n] as number) * (dPrev[n] as number));
    const lin = mean((n) => dDir[n] as number);
    // Central differences in float64 with h = 1e-5: truncation O(h²) and rounding O(ε/h) ≈ 1e-10 relative.
    expect(Math.abs(terms.curvature11 - fdd)).toBeLessThanOrEqual(1e-7 * fdd);
    expect(Math.abs(terms.curvature12 - fdp)).toBeLessThanOrEqual(
      1e-7 * Math.sqrt(fdd * mean((n) => (dPrev[n] as number) ** 2)),
    );
    expect(Math.abs(terms.linear1 - lin)).toBeLessThanOrEqual(1e-7 * Math.sqrt(fdd));
  });
});
