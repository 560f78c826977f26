import type { LocalAgentEvent } from "../events/index.js";

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
}
