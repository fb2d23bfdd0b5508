/**
 * A tiny WebAssembly binary-module builder: enough of the format to emit the SIMD gemm kernel at run
 * time from TypeScript, with no toolchain and no binary blob in the package.
 *
 * Source: WebAssembly Core Specification 2.0 (W3C, 2022), §5 "Binary Format": §5.1.2 LEB128 integers
 * (unsigned uN, signed sN), §5.3 types (valtype 0x7F i32 … 0x7B v128, functype 0x60, limits),
 * §5.4 instructions (control 0x02–0x0F, variables 0x20–0x22, memory 0x28–0x40 with a memarg
 * {align, offset}, numeric 0x41–0xBF (f32.const 0x43, f64.const 0x44), and the 0xFD prefix followed by a u32 LEB128 SIMD opcode), §5.5
 * modules (magic 0x00 0x61 0x73 0x6D, version 1, sections id + u32 size + content; ids 1 type,
 * 2 import, 3 function, 5 memory, 7 export, 10 code). Fixed-width SIMD opcodes from §5.4.8
 * (f32x4 and f64x2 splat/add/sub/mul, load32/64_splat); relaxed_madd from the relaxed-SIMD proposal.
 *
 * Deviations: only what the kernels use is encoded (no tables, globals, data, start or custom
 * sections; one memory). Function type indices equal function indices (one type per function, no
 * deduplication). Nothing is validated here: `WebAssembly.validate`/compilation checks the output.
 *
 * Cost: linear in the module size (a few hundred bytes to a few KB); runs once per process.
 */

export const ValType = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const;
export type ValType = (typeof ValType)[keyof typeof ValType];

/** Unsigned LEB128 (spec §5.1.2, uN). */
export function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
}

/** Signed LEB128 for 32-bit values (spec §5.1.2, sN). */
export function sleb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

/** Instruction stream of one function body; each method appends one instruction and returns `this`. */
export class Code {
  readonly bytes: number[] = [];

  private simd(op: number): this {
    this.bytes.push(0xfd);
    uleb(this.bytes, op);
    return this;
  }

  private memarg(op: number[], align: number, offset: number): this {
    this.bytes.push(...op);
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }

  // control (§5.4.1); block types are always empty (0x40)
  block(): this {
    this.bytes.push(0x02, 0x40);
    return this;
  }
  loop(): this {
    this.bytes.push(0x03, 0x40);
    return this;
  }
  if(): this {
    this.bytes.push(0x04, 0x40);
    return this;
  }
  end(): this {
    this.bytes.push(0x0b);
    return this;
  }
  br(depth: number): this {
    this.bytes.push(0x0c);
    uleb(this.bytes, depth);
    return this;
  }
  brIf(depth: number): this {
    this.bytes.push(0x0d);
    uleb(this.bytes, depth);
    return this;
  }

  // variables (§5.4.4)
  get(local: number): this {
    this.bytes.push(0x20);
    uleb(this.bytes, local);
    return this;
  }
  set(local: number): this {
    this.bytes.push(0x21);
    uleb(this.bytes, local);
    return this;
  }
  tee(local: number): this {
    this.bytes.push(0x22);
    uleb(this.bytes, local);
    return this;
  }

  // memory (§5.4.6); alignment is log2 of the byte alignment hint
  f32Load(offset = 0): this {
    return this.memarg([0x2a], 2, offset);
  }
  f32Store(offset = 0): this {
    return this.memarg([0x38], 2, offset);
  }
  v128Load(offset = 0): this {
    this.bytes.push(0xfd, 0x00);
    uleb(this.bytes, 4);
    uleb(this.bytes, offset);
    return this;
  }
  /** v128.load32_splat: one f32 from memory broadcast to four lanes. */
  v128Load32Splat(offset = 0): this {
    this.bytes.push(0xfd, 0x09);
    uleb(this.bytes, 2);
    uleb(this.bytes, offset);
    return this;
  }
  /** v128.load64_splat: one f64 from memory broadcast to two lanes. */
  v128Load64Splat(offset = 0): this {
    this.bytes.push(0xfd, 0x0a);
    uleb(this.bytes, 3);
    uleb(this.bytes, offset);
    return this;
  }
  v128Store(offset = 0): this {
    this.bytes.push(0xfd, 0x0b);
    uleb(this.bytes, 4);
    uleb(this.bytes, offset);
    return this;
  }

  // numeric (§5.4.7)
  i32Const(v: number): this {
    this.bytes.push(0x41);
    sleb(this.bytes, v);
    return this;
  }
  f32Const(v: number): this {
    this.bytes.push(0x43);
    const b = new Uint8Array(new Float32Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  f64Const(v: number): this {
    this.bytes.push(0x44);
    const b = new Uint8Array(new Float64Array([v]).buffer);
    for (const x of b) this.bytes.push(x);
    return this;
  }
  i32Eqz(): this {
    this.bytes.push(0x45);
    return this;
  }
  i32LtU(): this {
    this.bytes.push(0x49);
    return this;
  }
  i32GeU(): this {
    this.bytes.push(0x4f);
    return this;
  }
  i32Add(): this {
    this.bytes.push(0x6a);
    return this;
  }
  i32Sub(): this {
    this.bytes.push(0x6b);
    return this;
  }
  i32Mul(): this {
    this.bytes.push(0x6c);
    return this;
  }
  f32Add(): this {
    this.bytes.push(0x92);
    return this;
  }
  f32Mul(): this {
    this.bytes.push(0x94);
    return this;
  }

  // SIMD (§5.4.8, prefix 0xFD)
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  /** f32x4.relaxed_madd (relaxed-SIMD proposal, opcode 0x105): a·b + c, fused or not. */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
  f64x2Splat(): this {
    return this.simd(0x14);
  }
  f64x2Add(): this {
    return this.simd(0xf0);
  }
  f64x2Sub(): this {
    return this.simd(0xf1);
  }
  f64x2Mul(): this {
    return this.simd(0xf2);
  }
  /** f64x2.relaxed_madd (relaxed-SIMD proposal, opcode 0x107): a·b + c, fused or not. */
  f64x2RelaxedMadd(): this {
    return this.simd(0x107);
  }
}

export interface FuncDef {
  readonly name: string | null;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
  /** Extra locals beyond the parameters, in order. */
  readonly locals: readonly ValType[];
  readonly body: Code;
}

export interface MemoryDef {
  /** Import the memory as `module.name` instead of defining it (needed for a shared memory). */
  readonly import?: { readonly module: string; readonly name: string };
  /** Export name of a defined memory. */
  readonly export?: string;
  readonly minPages: number;
  readonly maxPages?: number;
  readonly shared?: boolean;
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  for (const b of content) out.push(b);
}

function name(out: number[], s: string): void {
  uleb(out, s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0x7f);
}

function limits(out: number[], mem: MemoryDef): void {
  const flag = (mem.maxPages === undefined ? 0 : 1) | (mem.shared ? 2 : 0);
  out.push(flag);
  uleb(out, mem.minPages);
  if (mem.maxPages !== undefined) uleb(out, mem.maxPages);
}

/** Assembles a module with one memory and the given functions (spec §5.5). */
export function encodeModule(memory: MemoryDef, funcs: readonly FuncDef[]): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

  const types: number[] = [];
  uleb(types, funcs.length);
  for (const f of funcs) {
    types.push(0x60);
    uleb(types, f.params.length);
    types.push(...f.params);
    uleb(types, f.results.length);
    types.push(...f.results);
  }
  section(out, 1, types);

  if (memory.import) {
    const imp: number[] = [];
    uleb(imp, 1);
    name(imp, memory.import.module);
    name(imp, memory.import.name);
    imp.push(0x02);
    limits(imp, memory);
    section(out, 2, imp);
  }

  const fsec: number[] = [];
  uleb(fsec, funcs.length);
  funcs.forEach((_, i) => {
    uleb(fsec, i);
  });
  section(out, 3, fsec);

  if (!memory.import) {
    const mem: number[] = [];
    uleb(mem, 1);
    limits(mem, memory);
    section(out, 5, mem);
  }

  const exports: number[] = [];
  const exported = funcs.map((f, i) => [f.name, i] as const).filter(([n]) => n !== null);
  const memExport = !memory.import && memory.export !== undefined;
  uleb(exports, exported.length + (memExport ? 1 : 0));
  for (const [n, i] of exported) {
    name(exports, n as string);
    exports.push(0x00);
    uleb(exports, i);
  }
  if (memExport) {
    name(exports, memory.export as string);
    exports.push(0x02);
    uleb(exports, 0);
  }
  section(out, 7, exports);

  const code: number[] = [];
  uleb(code, funcs.length);
  for (const f of funcs) {
    const body: number[] = [];
    // Run-length encode the locals: (count, type) pairs.
    const runs: [number, number][] = [];
    for (const t of f.locals) {
      const last = runs[runs.length - 1];
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(body, runs.length);
    for (const [count, t] of runs) {
      uleb(body, count);
      body.push(t);
    }
    for (const b of f.body.bytes) body.push(b);
    body.push(0x0b);
    uleb(code, body.length);
    for (const b of body) code.push(b);
  }
  section(out, 10, code);
  return new Uint8Array(out);
}
