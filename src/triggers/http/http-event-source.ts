import { LocalAgentError } from "../../errors/index.js";
import type { TriggerEmit, TriggerOutcome, TriggerSource } from "../../scheduler/index.js";
import { formatPayloadErrors } from "../../workflow/index.js";

/**
 * `POST /api/events/:name`: the request body is the payload. The fire is all or nothing: when a
 * listening workflow's schema refuses the payload, no run starts and the caller gets the errors
 * (HTTP 400) to fix and send again.
 */
export class HttpEventSource implements TriggerSource {
  readonly name = "http";
  private emit: TriggerEmit | undefined;

  start(emit: TriggerEmit): void {
    this.emit = emit;
  }

  stop(): void {
    this.emit = undefined;
  }

  /** Fires `event`; throws `payload_invalid` (with each workflow's ajv errors) when a schema refuses the payload. */
  receive(event: string, payload: unknown): TriggerOutcome {
    if (!this.emit) {
      throw new LocalAgentError("unavailable", "event triggers are not running (the daemon is starting or stopping); retry shortly", {
        retryable: true,
      });
    }
    const outcome = this.emit(event, payload, { atomic: true });
    if (outcome.rejected.length > 0) {
      const reasons = outcome.rejected.map((entry) => `workflow "${entry.workflow}": ${formatPayloadErrors(entry.errors)}`);
      throw new LocalAgentError("payload_invalid", `event "${event}" payload refused, no run started: ${reasons.join("; ")}`, {
        details: { event, rejected: outcome.rejected },
      });
    }
    return outcome;
  }
}
