import { noGrad, wrap } from "@ekfac-ts/autodiff";
import { Rng } from "@ekfac-ts/linalg";
import { BatchLoader, loadCheckpoint, mlp, saveCheckpoint, softmaxCrossEntropy } from "@ekfac-ts/nn";

// A toy 2-class problem: 256 points in R², label = [x₀ + x₁ > 0].
const rng = new Rng(1);
const count = 256;
const inputs = rng.fillNormal(new Float32Array(count * 2));
const targets = Int32Array.from({ length: count }, (_, i) =>
  (inputs[2 * i] as number) + (inputs[2 * i + 1] as number) > 0 ? 1 : 0,
);

const model = mlp([2, 16, 2], "tanh", { seed: 0 });
const loader = new BatchLoader({ inputs, targets, count }, { batchSize: 32, rng: 7, dropLast: true });

for (let epoch = 0; epoch < 20; epoch++) {
  for (const batch of loader.epoch()) {
    model.zeroGrad();
    const loss = softmaxCrossEntropy(model.forward(wrap(batch.inputs, [batch.size, 2])), batch.targets);
    loss.backward();
    for (const p of model.parameters()) {
      const g = p.grad as Float32Array;
      for (let i = 0; i < p.value.length; i++) p.value[i] = (p.value[i] as number) - 0.5 * (g[i] as number);
    }
  }
}
const all = wrap(inputs, [count, 2]);
const finalLoss = noGrad(() => softmaxCrossEntropy(model.forward(all), targets).item());
console.log(`loss after 20 epochs: ${finalLoss.toFixed(4)}`);

// Curvature capture for KFAC/EKFAC: ā and g = N·∂L/∂s per layer. With fisher "true" the loss itself
// backpropagates targets sampled from the model (seeded) for g; backward still gives the gradients.
model.setCapture(true, { fisher: "true", seed: 3 });
model.zeroGrad();
softmaxCrossEntropy(model.forward(wrap(inputs.subarray(0, 64), [32, 2])), targets.subarray(0, 32)).backward();
for (const layer of model.curvatureLayers()) {
  const s = layer.statistics;
  console.log(
    `${layer.name}: ${layer.kind} ${layer.outDim}×${layer.inDim}, ā ${s?.a.length}, g ${s?.g.length}, ${s?.fisher} Fisher`,
  );
}
model.setCapture(false); // statistics become null: nothing stale can be read

// Checkpoints are safetensors files (PyTorch state_dict names).
const bytes = saveCheckpoint(model, { epochs: "20" });
const copy = mlp([2, 16, 2], "tanh", { seed: 99 });
loadCheckpoint(copy, bytes);
console.log(
  `checkpoint: ${bytes.length} bytes, reloaded loss ${noGrad(() => softmaxCrossEntropy(copy.forward(all), targets).item()).toFixed(4)}`,
);
