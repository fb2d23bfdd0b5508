/**
 * Deno entry: the same catalogue and command line, no install needed (fast-check comes from npm: through
 * the import map). From the repository root:
 *
 *   npx -y deno@2.9.6 run --no-config --import-map=deno.import-map.json packages/proofs/src/deno.ts --runs 100
 *
 * (add --allow-write=FILE for --json FILE or --markdown FILE). No Node APIs: `Deno` is reached through
 * globalThis so that the file also type-checks under tsc without Deno's types.
 */
import { main } from "./main.ts";

interface DenoLike {
  readonly args: readonly string[];
  exit(code: number): never;
  readonly pid: number;
  writeTextFileSync(path: string, text: string): void;
  renameSync(from: string, to: string): void;
}

const deno = (globalThis as unknown as { readonly Deno: DenoLike }).Deno;
const code = main(deno.args, {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  // Temporary file + rename, as the Node entry: a killed run never leaves half a file.
  writeFile: (path, text) => {
    const tmp = `${path}.${deno.pid}.tmp`;
    deno.writeTextFileSync(tmp, text);
    deno.renameSync(tmp, path);
  },
});
deno.exit(code);
