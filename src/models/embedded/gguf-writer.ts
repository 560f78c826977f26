import { writeFileSync } from "node:fs";

/**
 * Test and benchmark support, not used by the daemon itself.
 * Writes tiny llama-architecture GGUF files (format v3) with deterministic pseudo-random weights and a
 * byte-level SentencePiece vocabulary, so the embedded engine can be tested against real llama.cpp
 * without downloading a model. The text such a model writes is meaningless; loading, tokenizing,
 * sampling, grammars and memory accounting are real.
 */

export interface TinyLlamaOptions {
  /** Hidden size (default 64). Must be divisible by headCount. */
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  feedForwardLength?: number;
  /** The training context the file claims (default 512). */
  contextLength?: number;
  /** Seed of the weights (default 1): same seed, same file, same text. */
  seed?: number;
  /** F32 everywhere, or F16 for the matrices (general.file_type 0 or 1). */
  fileType?: "F32" | "F16";
  /** general.name (default "tiny-llama"). */
  name?: string;
  /**
   * A vocabulary entry the model prefers at every position (its output row points along a constant
   * direction of the residual stream), e.g. a function-call prefix. Added to the vocabulary if absent.
   */
  favoredToken?: string;
  /** tokenizer.chat_template (Jinja), when the test wants a specific chat format. */
  chatTemplate?: string;
}

export interface TinyLlamaFile {
  path: string;
  bytes: number;
  tokens: string[];
}

// GGUF value types.
const UINT32 = 4;
const INT32 = 5;
const FLOAT32 = 6;
const STRING = 8;
const ARRAY = 9;
// ggml tensor types.
const GGML_F32 = 0;
const GGML_F16 = 1;
// SentencePiece token types.
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const BYTE = 6;

const ALIGNMENT = 32;

type MetadataValue =
  | { type: "u32"; value: number }
  | { type: "f32"; value: number }
  | { type: "string"; value: string }
  | { type: "strings"; value: string[] }
  | { type: "f32s"; value: number[] }
  | { type: "i32s"; value: number[] };

interface Tensor {
  name: string;
  /** ggml order: ne[0] is the fastest-varying (input) dimension. */
  dims: number[];
  data: Float32Array;
  half: boolean;
}

/** The vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then printable ASCII and "▁" (SentencePiece's space). */
export function tinyVocabulary(favoredToken?: string): { tokens: string[]; types: number[] } {
  const tokens = ["<unk>", "<s>", "</s>"];
  const types = [UNKNOWN, CONTROL, CONTROL];
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
    types.push(BYTE);
  }
  tokens.push("\u2581");
  types.push(NORMAL);
  for (let code = 0x21; code < 0x7f; code++) {
    tokens.push(String.fromCharCode(code));
    types.push(NORMAL);
  }
  if (favoredToken !== undefined && !tokens.includes(favoredToken)) {
    tokens.push(favoredToken);
    types.push(NORMAL);
  }
  return { tokens, types };
}

/** The GGUF bytes of a tiny llama model. */
export function buildTinyLlamaGguf(options: TinyLlamaOptions = {}): Buffer {
  const embedding = options.embeddingLength ?? 64;
  const blocks = options.blockCount ?? 2;
  const heads = options.headCount ?? 2;
  const headsKv = options.headCountKv ?? heads;
  const feedForward = options.feedForwardLength ?? 128;
  const headDim = embedding / heads;
  if (!Number.isInteger(headDim)) throw new Error(`embeddingLength ${embedding} is not divisible by headCount ${heads}`);
  const half = options.fileType === "F16";
  const { tokens, types } = tinyVocabulary(options.favoredToken);
  const random = mulberry32(options.seed ?? 1);

  const matrix = (name: string, input: number, output: number, scale = 1 / Math.sqrt(input)): Tensor => ({
    name,
    dims: [input, output],
    data: randomArray(random, input * output, scale),
    half,
  });
  const norm = (name: string): Tensor => ({ name, dims: [embedding], data: new Float32Array(embedding).fill(1), half: false });

  const tokenEmbedding = matrix("token_embd.weight", embedding, tokens.length, 1);
  const output = matrix("output.weight", embedding, tokens.length);
  if (options.favoredToken !== undefined) {
    // Dimension 0 of every embedding carries a large constant, which survives the small blocks and the final
    // norm; the favored token's output row reads it, so that token wins wherever no grammar forbids it.
    for (let token = 0; token < tokens.length; token++) tokenEmbedding.data[token * embedding] = 8 * Math.sqrt(embedding);
    const favored = tokens.indexOf(options.favoredToken);
    output.data[favored * embedding] = 50;
  }
  const tensors: Tensor[] = [tokenEmbedding, norm("output_norm.weight"), output];
  for (let block = 0; block < blocks; block++) {
    const prefix = `blk.${block}.`;
    tensors.push(
      norm(`${prefix}attn_norm.weight`),
      matrix(`${prefix}attn_q.weight`, embedding, heads * headDim),
      matrix(`${prefix}attn_k.weight`, embedding, headsKv * headDim),
      matrix(`${prefix}attn_v.weight`, embedding, headsKv * headDim),
      matrix(`${prefix}attn_output.weight`, heads * headDim, embedding),
      norm(`${prefix}ffn_norm.weight`),
      matrix(`${prefix}ffn_gate.weight`, embedding, feedForward),
      matrix(`${prefix}ffn_up.weight`, embedding, feedForward),
      matrix(`${prefix}ffn_down.weight`, feedForward, embedding),
    );
  }

  const metadata: Array<[string, MetadataValue]> = [
    ["general.architecture", { type: "string", value: "llama" }],
    ["general.name", { type: "string", value: options.name ?? "tiny-llama" }],
    ["general.file_type", { type: "u32", value: half ? 1 : 0 }],
    ["general.alignment", { type: "u32", value: ALIGNMENT }],
    ["llama.context_length", { type: "u32", value: options.contextLength ?? 512 }],
    ["llama.embedding_length", { type: "u32", value: embedding }],
    ["llama.block_count", { type: "u32", value: blocks }],
    ["llama.feed_forward_length", { type: "u32", value: feedForward }],
    ["llama.attention.head_count", { type: "u32", value: heads }],
    ["llama.attention.head_count_kv", { type: "u32", value: headsKv }],
    ["llama.rope.dimension_count", { type: "u32", value: headDim }],
    ["llama.rope.freq_base", { type: "f32", value: 10000 }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: 1e-5 }],
    ["llama.vocab_size", { type: "u32", value: tokens.length }],
    ["tokenizer.ggml.model", { type: "string", value: "llama" }],
    ["tokenizer.ggml.tokens", { type: "strings", value: tokens }],
    ["tokenizer.ggml.scores", { type: "f32s", value: tokens.map((_, index) => (types[index] === NORMAL ? -index : 0)) }],
    ["tokenizer.ggml.token_type", { type: "i32s", value: types }],
    ["tokenizer.ggml.unknown_token_id", { type: "u32", value: 0 }],
    ["tokenizer.ggml.bos_token_id", { type: "u32", value: 1 }],
    ["tokenizer.ggml.eos_token_id", { type: "u32", value: 2 }],
  ];
  if (options.chatTemplate !== undefined) metadata.push(["tokenizer.chat_template", { type: "string", value: options.chatTemplate }]);

  const writer = new ByteWriter();
  writer.raw(Buffer.from("GGUF", "ascii"));
  writer.u32(3);
  writer.u64(tensors.length);
  writer.u64(metadata.length);
  for (const [key, value] of metadata) {
    writer.string(key);
    writeValue(writer, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    writer.string(tensor.name);
    writer.u32(tensor.dims.length);
    for (const dim of tensor.dims) writer.u64(dim);
    writer.u32(tensor.half ? GGML_F16 : GGML_F32);
    writer.u64(offset);
    offsets.push(offset);
    offset = align(offset + tensor.data.length * (tensor.half ? 2 : 4));
  }
  writer.pad();
  const dataStart = writer.length;
  tensors.forEach((tensor, index) => {
    writer.padTo(dataStart + (offsets[index] ?? 0));
    if (tensor.half) for (const value of tensor.data) writer.u16(toHalf(value));
    else writer.raw(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)); // little-endian hosts only
  });
  writer.padTo(dataStart + offset);
  return writer.toBuffer();
}

/** Writes a tiny llama model to `path`. */
export function writeTinyLlamaGguf(path: string, options: TinyLlamaOptions = {}): TinyLlamaFile {
  const bytes = buildTinyLlamaGguf(options);
  writeFileSync(path, bytes);
  return { path, bytes: bytes.length, tokens: tinyVocabulary(options.favoredToken).tokens };
}

function writeValue(writer: ByteWriter, value: MetadataValue): void {
  switch (value.type) {
    case "u32":
      writer.u32(UINT32);
      writer.u32(value.value);
      return;
    case "f32":
      writer.u32(FLOAT32);
      writer.f32(value.value);
      return;
    case "string":
      writer.u32(STRING);
      writer.string(value.value);
      return;
    case "strings":
      writer.u32(ARRAY);
      writer.u32(STRING);
      writer.u64(value.value.length);
      for (const item of value.value) writer.string(item);
      return;
    case "f32s":
      writer.u32(ARRAY);
      writer.u32(FLOAT32);
      writer.u64(value.value.length);
      for (const item of value.value) writer.f32(item);
      return;
    case "i32s":
      writer.u32(ARRAY);
      writer.u32(INT32);
      writer.u64(value.value.length);
      for (const item of value.value) writer.i32(item);
      return;
  }
}

function align(offset: number): number {
  return Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
}

function randomArray(random: () => number, length: number, scale: number): Float32Array {
  const values = new Float32Array(length);
  for (let index = 0; index < length; index++) values[index] = (random() * 2 - 1) * scale;
  return values;
}

/** A small deterministic PRNG (mulberry32), so the same seed writes the same bytes on every machine. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

function toHalf(value: number): number {
  const floats = new Float32Array([value]);
  const bits = new Uint32Array(floats.buffer)[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15;
  const mantissa = bits & 0x7fffff;
  if (exponent <= 0) return sign; // tiny values flush to zero; the weights here are never that small
  if (exponent >= 31) return sign | 0x7c00;
  return sign | (exponent << 10) | (mantissa >>> 13);
}

/** Growable little-endian byte buffer. */
class ByteWriter {
  private buffer = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const next = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }

  raw(bytes: Buffer): void {
    this.reserve(bytes.length);
    bytes.copy(this.buffer, this.length);
    this.length += bytes.length;
  }

  u16(value: number): void {
    this.reserve(2);
    this.length = this.buffer.writeUInt16LE(value, this.length);
  }

  u32(value: number): void {
    this.reserve(4);
    this.length = this.buffer.writeUInt32LE(value, this.length);
  }

  i32(value: number): void {
    this.reserve(4);
    this.length = this.buffer.writeInt32LE(value, this.length);
  }

  u64(value: number): void {
    this.reserve(8);
    this.length = this.buffer.writeBigUInt64LE(BigInt(value), this.length);
  }

  f32(value: number): void {
    this.reserve(4);
    this.length = this.buffer.writeFloatLE(value, this.length);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.raw(bytes);
  }

  pad(): void {
    this.padTo(align(this.length));
  }

  padTo(target: number): void {
    this.reserve(target - this.length);
    this.buffer.fill(0, this.length, target);
    this.length = target;
  }

  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
