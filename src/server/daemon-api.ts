import type { LocalAgentEvent } from "../events/index.js";
import type { GenerateRequest, GenerateResult, StreamPart } from "../models/index.js";

/** The model layer as the API sees it: `/api/models`, `/api/config/models`, `/v1/*`. */
export interface ModelsApi {
  /** Models, routes, health and cache counters (`GET /api/models`). */
  overview(): { models: Array<{ name: string }>; routing: Record<string, string[]> };
  /** The model sections as configured, keys redacted (`GET /api/config/models`). */
  configView(): unknown;
  /** Validates and applies `{models, routing, cache?}` (`PUT /api/config/models`). */
  applyBody(body: unknown): unknown;
  /** Sends a tiny prompt through a model or task type (`POST /api/models/:name/test`). */
  probe(target: string, signal?: AbortSignal): Promise<unknown>;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  stream(request: GenerateRequest): AsyncIterable<StreamPart>;
}

/** What the HTTP server needs from the daemon; keeps the server free of engine internals. */
export interface DaemonApi {
  health(): { status: "ok"; version: string; uptimeMs: number; workflows: number; problems: number; activeRuns: number };
  listWorkflows(): unknown[];
  getWorkflow(name: string): unknown;
  runWorkflow(name: string, inputs: Record<string, unknown>, wait: boolean): Promise<unknown>;
  listRuns(query: { workflow?: string | undefined; status?: string | undefined; limit?: number | undefined }): unknown[];
  getRun(id: string): unknown;
  cancelRun(id: string): unknown;
  resumeRun(id: string): unknown;
  fireEvent(name: string, payload: unknown): unknown;
  listDeliveries(status: string | undefined): unknown[];
  /** Approval requests, oldest first (`status`: pending, approved, denied, expired; default all). */
  listApprovals(status: string | undefined): unknown[];
  decideApproval(id: string, decision: "approve" | "deny", by: string): unknown;
  problems(): unknown[];
  subscribe(listener: (event: LocalAgentEvent) => void): () => void;
  /** The model layer; absent in API test doubles without one. */
  models?(): ModelsApi | undefined;
}
