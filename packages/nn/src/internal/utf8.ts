/**
 * Strict UTF-8 encode/decode (RFC 3629), without TextEncoder/TextDecoder: the library targets plain
 * ES2022 (no DOM or Node globals in its types), and the checkpoint reader must REJECT malformed input
 * rather than substitute U+FFFD as a non-fatal decoder would.
 *
 * Rejected on decode: truncated sequences, stray continuation bytes, overlong forms, UTF-16 surrogate
 * code points (U+D800–U+DFFF) and code points above U+10FFFF — the same set Rust's `str::from_utf8`
 * rejects, which the safetensors reference uses.
 * Cost: O(bytes), one pass; code units go through one reused 8 KiB Uint16Array chunk (a number[] of
 * every unit cost seconds and hundreds of MB on a 32 MB header), one string per chunk, joined once.
 */

const CHUNK = 8192;

/**
 * Builds a long string from code units and pieces in linear time and memory: units collect in a
 * typed chunk, flushed as one string per 8 KiB; `+=` per character would build a rope of one node
 * per character instead.
 */
export class StringBuilder {
  private readonly parts: string[] = [];
  private readonly chunk = new Uint16Array(CHUNK);
  private n = 0;

  unit(c: number): void {
    if (this.n === CHUNK) this.flush();
    this.chunk[this.n++] = c;
  }

  /** Appends `s.slice(start, end)`: short runs are copied into the chunk, long ones kept as slices. */
  text(s: string, start: number, end: number): void {
    if (end - start < 64) {
      for (let i = start; i < end; i++) this.unit(s.charCodeAt(i));
      return;
    }
    this.flush();
    this.parts.push(s.slice(start, end));
  }

  private flush(): void {
    if (this.n === 0) return;
    this.parts.push(String.fromCharCode.apply(null, this.chunk.subarray(0, this.n) as unknown as number[]));
    this.n = 0;
  }

  toString(): string {
    this.flush();
    return this.parts.length === 1 ? (this.parts[0] as string) : this.parts.join("");
  }
}

/** Decodes `bytes[start, end)`; returns null on any malformed sequence. */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string | null {
  const out = new StringBuilder();
  let i = start;
  while (i < end) {
    const b0 = bytes[i] as number;
    let cp: number;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (i + 1 >= end) return null;
      const b1 = bytes[i + 1] as number;
      if ((b1 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      if (i + 2 >= end) return null;
      const b1 = bytes[i + 1] as number;
      const b2 = bytes[i + 2] as number;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return null; // overlong or surrogate
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      if (i + 3 >= end) return null;
      const b1 = bytes[i + 1] as number;
      const b2 = bytes[i + 2] as number;
      const b3 = bytes[i + 3] as number;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      i += 4;
    } else {
      return null; // continuation byte, 0xC0/0xC1 (always overlong) or 0xF5–0xFF
    }
    if (cp < 0x10000) {
      out.unit(cp);
    } else {
      const c = cp - 0x10000;
      out.unit(0xd800 + (c >> 10));
      out.unit(0xdc00 + (c & 0x3ff));
    }
  }
  return out.toString();
}

/** Encodes a string; throws a TypeError on a lone surrogate (it has no UTF-8 form). */
export function encodeUtf8(s: string, fn = "encodeUtf8"): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const lo = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (lo < 0xdc00 || lo > 0xdfff) throw new TypeError(`${fn}: string has a lone surrogate at index ${i}`);
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      i++;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      throw new TypeError(`${fn}: string has a lone surrogate at index ${i}`);
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}
