// `pnpm mutation`: mutation testing of the curvature and linalg core (MATH.md's algorithms; issue 17).
// StrykerJS 9.5.1 (the latest 9.5 patch) with its vitest runner, on vitest 4.1 and Node 20. Run from the
// root so every project's tests, the proofs catalogue included, can kill a mutant. Narrow a run with
// `pnpm mutation --mutate <file>`. Scores and the list of equivalent mutants: MUTATION.md.
//
// The runner plugin is named by its resolved path: under pnpm's isolated node_modules, Stryker's default
// `@stryker-mutator/*` lookup searches beside @stryker-mutator/core only and finds no runner
// ("Cannot find TestRunner plugin "vitest". In fact, no TestRunner plugins were loaded").

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  plugins: [import.meta.resolve("@stryker-mutator/vitest-runner")],
  testRunner: "vitest",
  vitest: { configFile: "vitest.config.ts", related: true },
  coverageAnalysis: "perTest",
  // vitest strips types without checking them, so no `// @ts-nocheck` is needed; the default one would
  // also shift test/readme-example.ts by a line and break the test that compares it with the README.
  disableTypeChecks: false,
  mutate: [
    "packages/ekfac/src/curvature/*.ts",
    "!packages/ekfac/src/curvature/*.test.ts",
    "packages/ekfac/src/internal/sym-eigen.ts",
    "packages/ekfac/src/diagnostics.ts",
    "packages/linalg/src/cholesky.ts",
    "packages/linalg/src/eigh.ts",
  ],
  // The machine is shared: one test-runner process.
  concurrency: 1,
  thresholds: { high: 95, low: 90, break: 90 },
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
};
