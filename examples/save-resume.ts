/**
 * Checkpoint and resume: train a classifier with EKFAC, save the model (nn's safetensors checkpoint)
 * and the optimizer (`opt.state()`: factors, eigenbases, scalings, momentum, step counters) to files,
 * then show that resuming from the files continues BIT-IDENTICALLY: a fresh process state loaded from
 * disk takes exactly the steps the original run takes next.
 *
 *   npx -y pnpm@12.4.2 example examples/save-resume.ts [--smoke]
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ekfac, Optimizer, type SavedState } from "@ekfac-ts/ekfac";
import {
  fit,
  loadCheckpoint,
  mlp,
  readSafetensors,
  type SafetensorsTensor,
  saveCheckpoint,
  softmaxCrossEntropy,
  writeSafetensors,
} from "@ekfac-ts/nn";
import { mnistDigits, PIXELS, smoke } from "./mnist-data.ts";

const { train } = mnistDigits(smoke ? 256 : 2000, 0);
const build = (seed: number) => {
  const model = mlp([PIXELS, 32, 10], "tanh", { seed });
  return { model, opt: new Optimizer(ekfac(model, { learningRate: 0.1, basisEvery: 5 }), model) };
};
// One epoch of training; the seed fixes the batch order, so two runs given the same seed see the
// same batches.
const epoch = (run: ReturnType<typeof build>, seed: number) =>
  fit(run.model, run.opt, train, { epochs: 1, batchSize: 64, inputShape: [PIXELS], loss: softmaxCrossEntropy, seed });

/** Writes `bytes` to `path` atomically: a reader sees the old file or the new one, never half of one. */
function writeAtomic(path: string, bytes: Uint8Array): void {
  writeFileSync(`${path}.tmp`, bytes);
  renameSync(`${path}.tmp`, path);
}

/** The optimizer state as a safetensors file: its typed arrays as tensors, its JSON structure as metadata. */
function optimizerBytes(saved: SavedState): Uint8Array {
  const tensors = new Map<string, SafetensorsTensor>();
  saved.arrays.forEach((a, i) => {
    tensors.set(String(i), { dtype: a instanceof Float64Array ? "F64" : "F32", shape: [a.length], data: a });
  });
  return writeSafetensors(tensors, { format: saved.format, meta: JSON.stringify(saved.meta) });
}
function optimizerState(bytes: Uint8Array): SavedState {
  const file = readSafetensors(bytes);
  const arrays = [...file.tensors.keys()]
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => file.tensors.get(k)?.data as Float32Array | Float64Array);
  return {
    format: file.metadata?.get("format") as SavedState["format"],
    meta: JSON.parse(file.metadata?.get("meta") ?? "null"),
    arrays,
  };
}

// 1. Train, then checkpoint both halves of the training state.
const original = build(1);
epoch(original, 1);
const dir = mkdtempSync(join(tmpdir(), "ekfac-ts-resume-"));
writeAtomic(
  join(dir, "model.safetensors"),
  saveCheckpoint(original.model, { steps: String(original.opt.stepsApplied) }),
);
writeAtomic(join(dir, "optimizer.safetensors"), optimizerBytes(original.opt.state()));

// 2. The original run goes on for another epoch.
epoch(original, 2);

// 3. A fresh model (other initial weights) and optimizer load the files and take the same epoch.
const resumed = build(99);
const meta = loadCheckpoint(resumed.model, readFileSync(join(dir, "model.safetensors")));
resumed.opt.load(optimizerState(readFileSync(join(dir, "optimizer.safetensors"))));
epoch(resumed, 2);
rmSync(dir, { recursive: true });

// 4. Compare every parameter bit for bit (Object.is also tells −0 from +0).
const a = original.model.parameters();
const b = resumed.model.parameters();
let differing = 0;
let total = 0;
a.forEach((p, k) => {
  const q = b[k]?.value as Float32Array;
  for (let i = 0; i < p.value.length; i++, total++) if (!Object.is(p.value[i], q[i])) differing++;
});
console.log(
  `resumed after ${meta.get("steps")} steps; after ${original.opt.stepsApplied} steps the original and the resumed ` +
    `run differ in ${differing} of ${total} parameters`,
);
if (differing !== 0) throw new Error("resume was not bit-identical");
