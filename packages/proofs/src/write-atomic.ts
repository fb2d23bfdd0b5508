/**
 * Atomic file output for the Node CLI: the text goes to a temporary file in the target's directory,
 * then a rename replaces the target (atomic on POSIX file systems within one directory), so a reader
 * or a killed run sees the old file or the complete new one, never half of it. Node only (cli.ts).
 */
import { renameSync, rmSync, writeFileSync } from "node:fs";
import process from "node:process";

export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
