/**
 * Ready-made models. All are `Sequential` compositions of this package's layers, so they implement
 * `CurvatureModel` (their Linear and Conv2d layers are the curvature layers, in forward order).
 *
 * - `mlp(sizes, activation)`: Linear layers `sizes[0] → sizes[1] → …` with the activation between
 *   them and none after the last (it outputs logits / raw predictions).
 * - `deepAutoencoder`: the MNIST autoencoder of Hinton & Salakhutdinov (2006) used by KFAC (Martens &
 *   Grosse 2015 §13) and EKFAC (George et al. 2018 §4.1): 784-1000-500-250-30-250-500-1000-784, hidden
 *   units sigmoid (or tanh/relu), a LINEAR 30-unit code layer, and output logits (use
 *   `sigmoidCrossEntropy` against pixel intensities in [0, 1], or `mseLoss` after a sigmoid).
 * - `smallVgg`: a VGG-style stand-in (Simonyan & Zisserman 2015) for VGG11 on CIFAR-10, sized for one
 *   CPU: [conv3×3-BN-ReLU ×2, maxpool2] × stages, then global average pooling and a Linear classifier.
 * - `smallResNet`: a ResNet-style stand-in (He et al. 2016) for ResNet34: a 3×3 stem, then basic
 *   blocks (conv-BN-ReLU-conv-BN + shortcut, ReLU) per stage, stride 2 between stages with a
 *   1×1-conv+BN projection shortcut, global average pooling, Linear classifier.
 * Both CNNs take `N × C × H × W` inputs of any size ≥ 2^(stages) (28×28 MNIST or 32×32 CIFAR).
 * Seeds: each layer gets its own generator derived from the model seed (`seed·1000 + index`), so
 * adding a layer at the end does not change the earlier layers' weights.
 */
import { checkOptions, type DType, optionKeys } from "@ekfac-ts/linalg";
import { assertFinite, checkDtype, kindOf } from "./internal/checks.ts";
import {
  GELU,
  GlobalAvgPool2d,
  Identity,
  MaxPool2d,
  ReLU,
  Residual,
  Sequential,
  Sigmoid,
  Softplus,
  Tanh,
} from "./layers/basic.ts";
import { BatchNorm2d } from "./layers/batchnorm.ts";
import { Conv2d } from "./layers/conv.ts";
import { Linear } from "./layers/linear.ts";
import type { Module } from "./module.ts";

/** The hidden-layer nonlinearities the model builders accept. */
export type Activation = "relu" | "tanh" | "sigmoid" | "softplus" | "gelu";

const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "sigmoid", "softplus", "gelu"];

/** Throws a TypeError naming `fn` and `name` unless `a` is an {@link Activation} name. */
function checkActivation(fn: string, name: string, a: unknown): asserts a is Activation {
  if (!ACTIVATIONS.includes(a as Activation)) {
    const got = typeof a === "string" ? JSON.stringify(a) : kindOf(a);
    throw new TypeError(`${fn}: ${name} must be "relu", "tanh", "sigmoid", "softplus" or "gelu" (got ${got})`);
  }
}

/** The layer for an {@link Activation} name (`"relu"` → `new ReLU()`, …). */
export function activationModule(a: Activation): Module {
  checkActivation("activationModule", "a", a);
  switch (a) {
    case "relu":
      return new ReLU();
    case "tanh":
      return new Tanh();
    case "sigmoid":
      return new Sigmoid();
    case "softplus":
      return new Softplus();
    case "gelu":
      return new GELU();
  }
}

/** Seed and element type of a model builder's parameters. */
export interface ModelOptions {
  /** Default 0. */
  readonly seed?: number;
  /** Default float32. */
  readonly dtype?: DType;
}

/** The keys of {@link ModelOptions} (checked against the interface both ways at compile time). */
const MODEL_OPTIONS = optionKeys<ModelOptions>()(["seed", "dtype"]);

/**
 * The checks every builder makes of its options: known keys, a finite seed (default 0) and a dtype
 * (default float32), named after the builder rather than the layer that would otherwise refuse them.
 */
function modelSetup(fn: string, options: ModelOptions, known: readonly string[]): { seed: number; dtype: DType } {
  checkOptions(fn, "options", options, known);
  const seed = options.seed ?? 0;
  assertFinite(fn, "options.seed", seed);
  return { seed, dtype: checkDtype(fn, "options.dtype", options.dtype) };
}

/** Layer sizes: an array of at least 2 positive integers. */
function checkSizes(fn: string, name: string, sizes: unknown): asserts sizes is readonly number[] {
  if (!Array.isArray(sizes))
    throw new TypeError(`${fn}: ${name} must be an array of layer sizes (got ${kindOf(sizes)})`);
  if (sizes.length < 2) throw new RangeError(`${fn}: ${name} needs at least 2 entries (got [${sizes.join(", ")}])`);
  const bad = sizes.findIndex((d) => !(Number.isInteger(d) && d >= 1));
  if (bad >= 0) throw new RangeError(`${fn}: ${name}[${bad}] must be a positive integer (got ${String(sizes[bad])})`);
}

/** A multilayer perceptron: Linear, activation, …, Linear (no activation on the output). */
export function mlp(sizes: readonly number[], activation: Activation = "relu", options: ModelOptions = {}): Sequential {
  const fn = "mlp";
  checkSizes(fn, "sizes", sizes);
  checkActivation(fn, "activation", activation);
  const { seed, dtype } = modelSetup(fn, options, MODEL_OPTIONS);
  const layers: Module[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i] as number, sizes[i + 1] as number, { rng: seed * 1000 + i, dtype }));
    if (i + 2 < sizes.length) layers.push(activationModule(activation));
  }
  return new Sequential(...layers);
}

/** Options of {@link deepAutoencoder}. */
export interface AutoencoderOptions extends ModelOptions {
  /** Encoder sizes from the input to the code (default [784, 1000, 500, 250, 30]); mirrored for the decoder. */
  readonly sizes?: readonly number[];
  /** Hidden-unit nonlinearity (default sigmoid); the code layer is linear and the output is logits. */
  readonly activation?: Activation;
}

/** The keys of {@link AutoencoderOptions} (checked against the interface both ways at compile time). */
const AUTOENCODER_OPTIONS = optionKeys<AutoencoderOptions>()(["seed", "dtype", "sizes", "activation"]);

/** The deep autoencoder 784-1000-500-250-30-250-500-1000-784 (sizes configurable). */
export function deepAutoencoder(options: AutoencoderOptions = {}): Sequential {
  const fn = "deepAutoencoder";
  const { seed, dtype } = modelSetup(fn, options, AUTOENCODER_OPTIONS);
  const enc = options.sizes ?? [784, 1000, 500, 250, 30];
  checkSizes(fn, "options.sizes", enc);
  const all = [...enc, ...enc.slice(0, -1).reverse()];
  const act = options.activation ?? "sigmoid";
  checkActivation(fn, "options.activation", act);
  const codeIndex = enc.length - 2; // the Linear producing the code
  const layers: Module[] = [];
  for (let i = 0; i + 1 < all.length; i++) {
    layers.push(new Linear(all[i] as number, all[i + 1] as number, { rng: seed * 1000 + i, dtype }));
    // No nonlinearity after the code layer (linear code) nor after the output layer (logits).
    if (i !== codeIndex && i + 2 < all.length) layers.push(activationModule(act));
  }
  return new Sequential(...layers);
}

/** Options of {@link smallVgg} and {@link smallResNet}. */
export interface CnnOptions extends ModelOptions {
  /** Input channels (default 1). */
  readonly inChannels?: number;
  /** Outputs of the final Linear layer (default 10). */
  readonly classes?: number;
  /** Channels per stage (default [16, 32]). */
  readonly widths?: readonly number[];
}

/** The keys of {@link CnnOptions} (checked against the interface both ways at compile time). */
const CNN_OPTIONS = optionKeys<CnnOptions>()(["seed", "dtype", "inChannels", "classes", "widths"]);

/** The CNN builders' checks and defaults, and the per-layer seeds `seed·1000 + k` (k counts the layers built). */
function cnnSetup(fn: string, options: CnnOptions): { dtype: DType; widths: readonly number[]; rng: () => number } {
  const { seed, dtype } = modelSetup(fn, options, CNN_OPTIONS);
  const widths = options.widths ?? [16, 32];
  if (!Array.isArray(widths)) throw new TypeError(`${fn}: options.widths must be an array (got ${kindOf(widths)})`);
  const bad = widths.findIndex((d) => !(Number.isInteger(d) && d >= 1));
  if (bad >= 0)
    throw new RangeError(`${fn}: options.widths[${bad}] must be a positive integer (got ${String(widths[bad])})`);
  let k = 0;
  return { dtype, widths, rng: () => seed * 1000 + k++ };
}

/** VGG-style: per stage [conv3×3-BN-ReLU ×2, maxpool 2], then global average pool and Linear. */
export function smallVgg(options: CnnOptions = {}): Sequential {
  const { dtype, widths, rng } = cnnSetup("smallVgg", options);
  const layers: Module[] = [];
  let c = options.inChannels ?? 1;
  for (const w of widths) {
    for (let r = 0; r < 2; r++) {
      layers.push(new Conv2d(c, w, 3, { padding: 1, rng: rng(), dtype }), new BatchNorm2d(w, { dtype }), new ReLU());
      c = w;
    }
    layers.push(new MaxPool2d(2));
  }
  layers.push(new GlobalAvgPool2d(), new Linear(c, options.classes ?? 10, { rng: rng(), dtype }));
  return new Sequential(...layers);
}

/** ResNet-style: 3×3 stem, one basic block per stage (stride 2 after the first), GAP, Linear. */
export function smallResNet(options: CnnOptions = {}): Sequential {
  const { dtype, widths, rng } = cnnSetup("smallResNet", options);
  const first = widths[0] ?? 16;
  const layers: Module[] = [
    new Conv2d(options.inChannels ?? 1, first, 3, { padding: 1, bias: false, rng: rng(), dtype }),
    new BatchNorm2d(first, { dtype }),
    new ReLU(),
  ];
  let c = first;
  widths.forEach((w, i) => {
    const stride = i === 0 ? 1 : 2;
    const body = new Sequential(
      new Conv2d(c, w, 3, { stride, padding: 1, bias: false, rng: rng(), dtype }),
      new BatchNorm2d(w, { dtype }),
      new ReLU(),
      new Conv2d(w, w, 3, { padding: 1, bias: false, rng: rng(), dtype }),
      new BatchNorm2d(w, { dtype }),
    );
    const shortcut =
      stride === 1 && c === w
        ? new Identity()
        : new Sequential(
            new Conv2d(c, w, 1, { stride, bias: false, rng: rng(), dtype }),
            new BatchNorm2d(w, { dtype }),
          );
    layers.push(new Residual(body, shortcut));
    c = w;
  });
  layers.push(new GlobalAvgPool2d(), new Linear(c, options.classes ?? 10, { rng: rng(), dtype }));
  return new Sequential(...layers);
}
