import { describe, expect, it } from "vitest";
import { nodeLlamaCppUnavailable } from "../../../test/helpers/embedded.js";
import { makeTempDir } from "../../../test/helpers/index.js";
import { writeFileSync } from "node:fs";
import { readGgufGeneral } from "./gguf-header.js";
import { buildTinyLlamaGguf, tinyVocabulary, writeTinyLlamaGguf } from "./gguf-writer.js";

const unavailable = await nodeLlamaCppUnavailable();

describe("tiny llama GGUF writer", () => {
  it("writes a GGUF v3 header, the same bytes for the same seed and other bytes for another", () => {
    const bytes = buildTinyLlamaGguf();
    expect(bytes.subarray(0, 4).toString("ascii")).toBe("GGUF");
    expect(bytes.readUInt32LE(4)).toBe(3);
    expect(Number(bytes.readBigUInt64LE(8))).toBe(3 + 2 * 9); // tensors: embeddings, output norm, output, 9 per block
    expect(bytes.length % 32).toBe(0);
    expect(buildTinyLlamaGguf().equals(bytes)).toBe(true);
    expect(buildTinyLlamaGguf({ seed: 2 }).equals(bytes)).toBe(false);
    expect(buildTinyLlamaGguf({ fileType: "F16" }).length).toBeLessThan(bytes.length);
  });

  it("has the byte-level vocabulary llama.cpp's SentencePiece tokenizer needs", () => {
    const { tokens, types } = tinyVocabulary("||call:");
    expect(tokens.slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
    expect(tokens).toContain("<0x0A>");
    expect(tokens.filter((token) => /^<0x[0-9A-F]{2}>$/.test(token))).toHaveLength(256);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(tokens.at(-1)).toBe("||call:");
    expect(types).toHaveLength(tokens.length);
  });

  it("refuses a shape llama.cpp could not load", () => {
    expect(() => buildTinyLlamaGguf({ embeddingLength: 30, headCount: 4 })).toThrow("embeddingLength 30 is not divisible by headCount 4");
  });

  it.skipIf(unavailable !== undefined)("is read back by node-llama-cpp's own GGUF parser", async () => {
    const temp = makeTempDir();
    try {
      const file = writeTinyLlamaGguf(`${temp.dir}/m.gguf`, { blockCount: 3, fileType: "F16", name: "reader-check" });
      const specifier = "node-llama-cpp";
      const library = (await import(specifier)) as {
        readGgufFileInfo: (path: string) => Promise<{ metadata: Record<string, Record<string, unknown>>; tensorInfo?: unknown[] }>;
      };
      const info = await library.readGgufFileInfo(file.path);
      expect(info.metadata.general).toMatchObject({ architecture: "llama", name: "reader-check", file_type: 1 });
      expect(info.metadata.llama).toMatchObject({ block_count: 3, embedding_length: 64, context_length: 512 });
      expect(info.tensorInfo).toHaveLength(3 + 3 * 9);
    } finally {
      temp.cleanup();
    }
  });

  it("is read back by the header reader `models list` uses (no node-llama-cpp needed)", () => {
    const temp = makeTempDir();
    try {
      writeTinyLlamaGguf(`${temp.dir}/f16.gguf`, { fileType: "F16", name: "listed" });
      expect(readGgufGeneral(`${temp.dir}/f16.gguf`)).toEqual({ architecture: "llama", name: "listed", fileType: 1 });
      writeTinyLlamaGguf(`${temp.dir}/f32.gguf`, {});
      expect(readGgufGeneral(`${temp.dir}/f32.gguf`)?.fileType).toBe(0);
      writeFileSync(`${temp.dir}/not.gguf`, "definitely not a model");
      expect(readGgufGeneral(`${temp.dir}/not.gguf`)).toBeUndefined();
      writeFileSync(`${temp.dir}/cut.gguf`, buildTinyLlamaGguf().subarray(0, 40));
      expect(readGgufGeneral(`${temp.dir}/cut.gguf`)).toBeUndefined();
      expect(readGgufGeneral(`${temp.dir}/missing.gguf`)).toBeUndefined();
    } finally {
      temp.cleanup();
    }
  });
});
