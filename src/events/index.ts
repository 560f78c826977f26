/** Every typed event of the daemon. The API, WebSocket, CLI progress view and (later) audit log consume these. */
export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";
export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "skipped";

export type LocalAgentEvent =
  | { type: "run-queued"; runId: string; workflow: string; trigger: string; at: number }
  | { type: "run-started"; runId: string; workflow: string; resumed: boolean; at: number }
  | { type: "run-finished"; runId: string; workflow: string; status: RunStatus; error?: string; at: number }
  | { type: "step-started"; runId: string; step: string; attempt: number; stepType: string; at: number }
  | { type: "step-retrying"; runId: string; step: string; attempt: number; delayMs: number; error: string; at: number }
  | { type: "step-finished"; runId: string; step: string; status: StepStatus; durationMs: number; error?: string; at: number }
  | { type: "step-output"; runId: string; step: string; stream: "stdout" | "stderr"; text: string; at: number }
  /** How a shell step's command is isolated: `bwrap(net=none,mem=1g,…)` or `none: <reason>` (src/sandbox). */
  | { type: "step-sandboxed"; runId: string; step: string; profile: string; sandboxed: boolean; at: number }
  | { type: "delivery-queued"; deliveryId: number; destination: string; at: number }
  | { type: "delivery-sent"; deliveryId: number; destination: string; attempts: number; at: number }
  | { type: "delivery-failed"; deliveryId: number; destination: string; attempts: number; error: string; at: number }
  | { type: "network-changed"; online: boolean; at: number }
  | { type: "workflow-invalid"; file: string; errors: string[]; at: number }
  | { type: "trigger-fired"; workflow: string; trigger: string; source?: string; runId?: string; at: number }
  /** An event payload its workflow's `schema:` refused: no run was started. */
  | { type: "trigger-rejected"; workflow: string; trigger: string; source: string; errors: string[]; at: number }
  /** A fire dropped by `overlap: skip` because the workflow already had `concurrency` runs going. */
  | { type: "run-skipped"; workflow: string; trigger: string; reason: string; at: number }
  | {
      type: "approval-requested";
      approvalId: string;
      runId: string;
      workflow: string;
      step: string;
      command: string;
      rule?: string;
      expiresAt: number;
      at: number;
    }
  | {
      type: "approval-decided";
      approvalId: string;
      runId: string;
      workflow: string;
      step: string;
      decision: "approved" | "denied" | "expired";
      by: string;
      at: number;
    }
  /** A chat message accepted by a channel and durably queued (text not included: it may be private). */
  | { type: "channel-message"; channel: string; chatId: string; userId: string; messageId: string; action?: string; at: number }
  /** An inbound chat event refused (bad signature, malformed body, stranger): the reason, never the content. */
  | { type: "channel-rejected"; channel: string; reason: string; userId?: string; at: number }
  /** A channel started, stopped or failed to start. */
  | { type: "channel-status"; channel: string; status: "running" | "failed" | "stopped"; error?: string; at: number }
  | AgentEvent;

/** Events of the agent loop (src/agent): one per model call, one per tool call. */
export type AgentEvent =
  | {
      type: "agent-turn";
      runId?: string;
      workflow?: string;
      step?: string;
      conversation?: string;
      turn: number;
      model: string;
      provider: string;
      finishReason: string;
      inputTokens: number;
      outputTokens: number;
      toolCalls: number;
      durationMs: number;
      at: number;
    }
  | {
      type: "agent-tool-call";
      runId?: string;
      workflow?: string;
      step?: string;
      conversation?: string;
      turn: number;
      tool: string;
      callId: string;
      decision: "allow" | "deny" | "ask" | "invalid";
      ok: boolean;
      error?: string;
      durationMs: number;
      at: number;
    };

export type LocalAgentEventType = LocalAgentEvent["type"];
type Listener = (event: LocalAgentEvent) => void;

/** One in-process bus. Listeners run synchronously; a throwing listener is reported, never breaks the emitter. */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly onListenerError: (error: unknown) => void = () => {}) {}

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: LocalAgentEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
