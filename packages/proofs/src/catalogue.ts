/** The catalogue: every law, in the order PROOFS.md and the runner list them. */
import type { Law } from "./law.ts";
import { adaptiveLaws } from "./laws/adaptive.ts";
import { autodiffLaws } from "./laws/autodiff.ts";
import { ekfacLaws } from "./laws/ekfac.ts";
import { linalgLaws } from "./laws/linalg.ts";
import { nnLaws } from "./laws/nn.ts";
import { optimLaws } from "./laws/optim.ts";

export const catalogue: readonly Law[] = [
  ...linalgLaws,
  ...autodiffLaws,
  ...nnLaws,
  ...ekfacLaws,
  ...adaptiveLaws,
  ...optimLaws,
];

/** The law with this id (throws a RangeError naming the id when there is none). */
export function lawById(id: string, laws: readonly Law[] = catalogue): Law {
  const law = laws.find((l) => l.id === id);
  if (law === undefined) throw new RangeError(`lawById: no law with id ${JSON.stringify(id)}`);
  return law;
}
