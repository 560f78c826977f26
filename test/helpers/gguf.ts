// The writer lives in src/ so the benchmarks (which run dist/) can use it too.
export {
  buildTinyLlamaGguf,
  tinyVocabulary,
  writeTinyLlamaGguf,
  type TinyLlamaFile,
  type TinyLlamaOptions,
} from "../../src/models/embedded/gguf-writer.js";
