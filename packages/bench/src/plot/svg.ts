/**
 * Dependency-free SVG line plots: one polyline per series, optionally a spread band behind it (a
 * filled polygon between a lower and an upper curve, e.g. mean ± std across seeds), linear x, linear
 * or log10 y, axis ticks with their values at "nice" positions (1, 2, 5 × 10^k; on a log axis
 * decades, then 2 and 5 within a decade, then every integer mantissa when the range is shorter than a
 * decade), a legend sized to its longest label and its number of entries (none is clipped), and a
 * title. `xMin`/`xMax` fix the x-range (e.g. to a time budget, so every curve visibly spans it). The
 * output is a small self-contained SVG file (no scripts, no external fonts) suitable for committing.
 */

export interface Series {
  readonly name: string;
  /** [x, y] points in drawing order; non-finite points (and y ≤ 0 on a log axis) are skipped. */
  readonly points: readonly (readonly [number, number])[];
  /** CSS colour; default from a fixed palette. */
  readonly color?: string;
  readonly dashed?: boolean;
  /** Spread band: [x, lower, upper] in drawing order, filled with the series colour at low opacity. */
  readonly band?: readonly (readonly [number, number, number])[];
}

export interface PlotOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logY?: boolean;
  readonly width?: number;
  readonly height?: number;
  /** Fixed x-range (default: the data's). */
  readonly xMin?: number;
  readonly xMax?: number;
}

/** Colour-blind-safe palette (Okabe & Ito). */
export const PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fmtTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace("e+", "e");
  return String(Number(v.toPrecision(6)));
}

/** Linear ticks at 1, 2, 5 × 10^k covering [lo, hi] with about `target` ticks. */
export function linearTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Log ticks in [lo, hi] (both > 0): decades, or mantissas {1,2,5} or {1..9} when decades are too few. */
export function logTicks(lo: number, hi: number): number[] {
  const e0 = Math.floor(Math.log10(lo));
  const e1 = Math.ceil(Math.log10(hi));
  for (const mantissas of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const out: number[] = [];
    for (let e = e0; e <= e1; e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
      }
    }
    if (out.length >= 3) return out;
  }
  // Range shorter than the gap between integer mantissas: fall back to linear ticks.
  return linearTicks(lo, hi, 4);
}

/** Renders the plot as an SVG document. */
export function linePlot(options: PlotOptions): string {
  const logY = options.logY ?? false;
  // The legend sits right of the plot; make room for its longest label (~7.2 px per character at
  // 12 px sans-serif, rounded up so no entry is clipped) and for every entry (20 px each).
  const longest = Math.max(0, ...options.series.map((s) => s.name.length));
  const right = Math.max(120, 60 + Math.ceil(7.2 * longest));
  const width = options.width ?? 550 + right;
  const height = Math.max(options.height ?? 440, 40 + 14 + 20 * options.series.length + 56);
  const left = 72;
  const top = 40;
  const bottom = 56;
  const pw = width - left - right;
  const ph = height - top - bottom;
  const ok = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0);
  let xMin = Number.POSITIVE_INFINITY;
  let xMax = Number.NEGATIVE_INFINITY;
  let yMin = Number.POSITIVE_INFINITY;
  let yMax = Number.NEGATIVE_INFINITY;
  const include = (x: number, y: number) => {
    if (!ok(x, y)) return;
    xMin = Math.min(xMin, x);
    xMax = Math.max(xMax, x);
    yMin = Math.min(yMin, y);
    yMax = Math.max(yMax, y);
  };
  for (const s of options.series) {
    for (const [x, y] of s.points) include(x, y);
    for (const [x, lo, hi] of s.band ?? []) {
      include(x, lo);
      include(x, hi);
    }
  }
  if (options.xMin !== undefined) xMin = options.xMin;
  if (options.xMax !== undefined) xMax = options.xMax;
  if (!Number.isFinite(xMin)) {
    xMin = 0;
    xMax = 1;
    yMin = 1;
    yMax = 10;
  }
  if (xMax === xMin) xMax = xMin + 1;
  if (yMax === yMin) {
    yMax = logY ? yMin * 2 : yMin + 1;
    if (logY) yMin /= 2;
  }
  // Pad y by 3% of the (log) range so lines do not touch the frame.
  const ty = (y: number) => (logY ? Math.log10(y) : y);
  const pad = (ty(yMax) - ty(yMin)) * 0.03;
  const y0 = ty(yMin) - pad;
  const y1 = ty(yMax) + pad;
  const sx = (x: number) => left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => top + ph - ((ty(y) - y0) / (y1 - y0)) * ph;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${esc(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left + pw / 2}" y="22" text-anchor="middle" font-size="15">${esc(options.title)}</text>`,
  );
  // Grid and ticks.
  const yLo = logY ? 10 ** y0 : y0;
  const yHi = logY ? 10 ** y1 : y1;
  for (const v of logY ? logTicks(yLo, yHi) : linearTicks(yLo, yHi)) {
    const y = sy(v).toFixed(1);
    parts.push(
      `<line x1="${left}" x2="${left + pw}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<line x1="${left - 4}" x2="${left}" y1="${y}" y2="${y}" stroke="#333"/>`,
      `<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(v)}</text>`,
    );
  }
  for (const v of linearTicks(xMin, xMax)) {
    const x = sx(v).toFixed(1);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${top}" y2="${top + ph}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${top + ph + 16}" text-anchor="middle">${fmtTick(v)}</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${left + pw / 2}" y="${height - 14}" text-anchor="middle">${esc(options.xLabel)}</text>`,
    `<text transform="translate(18 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}${logY ? " (log scale)" : ""}</text>`,
  );
  // Bands first (under every line), then series and legend.
  options.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    // On a log axis a lower edge ≤ 0 (mean − std below zero) is drawn at the bottom of the frame.
    const floorY = logY ? 10 ** y0 : y0;
    const band = (s.band ?? []).filter(([x, lo, hi]) => ok(x, hi) && Number.isFinite(lo));
    if (band.length < 2) return;
    const upper = band.map(([x, , hi]) => `${sx(x).toFixed(1)},${sy(hi).toFixed(1)}`);
    const lower = band.map(([x, lo]) => `${sx(x).toFixed(1)},${sy(ok(x, lo) ? lo : floorY).toFixed(1)}`).reverse();
    parts.push(
      `<polygon points="${[...upper, ...lower].join(" ")}" fill="${color}" fill-opacity="0.18" stroke="none"/>`,
    );
  });
  options.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points
      .filter(([x, y]) => ok(x, y))
      .map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join(" ");
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    if (pts.length > 0) {
      parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    }
    const ly = top + 14 + i * 20;
    parts.push(
      `<line x1="${left + pw + 12}" x2="${left + pw + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${left + pw + 42}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
