import { join } from "node:path";
import { writeTinyLlamaGguf, type TinyLlamaFile } from "./gguf.js";

/**
 * Whether node-llama-cpp (an optional dependency) can be imported here. Suites that need it skip with this
 * reason printed, never silently.
 */
export async function nodeLlamaCppUnavailable(): Promise<string | undefined> {
  try {
    const specifier = "node-llama-cpp";
    await import(specifier);
    return undefined;
  } catch (error) {
    const reason = `node-llama-cpp is not installed (optional dependency): ${(error as Error).message}; npm install node-llama-cpp@3.21.1 to run these tests`;
    console.warn(`SKIPPED: ${reason}`);
    return reason;
  }
}

/** The generated models the embedded tests use. */
export interface TestModels {
  /** 2 layers, 64 wide: about 0.5 MB. */
  tiny: TinyLlamaFile;
  /** Same shape, other weights. */
  tinyOther: TinyLlamaFile;
  /** 8 layers, 256 wide: about 28 MB. */
  big: TinyLlamaFile;
  /** Prefers the general chat wrapper's function-call prefix, so tool calls can be observed. */
  caller: TinyLlamaFile;
}

export function writeTestModels(dir: string, which: Array<keyof TestModels> = ["tiny", "tinyOther", "big", "caller"]): TestModels {
  const files: Partial<TestModels> = {};
  for (const name of which) {
    if (name === "tiny") files.tiny = writeTinyLlamaGguf(join(dir, "tiny.gguf"), { contextLength: 4096 });
    if (name === "tinyOther")
      files.tinyOther = writeTinyLlamaGguf(join(dir, "tiny-other.gguf"), { contextLength: 4096, seed: 7, fileType: "F16" });
    if (name === "big") {
      files.big = writeTinyLlamaGguf(join(dir, "big.gguf"), {
        contextLength: 4096,
        embeddingLength: 256,
        blockCount: 8,
        headCount: 4,
        feedForwardLength: 768,
        seed: 2,
      });
    }
    if (name === "caller") files.caller = writeTinyLlamaGguf(join(dir, "caller.gguf"), { contextLength: 4096, favoredToken: "||call:" });
  }
  return files as TestModels;
}
