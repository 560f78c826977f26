import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { errorMessage } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import { ModelError } from "../model-error.js";

/**
 * The slice of node-llama-cpp (an optional dependency) the embedded engine uses, typed here so LocalAgent
 * compiles and runs without it: the module is imported only when an embedded model is configured.
 */

export interface LlamaMemoryUsage {
  cpuRam: number;
  gpuVram: number;
}

export interface LlamaGrammar {
  readonly grammar: string;
}

export interface Llama {
  readonly gpu: string | false;
  readonly cpuMathCores: number;
  loadModel(options: { modelPath: string; gpuLayers?: "auto" | number }): Promise<LlamaModel>;
  getGrammarFor(type: "json"): Promise<LlamaGrammar>;
  createGrammarForJsonSchema(schema: unknown): Promise<LlamaGrammar>;
  getLlamaMemoryUsage(): Promise<LlamaMemoryUsage>;
  dispose(): Promise<void>;
}

export interface LlamaModel {
  readonly size: number;
  readonly gpuLayers: number;
  readonly trainContextSize: number;
  readonly disposed: boolean;
  createContext(options: { contextSize: number; threads: number; sequences: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}

export interface LlamaContext {
  readonly contextSize: number;
  getSequence(): LlamaContextSequence;
  dispose(): Promise<void>;
}

export interface LlamaContextSequence {
  readonly tokenMeter: { getState(): { usedInputTokens: number; usedOutputTokens: number } };
  readonly contextTokens: readonly number[];
}

/** node-llama-cpp's chat history items. */
export type ChatHistoryItem =
  { type: "system"; text: string } | { type: "user"; text: string } | { type: "model"; response: Array<string | ChatHistoryFunctionCall> };

export interface ChatHistoryFunctionCall {
  type: "functionCall";
  name: string;
  description?: string;
  params: unknown;
  result: unknown;
}

export interface ChatFunctionDefinition {
  description?: string;
  params?: unknown;
}

export interface LlamaChatGenerateOptions {
  onTextChunk?: (text: string) => void;
  signal?: AbortSignal;
  maxTokens?: number;
  temperature?: number;
  seed?: number;
  customStopTriggers?: readonly string[];
  grammar?: LlamaGrammar;
  functions?: Record<string, ChatFunctionDefinition>;
  documentFunctionParams?: boolean;
}

export interface LlamaChatResponse {
  response: string;
  functionCalls?: Array<{ functionName: string; params: unknown }>;
  metadata: { stopReason: "eogToken" | "stopGenerationTrigger" | "functionCalls" | "maxTokens" | "abort" | "customStopTrigger" };
}

export interface LlamaChat {
  readonly sequence: LlamaContextSequence;
  generateResponse(history: ChatHistoryItem[], options: LlamaChatGenerateOptions): Promise<LlamaChatResponse>;
  dispose(): void;
}

export interface GgufInsights {
  readonly trainContextSize: number | undefined;
  readonly totalLayers: number;
  estimateModelResourceRequirementsV2(options: { gpuLayers: number }): Promise<LlamaMemoryUsage>;
  estimateContextResourceRequirementsV2(options: {
    contextSize: number;
    modelGpuLayers: number;
    sequences: number;
  }): Promise<LlamaMemoryUsage>;
}

export interface GgufFileInfo {
  metadata: { general?: { file_type?: number; name?: string; architecture?: string } };
}

export interface NodeLlamaCppModule {
  getLlama(options: {
    gpu: "auto" | false;
    build: "never";
    maxThreads: number;
    logLevel: string;
    logger: (level: string, message: string) => void;
    progressLogs: false;
  }): Promise<Llama>;
  LlamaChat: new (options: { contextSequence: LlamaContextSequence }) => LlamaChat;
  readGgufFileInfo(path: string): Promise<GgufFileInfo>;
  GgufInsights: { from(info: GgufFileInfo, llama?: Llama): Promise<GgufInsights> };
}

/** The pinned version the docs and error messages name. */
export const NODE_LLAMA_CPP_VERSION = "3.21.1";

/** Imports node-llama-cpp; a clear `model_error` saying how to install it when it is absent. */
export async function importNodeLlamaCpp(specifier = "node-llama-cpp"): Promise<NodeLlamaCppModule> {
  try {
    // A variable specifier keeps TypeScript from requiring the optional package at build time.
    return (await import(specifier)) as NodeLlamaCppModule;
  } catch (error) {
    const missing = (error as { code?: string }).code === "ERR_MODULE_NOT_FOUND";
    throw new ModelError(
      "unreachable",
      missing
        ? `embedded models need node-llama-cpp, an optional dependency that is not installed: run npm install node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`
        : `node-llama-cpp could not be loaded: ${errorMessage(error)}`,
      { cause: error, model: "node-llama-cpp", provider: "embedded" },
    );
  }
}

/**
 * Threads for token evaluation: the physical cores this process may use, less one on machines of four cores or
 * fewer, so the daemon (and whatever else runs there) keeps a core. node-llama-cpp's default on a CPU-only
 * machine is at least 4 threads, and llama.cpp's threads meet at spinning barriers: when one is preempted all
 * of them wait. On the busy 2-core development box 30 tokens took 39 ms with one thread and 10.8 s with two
 * (docs/benchmarks.md#embedded); set `threads:` on a machine that does nothing else.
 */
export function defaultThreadCount(cpuInfo = readCpuInfo(), usable = availableParallelism()): number {
  const cores = Math.min(usable, countPhysicalCores(cpuInfo) ?? usable);
  return Math.max(1, cores <= 4 ? cores - 1 : cores);
}

/** Distinct (physical id, core id) pairs in /proc/cpuinfo; undefined where the file does not say. */
export function countPhysicalCores(cpuInfo: string | undefined): number | undefined {
  if (!cpuInfo) return undefined;
  const cores = new Set<string>();
  for (const block of cpuInfo.split(/\n\s*\n/)) {
    const physical = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (core !== undefined) cores.add(`${physical ?? "0"}:${core}`);
  }
  return cores.size > 0 ? cores.size : undefined;
}

function readCpuInfo(): string | undefined {
  try {
    return readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    return undefined;
  }
}

export interface LlamaRuntimeOptions {
  logger?: Logger;
  /** Module specifier (tests point it at a package that does not exist). */
  specifier?: string;
}

/** The module and one shared `Llama` backend (GPU when present, never a source build or download). */
export interface LlamaRuntime {
  module: NodeLlamaCppModule;
  llama: Llama;
  threads: number;
}

let shared: Promise<LlamaRuntime> | undefined;

/** Loads node-llama-cpp and its backend once per process. */
export function getLlamaRuntime(options: LlamaRuntimeOptions = {}): Promise<LlamaRuntime> {
  if (options.specifier !== undefined) return createLlamaRuntime(options);
  shared ??= createLlamaRuntime(options);
  shared.catch(() => {
    shared = undefined;
  });
  return shared;
}

async function createLlamaRuntime(options: LlamaRuntimeOptions): Promise<LlamaRuntime> {
  const module = await importNodeLlamaCpp(options.specifier);
  const threads = defaultThreadCount();
  const logger = options.logger;
  try {
    const llama = await module.getLlama({
      gpu: "auto",
      build: "never",
      maxThreads: threads,
      logLevel: "warn",
      logger: (level, message) => {
        if (level === "error" || level === "fatal") logger?.error({ component: "node-llama-cpp" }, message);
        else logger?.warn({ component: "node-llama-cpp" }, message);
      },
      progressLogs: false,
    });
    logger?.info({ gpu: llama.gpu, threads }, "node-llama-cpp backend ready");
    return { module, llama, threads };
  } catch (error) {
    throw new ModelError("unreachable", `node-llama-cpp has no usable prebuilt binary for this machine: ${errorMessage(error)}`, {
      cause: error,
      model: "node-llama-cpp",
      provider: "embedded",
    });
  }
}
