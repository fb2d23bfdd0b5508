#!/usr/bin/env node
// Runs every example at smoke size (`--smoke`: tiny sizes, seconds each), one after the other, against
// the TypeScript sources; prints one ok/FAILED line per example and exits non-zero if any failed.
// Each example checks its own result (it throws when training did not work), so a pass means more
// than "it did not crash".
//   node examples/smoke.mjs            (or: npx -y pnpm@12.4.2 examples:smoke)
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tsx = join(here, "..", "node_modules", ".bin", "tsx");
const examples = ["mnist-classifier", "autoencoder", "cnn", "influence", "eigh", "save-resume", "extend"];
let failed = 0;
for (const name of examples) {
  const started = performance.now();
  const run = spawnSync(tsx, ["--conditions=@ekfac-ts/source", join(here, `${name}.ts`), "--smoke"], {
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (run.status === 0) {
    console.log(`ok: ${name} (${seconds} s)`);
  } else {
    failed++;
    console.log(`FAILED: ${name} (exit ${run.status}, ${seconds} s)\n${run.stdout}${run.stderr}`);
  }
}
console.log(`examples: ${examples.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
