import type { LocalAgentEvent } from "../events/index.js";

const COLORS = {
  reset: "\x1b[0m",
  dim: "\x1b[2m",
  green: "\x1b[32m",
  red: "\x1b[31m",
  yellow: "\x1b[33m",
  cyan: "\x1b[36m",
  bold: "\x1b[1m",
};

/**
 * Live per-step progress of a foreground run: symbols, colours and step output on a terminal,
 * plain timestamped lines otherwise (logs, CI, pipes).
 */
export class ProgressPrinter {
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
  ) {}

  handle(event: LocalAgentEvent): void {
    switch (event.type) {
      case "run-started":
        return this.line(`${this.paint("bold", "run")} ${event.runId} ${event.workflow}${event.resumed ? " (resumed)" : ""}`, event.at);
      case "step-started":
        return this.line(
          `${this.paint("cyan", "▶")} ${event.step} ${this.paint("dim", `(${event.stepType}${event.attempt > 1 ? `, attempt ${event.attempt}` : ""})`)}`,
          event.at,
        );
      case "step-output":
        return this.output(event.step, event.text);
      case "step-sandboxed":
        return this.line(`  ${this.paint("dim", `sandbox: ${event.profile}`)}`, event.at);
      case "step-retrying":
        return this.line(`${this.paint("yellow", "↻")} ${event.step} failed: ${event.error}; retrying in ${event.delayMs} ms`, event.at);
      case "step-finished": {
        this.flush(event.step);
        const symbol =
          event.status === "succeeded"
            ? this.paint("green", "✔")
            : event.status === "skipped"
              ? this.paint("dim", "○")
              : this.paint("red", "✘");
        const detail = event.status === "skipped" ? "skipped (condition false)" : `${event.status} in ${event.durationMs} ms`;
        return this.line(`${symbol} ${event.step} ${detail}${event.error ? `: ${event.error}` : ""}`, event.at);
      }
      case "run-finished": {
        const color = event.status === "succeeded" ? "green" : "red";
        return this.line(`${this.paint(color, event.status)} ${event.runId}${event.error ? `: ${event.error}` : ""}`, event.at);
      }
      case "delivery-sent":
        return this.line(`${this.paint("green", "✉")} delivered #${event.deliveryId} to ${event.destination.split(":")[0]}`, event.at);
      case "delivery-failed":
        return this.line(
          `${this.paint("yellow", "✉")} delivery #${event.deliveryId} failed (attempt ${event.attempts}): ${event.error}`,
          event.at,
        );
      default:
        return undefined;
    }
  }

  private output(step: string, text: string): void {
    const buffered = (this.partial.get(step) ?? "") + text;
    const lines = buffered.split("\n");
    this.partial.set(step, lines.pop() ?? "");
    for (const line of lines) this.write(this.tty ? `  ${this.paint("dim", `│ ${line}`)}\n` : `  | ${line}\n`);
  }

  private flush(step: string): void {
    const rest = this.partial.get(step);
    if (rest) this.write(this.tty ? `  ${this.paint("dim", `│ ${rest}`)}\n` : `  | ${rest}\n`);
    this.partial.delete(step);
  }

  private line(text: string, at: number): void {
    this.write(this.tty ? `${text}\n` : `${new Date(at).toISOString()} ${text}\n`);
  }

  private paint(color: keyof typeof COLORS, text: string): string {
    return this.tty ? `${COLORS[color]}${text}${COLORS.reset}` : text;
  }
}
