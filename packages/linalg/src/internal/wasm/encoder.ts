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

  /** An instruction without immediates. */
  private op(...code: number[]): this {
    this.bytes.push(...code);
    return this;
  }

  /** An instruction with one u32 immediate (a label depth or a local index). */
  private opIndex(code: number, index: number): this {
    this.bytes.push(code);
    uleb(this.bytes, index);
    return this;
  }

  /** A SIMD instruction: the 0xFD prefix and its u32 opcode. */
  private simd(code: number): this {
    return this.opIndex(0xfd, code);
  }

  /** A memory instruction: opcode bytes, then the memarg {align (log2 of bytes), offset}. */
  private memarg(code: readonly number[], align: number, offset: number): this {
    this.bytes.push(...code);
    uleb(this.bytes, align);
    uleb(this.bytes, offset);
    return this;
  }

  /** A float constant: the opcode, then the value's little-endian IEEE bytes. */
  private floatConst(code: number, value: Float32Array | Float64Array): this {
    this.bytes.push(code, ...new Uint8Array(value.buffer));
    return this;
  }

  // control (§5.4.1); block types are always empty (0x40)
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if(): this {
    return this.op(0x04, 0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.opIndex(0x0c, depth);
  }
  brIf(depth: number): this {
    return this.opIndex(0x0d, depth);
  }

  // variables (§5.4.4)
  get(local: number): this {
    return this.opIndex(0x20, local);
  }
  set(local: number): this {
    return this.opIndex(0x21, local);
  }
  tee(local: number): this {
    return this.opIndex(0x22, local);
  }

  // memory (§5.4.6); alignment is log2 of the byte alignment hint; SIMD opcodes < 0x80 are one LEB byte
  f32Load(offset = 0): this {
    return this.memarg([0x2a], 2, offset);
  }
  f32Store(offset = 0): this {
    return this.memarg([0x38], 2, offset);
  }
  i32Load(offset = 0): this {
    return this.memarg([0x28], 2, offset);
  }
  f64Load(offset = 0): this {
    return this.memarg([0x2b], 3, offset);
  }
  f64Store(offset = 0): this {
    return this.memarg([0x39], 3, offset);
  }
  /** v128.load64_zero: 8 bytes into the low half, the high half zeroed. */
  v128Load64Zero(offset = 0): this {
    return this.memarg([0xfd, 0x5d], 3, offset);
  }
  /** v128.store64_lane 0: the low 8 bytes. */
  v128Store64Low(offset = 0): this {
    this.memarg([0xfd, 0x5b], 3, offset);
    this.bytes.push(0);
    return this;
  }
  v128Load(offset = 0): this {
    return this.memarg([0xfd, 0x00], 4, offset);
  }
  /** v128.load32_splat: one f32 from memory broadcast to four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.memarg([0xfd, 0x09], 2, offset);
  }
  /** v128.load64_splat: one f64 from memory broadcast to two lanes. */
  v128Load64Splat(offset = 0): this {
    return this.memarg([0xfd, 0x0a], 3, offset);
  }
  v128Store(offset = 0): this {
    return this.memarg([0xfd, 0x0b], 4, offset);
  }

  // numeric (§5.4.7)
  i32Const(v: number): this {
    this.bytes.push(0x41);
    sleb(this.bytes, v);
    return this;
  }
  f32Const(v: number): this {
    return this.floatConst(0x43, new Float32Array([v]));
  }
  f64Const(v: number): this {
    return this.floatConst(0x44, new Float64Array([v]));
  }
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32LtU(): this {
    return this.op(0x49);
  }
  i32GeU(): this {
    return this.op(0x4f);
  }
  i32LeU(): this {
    return this.op(0x4d);
  }
  /** select: the first operand if the i32 on top is nonzero, else the second. */
  select(): this {
    return this.op(0x1b);
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32Or(): this {
    return this.op(0x72);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }
  f64Add(): this {
    return this.op(0xa0);
  }
  f64Mul(): this {
    return this.op(0xa2);
  }
  f32DemoteF64(): this {
    return this.op(0xb6);
  }
  f64PromoteF32(): this {
    return this.op(0xbb);
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Mul(): this {
    return this.op(0x94);
  }

  // SIMD (§5.4.8, prefix 0xFD)
  /** i8x16.shuffle: bytes of the two operands (0–15 the first, 16–31 the second) picked by `lanes`. */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !(Number.isInteger(l) && l >= 0 && l < 32))) {
      throw new RangeError(`i8x16Shuffle: lanes must be 16 integers in [0, 32) (got ${String(lanes)})`);
    }
    this.simd(0x0d);
    this.bytes.push(...lanes);
    return this;
  }
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
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  /** f32x4.max: lane-wise maximum, NaN if either lane is NaN. */
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** i32x4.shl: each 32-bit lane shifted left by the i32 operand (mod 32). */
  i32x4Shl(): this {
    return this.simd(0xab);
  }
  f32x4Abs(): this {
    return this.simd(0xe0);
  }
  f32x4Lt(): this {
    return this.simd(0x43);
  }
  f32x4Gt(): this {
    return this.simd(0x44);
  }
  f32x4Ge(): this {
    return this.simd(0x46);
  }
  f32x4Ne(): this {
    return this.simd(0x42);
  }
  /** f32x4.demote_f64x2_zero: two f64 lanes rounded to the low two f32 lanes, the high two 0. */
  f32x4DemoteF64x2Zero(): this {
    return this.simd(0x5e);
  }
  /** f64x2.promote_low_f32x4: the low two f32 lanes widened (exactly). */
  f64x2PromoteLowF32x4(): this {
    return this.simd(0x5f);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  /** v128.andnot: a & ~b. */
  v128AndNot(): this {
    return this.simd(0x4f);
  }
  v128Or(): this {
    return this.simd(0x50);
  }
  v128AnyTrue(): this {
    return this.simd(0x53);
  }
  f64x2Splat(): this {
    return this.simd(0x14);
  }
  f64x2Div(): this {
    return this.simd(0xf3);
  }
  f64x2Abs(): this {
    return this.simd(0xec);
  }
  f64x2Lt(): this {
    return this.simd(0x49);
  }
  f64x2Gt(): this {
    return this.simd(0x4a);
  }
  f64x2Ne(): this {
    return this.simd(0x48);
  }
  f64x2Ge(): this {
    return this.simd(0x4c);
  }
  f64x2Max(): this {
    return this.simd(0xf5);
  }
  /** i64x2.shl: each 64-bit lane shifted left by the i32 operand (mod 64). */
  i64x2Shl(): this {
    return this.simd(0xcb);
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

/** A function with no results and the locals `L` declared. */
export function funcDef(name: string, params: readonly ValType[], L: Locals, body: Code): FuncDef {
  return { name, params, results: [], locals: L.types, body };
}

/** A fixed-length tuple of local indices (so destructuring needs no `as number`). */
type Indices<N extends number, A extends number[] = []> = A["length"] extends N ? A : Indices<N, [...A, number]>;

/**
 * The locals of a function being emitted, numbered after its parameters in the order they are
 * declared; `types` becomes the FuncDef's `locals`.
 */
export class Locals {
  readonly types: ValType[] = [];
  private readonly first: number;
  constructor(params: number) {
    this.first = params;
  }
  /** `count` (a literal) new locals of type `t`. */
  add<N extends number>(t: ValType, count: N): Indices<N> {
    return this.list(t, count) as Indices<N>;
  }
  /** `count` new locals of type `t`, as an array. */
  list(t: ValType, count: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      out.push(this.first + this.types.length);
      this.types.push(t);
    }
    return out;
  }
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
