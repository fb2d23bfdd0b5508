/** PROOFS.md: the catalogue as a document, generated from the laws (deterministic, no timings). */
import type { Law } from "./law.ts";

const section = (id: string): string => id.split(".")[0] ?? id;

/** Markdown-escapes the math text (`S*`, `ā_n`, `10^±4` would otherwise read as emphasis) and collapses runs of spaces. */
const md = (s: string): string => s.replace(/([\\*_[\]<>])/g, "\\$1").replace(/ {2,}/g, " ");

const headings: Record<string, string> = {
  linalg: "Linear algebra (`@ekfac-ts/linalg`)",
  autodiff: "Derivative rules (`@ekfac-ts/autodiff`)",
  nn: "Curvature capture (`@ekfac-ts/nn`)",
  ekfac: "Curvature blocks against the exact Fisher (`@ekfac-ts/ekfac`)",
  optim: "Optimizer conventions (`@ekfac-ts/ekfac` optim)",
};

export function catalogueMarkdown(laws: readonly Law[]): string {
  const out: string[] = [];
  out.push("# PROOFS — the laws ekfac-ts is checked against");
  out.push("");
  out.push(
    "Generated from the catalogue in `packages/proofs` (`pnpm proofs --markdown PROOFS.md`); do not edit by hand — a test fails when this file is out of date.",
  );
  out.push("");
  out.push(
    "Each law is a fast-check property with a stated tolerance. Run them at any depth: `pnpm proofs --runs 10000` (Node), or without an install under Deno: `npx -y deno@2.9.6 run --no-config --import-map=deno.import-map.json packages/proofs/src/deno.ts --runs 100`. A law with run scale s < 1 gets max(1, round(s · runs)) cases. ε is the machine epsilon of the element type (2⁻⁵² float64, 2⁻²³ float32).",
  );
  out.push("");
  out.push(`${laws.length} laws.`);
  out.push("");
  // A list, not a table: Biome formats markdown tables by padding columns, which a generator cannot
  // reproduce reliably for Unicode math.
  for (const l of laws)
    out.push(`- \`${l.id}\` — ${md(l.title)}${l.runScale !== 1 ? ` (run scale ${l.runScale})` : ""}`);
  let current = "";
  for (const l of laws) {
    const s = section(l.id);
    if (s !== current) {
      current = s;
      out.push("");
      out.push(`## ${headings[s] ?? s}`);
    }
    out.push("");
    out.push(`### ${md(l.title)}`);
    out.push("");
    out.push(`- **id**: \`${l.id}\`${l.runScale !== 1 ? ` (run scale ${l.runScale})` : ""}`);
    out.push(`- **statement**: ${md(l.statement)}`);
    out.push(`- **source**: ${md(l.source)}`);
    out.push(`- **generator**: ${md(l.generator)}`);
    out.push(`- **tolerance**: ${md(l.tolerance)}`);
    out.push(`- **why**: ${md(l.why)}`);
  }
  out.push("");
  return out.join("\n");
}
