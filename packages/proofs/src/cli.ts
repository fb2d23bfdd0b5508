/**
 * Node entry of `pnpm proofs` (the only file of this package that uses Node APIs: argv, exit code,
 * fs for --json and --markdown). Run through tsx with the source condition, see the root package.json.
 */
import { writeFileSync } from "node:fs";
import process from "node:process";
import { main } from "./main.ts";

process.exitCode = main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  writeFile: (path, text) => writeFileSync(path, text),
});
