/**
 * The small nn model the ekfac tests capture real statistics from: two 2×2 convolutions (the second
 * grouped, T > 1 positions in both), global average pooling and a Linear head, in float64 with fixed
 * seeds. `middle` is the nonlinearity after the second convolution (tests vary it).
 */
import { Conv2d, Flatten, GlobalAvgPool2d, Linear, type Module, Sequential, Tanh } from "@ekfac-ts/nn";

/** N × 2 × H × W → N × 3 logits. */
export function groupedCnn(middle: Module = new Tanh()): Sequential {
  return new Sequential(
    new Conv2d(2, 4, 2, { dtype: "float64", padding: 0, rng: 1 }),
    new Tanh(),
    new Conv2d(4, 4, 2, { dtype: "float64", groups: 2, rng: 2 }),
    middle,
    new GlobalAvgPool2d(),
    new Flatten(),
    new Linear(4, 3, { dtype: "float64", rng: 3 }),
  );
}
