/**
 * Progress reporting for long runs: on a TTY one self-overwriting bar per run (step count, loss,
 * steps/s, ETA); otherwise (CI logs, pipes) a plain line about every 10 % of the run, so logs stay
 * short and readable.
 */

export interface ProgressOptions {
  readonly label: string;
  readonly total: number;
  /** Defaults to `process.stdout.isTTY`. */
  readonly tty?: boolean;
  readonly write?: (s: string) => void;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - 60 * m);
  return `${m}m${String(s).padStart(2, "0")}s`;
}

export class Progress {
  private readonly label: string;
  private readonly total: number;
  private readonly tty: boolean;
  private readonly write: (s: string) => void;
  private lastDraw = 0;
  private lastDecile = -1;

  constructor(options: ProgressOptions) {
    this.label = options.label;
    this.total = options.total;
    this.tty = options.tty ?? process.stdout.isTTY === true;
    this.write = options.write ?? ((s) => process.stdout.write(s));
  }

  /** `done` steps of `total` after `seconds` of training; `loss` the latest (or smoothed) loss. */
  update(done: number, seconds: number, loss: number, extra = ""): void {
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? (this.total - done) / rate : Number.NaN;
    const text = `${this.label} step ${done}/${this.total} loss ${loss.toFixed(3)} ${rate.toFixed(2)} steps/s ETA ${formatDuration(eta)}${extra ? ` ${extra}` : ""}`;
    if (this.tty) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      const width = 24;
      const fill = Math.round((width * done) / Math.max(1, this.total));
      const bar = `[${"#".repeat(fill)}${".".repeat(width - fill)}]`;
      this.write(`\r\x1b[2K${bar} ${text}`);
      return;
    }
    const decile = Math.floor((10 * done) / Math.max(1, this.total));
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      this.write(`${text}\n`);
    }
  }

  /** Ends the bar with a summary line. */
  finish(summary: string): void {
    this.write(this.tty ? `\r\x1b[2K${this.label} ${summary}\n` : `${this.label} ${summary}\n`);
  }
}
