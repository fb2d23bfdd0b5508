#!/usr/bin/env node
// API documentation coverage per library package: the declarations TypeDoc's `notDocumented`
// validation would reject (exported functions, classes, interfaces, type aliases, variables and their
// members without a doc comment), counted for all four packages whether or not typedoc.json enforces
// them yet. `pnpm api-docs` fails on any undocumented declaration of the packages listed in
// typedoc.json's `packagesRequiringDocumentation`; this script shows where the others stand.
//
//   node scripts/api-docs-coverage.mjs [--list]      (--list prints every undocumented name)
import { readFileSync } from "node:fs";
import { Application } from "typedoc";

const libraries = ["linalg", "autodiff", "nn", "ekfac"].map((name) => `@ekfac-ts/${name}`);
const list = process.argv.includes("--list");
const enforced = JSON.parse(readFileSync("typedoc.json", "utf8")).packagesRequiringDocumentation ?? [];

const app = await Application.bootstrapWithPlugins({
  options: "typedoc.json",
  packagesRequiringDocumentation: libraries,
  treatValidationWarningsAsErrors: false,
  validation: { notExported: false, invalidLink: false, notDocumented: true },
});
const missing = new Map(libraries.map((name) => [name, []]));
const warn = app.logger.validationWarning.bind(app.logger);
app.logger.validationWarning = (message, ...rest) => {
  const found = /^(.*) \((\w+)\), defined in (@ekfac-ts\/[^/]+)\//.exec(String(message));
  if (found && missing.has(found[3])) missing.get(found[3]).push(`${found[1]} (${found[2]})`);
  else warn(message, ...rest);
};
const project = await app.convert();
if (!project) {
  console.error("api-docs-coverage: TypeDoc could not convert the project");
  process.exit(1);
}
app.validate(project);
for (const [name, names] of missing) {
  const mode = enforced.includes(name) ? "enforced" : "not enforced yet";
  console.log(`${name}: ${names.length} undocumented (${mode})`);
  if (list) for (const entry of names) console.log(`  ${entry}`);
}
