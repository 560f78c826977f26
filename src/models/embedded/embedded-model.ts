import { randomUUID } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { errorMessage, LocalAgentError } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import type { FinishReason, GenerateRequest, GenerateResult, LanguageModel, StreamPart, ToolCall } from "../types.js";
import { ModelError } from "../model-error.js";
import type { AllocatableModel, Footprint, ModelAllocator } from "./allocator.js";
import { modelError, toChatFunctions, toChatHistory } from "./chat-history.js";
import {
  getLlamaRuntime,
  type GgufInsights,
  type LlamaChat,
  type LlamaChatGenerateOptions,
  type LlamaContext,
  type LlamaGrammar,
  type LlamaModel,
  type LlamaRuntime,
} from "./node-llama-cpp.js";
import { readGgufGeneral } from "./gguf-header.js";
import { resolveQuantization } from "./quantization.js";

/** A `models:` entry with `provider: embedded` (or the `default` model of `--model-path`). */
export interface EmbeddedModelEntry {
  provider: "embedded";
  /** The GGUF file; relative paths are resolved against `baseDir`. */
  path: string;
  /** Expected precision (Q4_K_M, Q8_0, F16, …); the file's own `general.file_type` is what runs. */
  quantization?: string;
  /** Context window in tokens (default: the model's training context, at most 4096). */
  context_size?: number;
  /** `auto` offloads to the GPU when one is present; false keeps the model on the CPU; a number (or numeric string) caps the layers. */
  gpu?: boolean | number | string;
  /** Evaluation threads; `auto` is the physical cores this process may use. */
  threads?: "auto" | number;
}

export interface EmbeddedModelDeps {
  /** The shared memory budget (one per daemon). */
  allocator: ModelAllocator;
  logger?: Logger;
  /** Where relative `path:`s point from (the config directory). */
  baseDir?: string;
  /** Task types the routing matrix sends here (the allocator's weights); empty: all. */
  taskTypes?: readonly string[];
  /** The node-llama-cpp runtime (tests inject a missing module here). */
  runtime?: () => Promise<LlamaRuntime>;
}

/** What `models list` shows about an embedded model. */
export interface EmbeddedModelInfo {
  name: string;
  provider: "embedded";
  path: string;
  fileBytes: number | undefined;
  quantization: string | undefined;
  quantizationWarning: string | undefined;
  contextSize: number | undefined;
  loaded: boolean;
  chargedBytes: number | undefined;
}

/** Counters the tests and `models list` read. */
export interface EmbeddedModelStats {
  loads: number;
  requests: number;
  /** Prompt tokens actually evaluated; lower than the prompts' size when the KV cache was reused. */
  evaluatedInputTokens: number;
}

const DEFAULT_MAX_CONTEXT = 4096;

/** Numbers each instance, so a reconfigured model never shares an allocator slot with the one it replaces. */
let instances = 0;

/** What one load holds: the weights, one context with one sequence, and the chat over it. */
interface LoadedEmbedded {
  model: LlamaModel;
  context: LlamaContext;
  chat: LlamaChat;
  grammars: Map<string, Promise<LlamaGrammar>>;
  /** Generations on one sequence run one at a time. */
  queue: Promise<unknown>;
}

/** A GGUF model run in-process by node-llama-cpp, loaded on first use and charged to the allocator. */
export class EmbeddedModel implements LanguageModel {
  readonly specificationVersion = 1 as const;
  readonly provider = "embedded";
  readonly path: string;
  readonly stats: EmbeddedModelStats = { loads: 0, requests: 0, evaluatedInputTokens: 0 };
  private readonly allocatable: AllocatableModel<LoadedEmbedded>;
  private insights: Promise<{ insights: GgufInsights; fileType: number | undefined }> | undefined;
  private header: { fileType?: number } | null | undefined;

  constructor(
    readonly name: string,
    private readonly entry: EmbeddedModelEntry,
    private readonly deps: EmbeddedModelDeps,
  ) {
    this.path = isAbsolute(entry.path) ? entry.path : resolve(deps.baseDir ?? process.cwd(), entry.path);
    this.allocatable = {
      name,
      key: `${name}#${++instances}`,
      taskTypes: deps.taskTypes ?? [],
      estimate: () => this.estimate(),
      load: () => this.load(),
    };
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    return this.run(request, undefined);
  }

  async *stream(request: GenerateRequest): AsyncIterable<StreamPart> {
    const stop = new AbortController();
    const signal = request.signal ? AbortSignal.any([request.signal, stop.signal]) : stop.signal;
    const chunks: string[] = [];
    let wake: (() => void) | undefined;
    let outcome: { result: GenerateResult } | { error: unknown } | undefined;
    void this.run({ ...request, signal }, (text) => {
      chunks.push(text);
      wake?.();
    }).then(
      (result) => {
        outcome = { result };
        wake?.();
      },
      (error: unknown) => {
        outcome = { error };
        wake?.();
      },
    );
    try {
      for (;;) {
        const text = chunks.shift();
        if (text !== undefined) {
          yield { type: "text", text };
          continue;
        }
        if (outcome) break;
        await new Promise<void>((done) => (wake = done));
        wake = undefined;
      }
      if ("error" in outcome) throw outcome.error;
      for (const toolCall of outcome.result.toolCalls) yield { type: "tool-call", toolCall };
      yield { type: "finish", result: outcome.result };
    } finally {
      // The consumer stopped reading: stop generating.
      if (!outcome) stop.abort(new Error("stream closed by the reader"));
    }
  }

  /** Unloads the model (its memory returns to the budget). */
  async close(): Promise<void> {
    await this.deps.allocator.unload(this.allocatable.key ?? this.name);
  }

  /** Path, size, precision and load state, for `models list`. */
  async info(): Promise<EmbeddedModelInfo> {
    const loaded = this.deps.allocator.list().find((allocation) => allocation.key === this.allocatable.key);
    let fileType: number | undefined;
    let contextSize: number | undefined;
    try {
      const read = await this.readInsights();
      fileType = read.fileType;
      contextSize = this.contextSize(read.insights);
    } catch {
      // A missing file or library: the entry is still listed, without what the header would tell.
    }
    const { quantization, mismatch } = resolveQuantization(fileType, this.entry.quantization);
    return {
      name: this.name,
      provider: "embedded",
      path: this.path,
      fileBytes: existsSync(this.path) ? statSync(this.path).size : undefined,
      quantization,
      quantizationWarning: mismatch,
      contextSize,
      loaded: loaded !== undefined,
      chargedBytes: loaded?.bytes,
    };
  }

  /**
   * What listings show without loading anything: precision from the GGUF header (read once, without
   * node-llama-cpp), a configured `quantization:` that disagrees, and what the model is charged when loaded.
   */
  describe(): { quantization?: string; quantizationWarning?: string; loaded: boolean; chargedBytes?: number } {
    this.header ??= readGgufGeneral(this.path) ?? null;
    const { quantization, mismatch } = resolveQuantization(this.header?.fileType, this.entry.quantization);
    const loaded = this.deps.allocator.list().find((allocation) => allocation.key === this.allocatable.key);
    return {
      ...(quantization !== undefined ? { quantization } : {}),
      ...(mismatch !== undefined ? { quantizationWarning: mismatch } : {}),
      loaded: loaded !== undefined,
      ...(loaded ? { chargedBytes: loaded.bytes } : {}),
    };
  }

  private async runtime(): Promise<LlamaRuntime> {
    try {
      return await (this.deps.runtime ? this.deps.runtime() : getLlamaRuntime(this.deps.logger ? { logger: this.deps.logger } : {}));
    } catch (error) {
      const kind = error instanceof ModelError ? error.kind : "unreachable";
      throw modelError(kind, `model ${this.name}: ${errorMessage(error)}`, { cause: error, model: this.name });
    }
  }

  private async run(request: GenerateRequest, onText: ((text: string) => void) | undefined): Promise<GenerateResult> {
    request.signal?.throwIfAborted();
    const lease = await this.deps.allocator.acquire(this.allocatable, request.signal);
    try {
      const loaded = lease.value;
      const turn = loaded.queue.then(() => this.respond(loaded, request, onText));
      loaded.queue = turn.catch(() => undefined);
      return await turn;
    } finally {
      lease.release();
    }
  }

  private async respond(
    loaded: LoadedEmbedded,
    request: GenerateRequest,
    onText: ((text: string) => void) | undefined,
  ): Promise<GenerateResult> {
    request.signal?.throwIfAborted();
    this.stats.requests++;
    const { chat } = loaded;
    const options: LlamaChatGenerateOptions = {
      temperature: request.temperature ?? 0,
      ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
      ...(request.stop?.length ? { customStopTriggers: request.stop } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(onText ? { onTextChunk: onText } : {}),
    };
    // node-llama-cpp cannot combine a grammar with function calling: with tools, the tools win.
    if (request.tools?.length) options.functions = toChatFunctions(request.tools);
    else if (request.json) options.grammar = await this.grammar(loaded, request.json);
    const before = chat.sequence.tokenMeter.getState();
    let response;
    try {
      response = await chat.generateResponse(toChatHistory(request.messages), options);
    } catch (error) {
      throw this.generationError(error, request.signal);
    }
    const after = chat.sequence.tokenMeter.getState();
    const outputTokens = after.usedOutputTokens - before.usedOutputTokens;
    this.stats.evaluatedInputTokens += after.usedInputTokens - before.usedInputTokens;
    const toolCalls: ToolCall[] = (response.functionCalls ?? []).map((call) => ({
      id: `call_${randomUUID().slice(0, 8)}`,
      name: call.functionName,
      arguments: (call.params ?? {}) as Record<string, unknown>,
    }));
    const stopReason = response.metadata.stopReason;
    const finishReason: FinishReason = toolCalls.length > 0 ? "tool_calls" : stopReason === "maxTokens" ? "length" : "stop";
    return {
      text: response.response,
      toolCalls,
      finishReason,
      usage: { inputTokens: Math.max(0, chat.sequence.contextTokens.length - outputTokens), outputTokens },
      model: this.name,
    };
  }

  private grammar(loaded: LoadedEmbedded, json: true | Record<string, unknown>): Promise<LlamaGrammar> {
    const key = json === true ? "json" : JSON.stringify(json);
    let grammar = loaded.grammars.get(key);
    if (!grammar) {
      grammar = this.runtime().then(({ llama }) => (json === true ? llama.getGrammarFor("json") : llama.createGrammarForJsonSchema(json)));
      grammar.catch(() => loaded.grammars.delete(key));
      loaded.grammars.set(key, grammar);
    }
    return grammar.catch((error: unknown) => {
      throw modelError("bad_request", `model ${this.name}: the json schema cannot be turned into a grammar: ${errorMessage(error)}`, {
        cause: error,
        model: this.name,
      });
    });
  }

  private generationError(error: unknown, signal: AbortSignal | undefined): LocalAgentError {
    if (error instanceof LocalAgentError) return error;
    if (signal?.aborted) {
      const timeout = (signal.reason as { name?: string } | undefined)?.name === "TimeoutError";
      return modelError(timeout ? "timeout" : "aborted", `model ${this.name}: ${timeout ? "timed out" : "request aborted"}`, {
        cause: error,
        model: this.name,
      });
    }
    const message = errorMessage(error);
    const kind = /context size|fit the context|too long/i.test(message) ? "context_too_long" : "server_error";
    return modelError(kind, `model ${this.name} (embedded ${this.path}): ${message}`, { cause: error, model: this.name });
  }

  private readInsights(): Promise<{ insights: GgufInsights; fileType: number | undefined }> {
    this.insights ??= (async () => {
      if (!existsSync(this.path)) {
        throw modelError("model_missing", `model ${this.name}: the GGUF file ${this.path} does not exist`, { model: this.name });
      }
      const { module, llama } = await this.runtime();
      try {
        const info = await module.readGgufFileInfo(this.path);
        return { insights: await module.GgufInsights.from(info, llama), fileType: info.metadata.general?.file_type };
      } catch (error) {
        throw modelError("model_missing", `model ${this.name}: ${this.path} is not a readable GGUF file: ${errorMessage(error)}`, {
          cause: error,
          model: this.name,
        });
      }
    })();
    this.insights.catch(() => (this.insights = undefined));
    return this.insights;
  }

  private contextSize(insights: GgufInsights): number {
    return this.entry.context_size ?? Math.min(insights.trainContextSize ?? DEFAULT_MAX_CONTEXT, DEFAULT_MAX_CONTEXT);
  }

  private gpuLayers(runtime: LlamaRuntime, insights: GgufInsights): "auto" | number {
    const gpu = this.entry.gpu ?? "auto";
    if (gpu === false || runtime.llama.gpu === false) return 0;
    const layers = typeof gpu === "string" && /^\d+$/.test(gpu) ? Number(gpu) : gpu;
    if (typeof layers === "number") return Math.min(layers, insights.totalLayers);
    return "auto";
  }

  /** The library's own estimate from the GGUF header, before any memory is touched. */
  private async estimate(): Promise<Footprint> {
    const runtime = await this.runtime();
    const { insights } = await this.readInsights();
    const layers = this.gpuLayers(runtime, insights);
    const gpuLayers = layers === "auto" ? insights.totalLayers : layers;
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
    const context = await insights.estimateContextResourceRequirementsV2({
      contextSize: this.contextSize(insights),
      modelGpuLayers: gpuLayers,
      sequences: 1,
    });
    return { modelBytes: model.cpuRam + model.gpuVram, contextBytes: context.cpuRam + context.gpuVram };
  }

  private async load(): Promise<{ value: LoadedEmbedded; footprint: Footprint; dispose: () => Promise<void> }> {
    const runtime = await this.runtime();
    const { llama, module } = runtime;
    const { insights } = await this.readInsights();
    const threads = this.entry.threads === undefined || this.entry.threads === "auto" ? runtime.threads : this.entry.threads;
    const started = Date.now();
    const before = await llama.getLlamaMemoryUsage();
    let model: LlamaModel;
    try {
      model = await llama.loadModel({ modelPath: this.path, gpuLayers: this.gpuLayers(runtime, insights) });
    } catch (error) {
      throw this.loadError(error);
    }
    const withModel = await llama.getLlamaMemoryUsage();
    let context: LlamaContext;
    try {
      context = await model.createContext({ contextSize: this.contextSize(insights), threads, sequences: 1 });
    } catch (error) {
      await model.dispose();
      throw this.loadError(error);
    }
    const withContext = await llama.getLlamaMemoryUsage();
    const chat = new module.LlamaChat({ contextSequence: context.getSequence() });
    this.stats.loads++;
    const footprint: Footprint = {
      modelBytes: Math.max(usage(withModel) - usage(before), model.size),
      contextBytes: Math.max(0, usage(withContext) - usage(withModel)),
    };
    this.deps.logger?.info(
      { model: this.name, gpuLayers: model.gpuLayers, contextSize: context.contextSize, threads, ...footprint, ms: Date.now() - started },
      "embedded model loaded",
    );
    const value: LoadedEmbedded = { model, context, chat, grammars: new Map(), queue: Promise.resolve() };
    return {
      value,
      footprint,
      dispose: async () => {
        chat.dispose();
        await context.dispose();
        await model.dispose();
        this.deps.logger?.info({ model: this.name }, "embedded model unloaded");
      },
    };
  }

  private loadError(error: unknown): LocalAgentError {
    const message = errorMessage(error);
    const memory = (error as { name?: string }).name === "InsufficientMemoryError" || /memory/i.test(message);
    return modelError(memory ? "out_of_memory" : "model_missing", `model ${this.name}: cannot load ${this.path}: ${message}`, {
      cause: error,
      model: this.name,
    });
  }
}

function usage(memory: { cpuRam: number; gpuVram: number }): number {
  return memory.cpuRam + memory.gpuVram;
}

/** The embedded provider's factory, keyed `embedded` in the model registry. */
export function createEmbeddedModel(name: string, entry: EmbeddedModelEntry, deps: EmbeddedModelDeps): EmbeddedModel {
  return new EmbeddedModel(name, entry, deps);
}
