export type {
  ChatMessage,
  ChatRole,
  FinishReason,
  GenerateRequest,
  GenerateResult,
  LanguageModel,
  ModelCaller,
  ModelErrorKind,
  StreamPart,
  ToolCall,
  ToolDefinition,
  Usage,
} from "./types.js";
export {
  MODEL_PROVIDERS,
  cacheSchema,
  checkModelReferences,
  modelEntrySchema,
  modelsConfigSchema,
  modelsSchema,
  routingSchema,
  type ModelEntry,
  type ModelsConfigInput,
} from "./config-schema.js";
export { ModelError, fallsThrough, isModelError, marksUnhealthy, type ModelErrorOptions } from "./model-error.js";
export { redactEntry, resolveModelsConfig, modelSecrets, type ResolvedModel, type ResolvedModelsConfig } from "./model-config.js";
export {
  createModel,
  modelProviders,
  registerModelProvider,
  UnavailableModel,
  type ModelFactory,
  type ModelFactoryDeps,
} from "./registry.js";
export {
  ModelRouter,
  RoutingTable,
  resolveIn,
  type ModelCallRecord,
  type ModelHealth,
  type Resolution,
  type RoutedModel,
} from "./router.js";
export { ResultCache, MODEL_CACHE_NAMESPACE, cacheKey, requestFingerprint, type CacheStats } from "./result-cache.js";
export { ModelService, type ModelAuditSink, type ModelServiceOptions, type ModelView, type ModelsOverview } from "./model-service.js";
export { OpenAiModel, toOpenAiMessage } from "./providers/openai.js";
export { OllamaModel } from "./providers/ollama.js";
export { AnthropicModel, ANTHROPIC_VERSION } from "./providers/anthropic.js";
export type { HttpModelSettings, ProviderDeps } from "./providers/http-transport.js";
