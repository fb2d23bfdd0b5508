/**
 * A tiny PNG writer for image grids (bench only: uses node:zlib).
 *
 * PNG (ISO/IEC 15948): signature, IHDR (8-bit RGB, colour type 2), one IDAT holding the zlib stream of
 * the scanlines, each prefixed with filter byte 0 (None), and IEND; every chunk ends with the CRC-32
 * (polynomial 0xEDB88320) of its type and data. Cost O(width·height) plus deflate.
 */
import { deflateSync } from "node:zlib";

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (crcTable[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** PNG bytes of a width × height RGB image (`rgb` row-major, 3 bytes per pixel). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(
      `encodePng: rgb has ${rgb.length} bytes, expected ${width}·${height}·3 = ${width * height * 3}`,
    );
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** One tile: a side × side grayscale image in [0, 1] and the colour of its frame. */
export interface Tile {
  readonly pixels: ArrayLike<number>;
  readonly frame: readonly [number, number, number];
}

/**
 * Lays out rows of tiles (side × side pixels each, scaled by `scale`, with a `frameWidth` frame and a
 * 2-pixel white gap) as an RGB image; null tiles leave a gap. Returns PNG bytes.
 */
export function tileGridPng(
  rows: readonly (readonly (Tile | null)[])[],
  side: number,
  scale = 2,
  frameWidth = 2,
): Uint8Array {
  const cols = Math.max(...rows.map((r) => r.length));
  const cell = side * scale + 2 * frameWidth + 2;
  const width = cols * cell;
  const height = rows.length * cell;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  rows.forEach((row, r) => {
    row.forEach((tile, c) => {
      if (tile === null) return;
      const x0 = c * cell + 1;
      const y0 = r * cell + 1;
      const inner = side * scale + 2 * frameWidth;
      for (let y = 0; y < inner; y++) {
        for (let x = 0; x < inner; x++) {
          const px = x - frameWidth;
          const py = y - frameWidth;
          const o = ((y0 + y) * width + x0 + x) * 3;
          if (px < 0 || py < 0 || px >= side * scale || py >= side * scale) {
            rgb[o] = tile.frame[0];
            rgb[o + 1] = tile.frame[1];
            rgb[o + 2] = tile.frame[2];
          } else {
            const val = tile.pixels[Math.floor(py / scale) * side + Math.floor(px / scale)] as number;
            const g = Math.round(255 * (1 - Math.min(1, Math.max(0, val))));
            rgb[o] = g;
            rgb[o + 1] = g;
            rgb[o + 2] = g;
          }
        }
      }
    });
  });
  return encodePng(width, height, rgb);
}
