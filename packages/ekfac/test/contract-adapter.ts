/**
 * Test adapter: presents a model whose statistics predate the capture contract (nn on main: no
 * `fisher`, no `pass`) as a `CurvatureModel`. The caller marks each forward/backward pass with
 * `newPass()` (nn reuses its statistics objects, so passes cannot be told apart by identity); every pass
 * is labelled with the one Fisher mode the wrapped model realises (its own backward: "empirical").
 * Remove once nn labels its statistics itself.
 */
import type { BatchCaptureModel, CurvatureLayer, CurvatureModel, FisherMode } from "../src/capture.ts";

export function contractModel(
  model: BatchCaptureModel,
  fisher: FisherMode = "empirical",
): CurvatureModel & { newPass(): void } {
  let pass = 0;
  const layers: CurvatureLayer[] = model.curvatureLayers().map((l) => ({
    name: l.name,
    kind: l.kind,
    outDim: l.outDim,
    inDim: l.inDim,
    hasBias: l.hasBias,
    groups: l.groups,
    weight: l.weight,
    bias: l.bias,
    get statistics() {
      const st = l.statistics;
      return st === null ? null : { ...st, fisher, pass };
    },
  }));
  return {
    curvatureLayers: () => layers,
    parameters: () => model.parameters(),
    setCapture: (on) => model.setCapture(on),
    newPass: () => {
      pass++;
    },
  };
}
