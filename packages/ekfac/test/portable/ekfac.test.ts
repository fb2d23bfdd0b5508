// node:test runner for the portable cases (Node, Deno, Bun); the browser runs the same list.
import { test } from "node:test";
import { cases } from "./cases.ts";

for (const c of cases) test(c.name, c.run);
