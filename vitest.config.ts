import { defineConfig } from "vitest/config";

// VITEST_JSON=<file> adds a JSON report beside the default one (CI reads its pass/fail counts), so CI
// can run the README's exact test command, `pnpm test`, without extra arguments.
const json = process.env.VITEST_JSON;

export default defineConfig({
  test: {
    projects: ["packages/*/vitest.config.ts"],
    ...(json ? { reporters: ["default", "json"], outputFile: { json } } : {}),
  },
});
