export {
  ModelAllocator,
  DEFAULT_ALLOCATOR_WEIGHTS,
  formatBytes,
  type AllocatableModel,
  type AllocationInfo,
  type AllocatorEvent,
  type AllocatorOptions,
  type Footprint,
  type LoadedModel,
  type ModelLease,
} from "./allocator.js";
export {
  createEmbeddedModel,
  EmbeddedModel,
  type EmbeddedModelDeps,
  type EmbeddedModelEntry,
  type EmbeddedModelInfo,
  type EmbeddedModelStats,
} from "./embedded-model.js";
export { allocatorConfigSchema, embeddedModelEntrySchema } from "./config.js";
export { defaultThreadCount, getLlamaRuntime, importNodeLlamaCpp, NODE_LLAMA_CPP_VERSION, type LlamaRuntime } from "./node-llama-cpp.js";
export { quantizationName, resolveQuantization } from "./quantization.js";
export { buildTinyLlamaGguf, writeTinyLlamaGguf, type TinyLlamaFile, type TinyLlamaOptions } from "./gguf-writer.js";
export { createEmbeddedAllocator } from "./daemon-allocator.js";
export { ModelTooLargeError } from "./allocator.js";
