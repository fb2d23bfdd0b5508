import { defineConfig } from "vitest/config";

// Tests run against the TypeScript sources through this export condition, so no build is needed.
// `ssr.resolve.conditions` is the one that matters for node tests: with `resolve.conditions` alone and
// no dist, vitest fails with `Failed to resolve entry for package "@ekfac-ts/linalg"`.
const conditions = ["@ekfac-ts/source"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/portable/**", "**/node_modules/**"],
    setupFiles: [new URL("./vitest.setup.ts", import.meta.url).pathname],
    testTimeout: 60_000,
  },
});
