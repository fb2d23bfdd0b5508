// node:test runner for the portable cases (Node, Deno, Bun). The browser runs the same list from
// scripts/browser/portable.html.
import { test } from "node:test";
import { cases } from "./cases.ts";

for (const c of cases) test(c.name, c.run);
