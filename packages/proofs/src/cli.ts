/**
 * Node entry of `pnpm proofs` (the only file of this package that uses Node APIs: argv, exit code,
 * fs for --json and --markdown, written atomically by write-atomic.ts). Run through tsx with the source condition, see the root package.json.
 */
import process from "node:process";
import { main } from "./main.ts";
import { writeFileAtomic } from "./write-atomic.ts";

process.exitCode = main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  writeFile: writeFileAtomic,
});
