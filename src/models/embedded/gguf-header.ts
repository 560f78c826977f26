import { closeSync, openSync, readSync } from "node:fs";

/** What `models list` shows from a GGUF file's header, read without node-llama-cpp. */
export interface GgufGeneral {
  architecture?: string;
  name?: string;
  fileType?: number;
}

const WANTED = new Set(["general.architecture", "general.name", "general.file_type"]);
// GGUF value types and their fixed sizes (8 = string and 9 = array are variable).
const FIXED_SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
/** Bounds for a header this reader is willing to walk (a real model's metadata is a few MB at most). */
const MAX_KEYS = 100_000;
const MAX_STRING = 1 << 20;

/**
 * Reads `general.architecture`, `general.name` and `general.file_type` from a GGUF (v2/v3) header, synchronously
 * and in small chunks (arrays such as the vocabulary are skipped, not loaded). Undefined when the file is missing
 * or not GGUF: this only decorates listings.
 */
export function readGgufGeneral(path: string): GgufGeneral | undefined {
  let descriptor: number | undefined;
  try {
    descriptor = openSync(path, "r");
    const reader = new ChunkReader(descriptor);
    if (reader.bytes(4).toString("latin1") !== "GGUF") return undefined;
    const version = reader.u32();
    if (version < 2) return undefined;
    reader.u64(); // tensor count
    const keys = reader.u64();
    if (keys > MAX_KEYS) return undefined;
    const found: GgufGeneral = {};
    let remaining = WANTED.size;
    for (let index = 0; index < keys && remaining > 0; index++) {
      const key = reader.string();
      const type = reader.u32();
      if (!WANTED.has(key)) {
        reader.skipValue(type);
        continue;
      }
      remaining--;
      if (key === "general.file_type" && (type === 4 || type === 5)) found.fileType = reader.u32();
      else if (key === "general.architecture" && type === 8) found.architecture = reader.string();
      else if (key === "general.name" && type === 8) found.name = reader.string();
      else reader.skipValue(type);
    }
    return found;
  } catch {
    return undefined;
  } finally {
    if (descriptor !== undefined) closeSync(descriptor);
  }
}

/** Sequential little-endian reads over a file descriptor, 64 KB at a time. */
class ChunkReader {
  private buffer = Buffer.alloc(0);
  private offset = 0;
  private position = 0;

  constructor(private readonly descriptor: number) {}

  bytes(count: number): Buffer {
    if (this.offset + count > this.buffer.length) this.fill(count);
    const slice = this.buffer.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }

  u32(): number {
    return this.bytes(4).readUInt32LE(0);
  }

  u64(): number {
    return Number(this.bytes(8).readBigUInt64LE(0));
  }

  string(): string {
    const length = this.u64();
    if (length > MAX_STRING) throw new Error("string too long for a GGUF header");
    return this.bytes(length).toString("utf8");
  }

  skipValue(type: number): void {
    if (type === 8) {
      this.skip(this.u64());
      return;
    }
    if (type === 9) {
      const itemType = this.u32();
      const count = this.u64();
      const size = FIXED_SIZES[itemType];
      if (size !== undefined) this.skip(size * count);
      else for (let index = 0; index < count; index++) this.skipValue(itemType);
      return;
    }
    const size = FIXED_SIZES[type];
    if (size === undefined) throw new Error(`unknown GGUF value type ${type}`);
    this.skip(size);
  }

  private skip(count: number): void {
    const buffered = this.buffer.length - this.offset;
    if (count <= buffered) {
      this.offset += count;
      return;
    }
    this.position += count - buffered;
    this.buffer = Buffer.alloc(0);
    this.offset = 0;
  }

  private fill(needed: number): void {
    const rest = this.buffer.subarray(this.offset);
    const chunk = Buffer.alloc(Math.max(needed, 1 << 16));
    const read = readSync(this.descriptor, chunk, 0, chunk.length, this.position);
    this.position += read;
    this.buffer = Buffer.concat([rest, chunk.subarray(0, read)]);
    this.offset = 0;
    if (this.buffer.length < needed) throw new Error("unexpected end of the GGUF header");
  }
}
