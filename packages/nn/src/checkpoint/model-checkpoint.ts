/**
 * Model checkpoints as safetensors: every parameter and buffer of a module under its dotted path
 * (PyTorch `state_dict` names), F32 or F64 after the model's element type, plus optional string
 * metadata. Loading is strict: the file must hold exactly the model's keys, each with the model's
 * dtype and shape — a mismatch is an error naming the key (nothing is converted or reshaped
 * silently), and nothing is written into the model unless every key checks out.
 * Cost: O(parameters) time; one copy of the weights for the file.
 */
import { kindOf } from "../internal/checks.ts";
import { assertModule, loadState, type Module } from "../module.ts";
import { readSafetensors, type SafetensorsTensor, writeSafetensors } from "./safetensors.ts";

/** Serializes the model's parameters and buffers to safetensors bytes. */
export function saveCheckpoint(model: Module, metadata?: Readonly<Record<string, string>>): Uint8Array {
  assertModule("saveCheckpoint", "model", model);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, { shape, data }] of model.stateDict()) {
    tensors.set(name, { dtype: data instanceof Float64Array ? "F64" : "F32", shape, data });
  }
  return writeSafetensors(tensors, metadata);
}

/**
 * Loads safetensors bytes into the model (in place). Throws a RangeError for missing/extra keys, a
 * shape mismatch or a value that is not finite (NaN, ±∞: it would reach every later pass), a TypeError
 * for a dtype mismatch or a `model` that is not a Module, and whatever `readSafetensors` throws for a
 * corrupt file; a failed load changes nothing. Returns the file's metadata (empty when it has none).
 */
export function loadCheckpoint(model: Module, bytes: Uint8Array): Map<string, string> {
  const fn = "loadCheckpoint";
  assertModule(fn, "model", model);
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${fn}: bytes must be a Uint8Array (got ${kindOf(bytes)})`);
  const file = readSafetensors(bytes);
  const own = model.stateDict();
  const missing = [...own.keys()].filter((k) => !file.tensors.has(k));
  const extra = [...file.tensors.keys()].filter((k) => !own.has(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new RangeError(`${fn}: keys differ (missing: [${missing.join(", ")}], unexpected: [${extra.join(", ")}])`);
  }
  for (const [k, dst] of own) {
    const src = file.tensors.get(k) as SafetensorsTensor;
    const want = dst.data instanceof Float64Array ? "F64" : "F32";
    if (src.dtype !== want) throw new TypeError(`${fn}: ${k} has dtype ${src.dtype}, the model expects ${want}`);
    if (src.shape.length !== dst.shape.length || src.shape.some((d, i) => d !== dst.shape[i])) {
      throw new RangeError(
        `${fn}: ${k} has shape [${src.shape.join(", ")}], the model expects [${dst.shape.join(", ")}]`,
      );
    }
  }
  // The values are checked there (finite), before anything is written.
  loadState(
    fn,
    model,
    new Map([...file.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.data as Float32Array | Float64Array }])),
    undefined,
  );
  return file.metadata ?? new Map();
}
