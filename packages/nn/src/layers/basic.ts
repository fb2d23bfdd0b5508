/**
 * Parameter-free layers: activations, pooling, flattening, dropout, and the containers `Sequential`
 * and `Residual`. Each is a thin module over one autodiff op (or a composite of them), so its
 * derivative is autodiff's rule; the gradient checks in layers.test.ts cover them in train and eval
 * mode.
 *
 * - ReLU max(0, x); LeakyReLU x or slope·x (default slope 0.01); Tanh; Sigmoid 1/(1+e⁻ˣ);
 *   Softplus ln(1+eˣ); GELU x·Φ(x) (exact erf form by default, as PyTorch, or the tanh approximation).
 * - MaxPool2d / AvgPool2d over kh×kw windows (stride defaults to the kernel); GlobalAvgPool2d
 *   `N×C×H×W → N×C` (mean over positions); Flatten `N×… → N×(…)`.
 * - Dropout (Srivastava et al. 2014, inverted scaling): train mode zeroes each element with
 *   probability p and scales the rest by 1/(1−p), masks drawn from the layer's seeded Rng; eval mode is
 *   the identity.
 * - Residual (He et al. 2016, "Deep residual learning", eq. 1–2): `y = act(F(x) + shortcut(x))`,
 *   shortcut the identity or a projection (1×1 conv + BatchNorm when shapes change).
 */
import {
  add,
  avgPool2d,
  dropout,
  flatten,
  gelu,
  leakyRelu,
  maxPool2d,
  mean,
  relu,
  sigmoid,
  softplus,
  type Tensor,
  tanh,
} from "@ekfac-ts/autodiff";
import { checkFlag, checkOptions, optionKeys, Rng, type RngState } from "@ekfac-ts/linalg";
import { rngOf } from "../internal/checks.ts";
import { type Pair, pair } from "../internal/layer.ts";
import { assertModule, Module } from "../module.ts";

/** max(0, x) elementwise. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/** x for x ≥ 0, slope·x below. */
export class LeakyReLU extends Module {
  /** @param slope The gradient for negative inputs (default 0.01). */
  constructor(readonly slope = 0.01) {
    super();
    // A NaN or infinite slope would turn every negative input into NaN (∞·0 at x = 0) at the forward.
    if (typeof slope !== "number" || !Number.isFinite(slope))
      throw new RangeError(`LeakyReLU: slope must be a finite number (got ${String(slope)})`);
  }
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.slope);
  }
}

/** Hyperbolic tangent elementwise. */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/** 1/(1 + e⁻ˣ) elementwise. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/** ln(1 + eˣ) elementwise. */
export class Softplus extends Module {
  forward(x: Tensor): Tensor {
    return softplus(x);
  }
}

/** x·Φ(x): the exact erf form by default (as PyTorch), or the tanh approximation. */
export class GELU extends Module {
  /** @param approximate "none" (default) for the erf form, "tanh" for the approximation. */
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
    if (approximate !== "none" && approximate !== "tanh") {
      throw new RangeError(`GELU: approximate must be "none" or "tanh" (got ${JSON.stringify(approximate)})`);
    }
  }
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }
}

/** Returns its input (the default residual shortcut). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** `N×… → N×(…)`: keeps the batch axis, flattens the rest. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor {
    return flatten(x, 1);
  }
}

/** Stride and padding of {@link MaxPool2d} and {@link AvgPool2d}. */
export interface PoolOptions {
  /** Default: the kernel size. */
  readonly stride?: Pair;
  /** Zero padding on each side, at most half the kernel (default 0). */
  readonly padding?: Pair;
}

/** Options of {@link AvgPool2d}. */
export interface AvgPoolOptions extends PoolOptions {
  /** Divide by kh·kw even where the window overlaps padding (default true, as PyTorch). */
  readonly countIncludePad?: boolean;
}

/** The keys of {@link PoolOptions} and {@link AvgPoolOptions} (checked against the interfaces both ways at compile time). */
const POOL_OPTIONS = optionKeys<PoolOptions>()(["stride", "padding"]);
const AVG_POOL_OPTIONS = optionKeys<AvgPoolOptions>()(["stride", "padding", "countIncludePad"]);

/** Pool windows are checked when the layer is built, not at its first forward (kernel 0 has no window). */
function checkPool(fn: string, kernelSize: Pair, options: PoolOptions, known: readonly string[]): void {
  checkOptions(fn, "options", options, known);
  const [kh, kw] = pair("kernelSize", kernelSize, 1, 1, fn);
  pair("stride", options.stride, 1, 1, fn);
  const [ph, pw] = pair("padding", options.padding, 0, 0, fn);
  if (2 * ph > kh || 2 * pw > kw)
    throw new RangeError(`${fn}: padding ${ph}×${pw} must be at most half the ${kh}×${kw} kernel`);
}

/** The maximum over kh×kw windows of an N×C×H×W input (stride defaults to the kernel size). */
export class MaxPool2d extends Module {
  constructor(
    /** The window: kh = kw, or `[kh, kw]`. */
    readonly kernelSize: Pair,
    /** Stride and padding. */
    readonly options: PoolOptions = {},
  ) {
    super();
    checkPool("MaxPool2d", kernelSize, options, POOL_OPTIONS);
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernelSize: this.kernelSize, ...this.options });
  }
}

/** The mean over kh×kw windows of an N×C×H×W input (stride defaults to the kernel size). */
export class AvgPool2d extends Module {
  constructor(
    /** The window: kh = kw, or `[kh, kw]`. */
    readonly kernelSize: Pair,
    /** Stride, padding, and whether padded positions count in the divisor (default true, as PyTorch). */
    readonly options: AvgPoolOptions = {},
  ) {
    super();
    checkPool("AvgPool2d", kernelSize, options, AVG_POOL_OPTIONS);
    checkFlag("AvgPool2d", "options.countIncludePad", options.countIncludePad);
  }
  forward(x: Tensor): Tensor {
    return avgPool2d(x, { kernelSize: this.kernelSize, ...this.options });
  }
}

/** `N×C×H×W → N×C`, the mean over the H·W positions. */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4)
      throw new RangeError(`GlobalAvgPool2d: input must be N × C × H × W (got [${x.shape.join(", ")}])`);
    return mean(x, [2, 3]);
  }
}

/**
 * Inverted dropout (Srivastava et al. 2014): in train mode zeroes each element with probability p and
 * scales the rest by 1/(1 − p), masks drawn from the layer's seeded generator; the identity in eval mode.
 * Inside `Module.replay` it applies its last training-mode pass's mask again (see there).
 */
export class Dropout extends Module {
  private readonly rng: Rng;
  /** The generator's state before the last training-mode pass (what `replay` draws its mask from). */
  private lastState: RngState | null = null;
  constructor(
    /** The probability of zeroing an element (default 0.5). */
    readonly p = 0.5,
    rng?: Rng | number,
  ) {
    super();
    if (typeof p !== "number" || !(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1] (got ${p})`);
    this.rng = rngOf(rng, "Dropout", "rng");
  }
  forward(x: Tensor): Tensor {
    if (this.training && this.replaying) {
      // The last pass's mask again, from a generator of its own: this layer's stream does not move.
      return dropout(x, this.p, Rng.fromState(this.lastState ?? this.rng.state()), { training: true });
    }
    if (this.training) this.lastState = this.rng.state();
    return dropout(x, this.p, this.rng, { training: this.training });
  }
}

/** Applies its children in order; they are named "0", "1", … as in PyTorch. */
export class Sequential extends Module {
  /** The children in application order. */
  readonly layers: readonly Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((l, i) => {
      assertModule("Sequential", `layers[${i}]`, l);
      this.registerModule(String(i), l);
    });
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }
}

/** `y = act(body(x) + shortcut(x))`; the shortcut defaults to the identity. */
export class Residual extends Module {
  /** F, the residual branch. */
  readonly body: Module;
  /** The identity or a projection (1×1 conv + BatchNorm when shapes change). */
  readonly shortcut: Module;
  /** Applied to the sum (ReLU by default). */
  readonly activation: Module;
  constructor(body: Module, shortcut: Module = new Identity(), activation: Module = new ReLU()) {
    super();
    assertModule("Residual", "body", body);
    assertModule("Residual", "shortcut", shortcut);
    assertModule("Residual", "activation", activation);
    this.body = this.registerModule("body", body);
    this.shortcut = this.registerModule("shortcut", shortcut);
    this.activation = this.registerModule("activation", activation);
  }
  forward(x: Tensor): Tensor {
    return this.activation.forward(add(this.body.forward(x), this.shortcut.forward(x)));
  }
}
