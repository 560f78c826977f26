import { LocalAgentError } from "../../errors/index.js";
import type { TriggerEmit, TriggerOutcome, TriggerSource } from "../../scheduler/index.js";

/** An inbound chat message as a channel hands it over. */
export interface ChatMessage {
  text: string;
  /** The channel's platform name (`telegram`, `feishu`, `web`). */
  platform?: string;
  /** Who sent it (platform user id or name); the channel has already checked that they may command the agent. */
  user?: string;
  /** The conversation it came from, so a workflow can answer there. */
  chat?: string;
}

/** A `/command arg…` message taken apart. */
export interface ParsedChatCommand {
  /** `/deploy` (a Telegram `@botname` suffix removed). */
  command: string;
  args: string[];
  /** Everything after the command, as typed. */
  argsText: string;
}

/** Parses `/deploy@my_bot v1.2 now`; undefined when the message is not a command. */
export function parseChatCommand(text: string): ParsedChatCommand | undefined {
  const match = /^\s*(\/[A-Za-z0-9_][\w.-]*)(?:@[\w.-]+)?(?:\s+([\s\S]*))?$/.exec(text);
  if (!match?.[1]) return undefined;
  const argsText = (match[2] ?? "").trim();
  return { command: match[1], args: argsText === "" ? [] : argsText.split(/\s+/), argsText };
}

/**
 * Chat commands (`on: chat:/deploy`). The channels layer calls `receive` for each inbound message
 * it has authorised; a `/command` fires `chat:/command` with the payload
 * `{command, args, text, message, platform, user, chat}`. The outcome lets the channel answer
 * (runs started, schema errors, or that no workflow handles the command).
 */
export class ChatCommandSource implements TriggerSource {
  readonly name = "chat";
  private emit: TriggerEmit | undefined;

  start(emit: TriggerEmit): void {
    this.emit = emit;
  }

  stop(): void {
    this.emit = undefined;
  }

  /** Fires the command in `message`; undefined when the message is plain text (not a command). */
  receive(message: ChatMessage): TriggerOutcome | undefined {
    const parsed = parseChatCommand(message.text);
    if (!parsed) return undefined;
    if (!this.emit) {
      throw new LocalAgentError("unavailable", "chat commands are not accepted right now (the daemon is starting or stopping)", {
        retryable: true,
      });
    }
    const payload = {
      command: parsed.command,
      args: parsed.args,
      text: parsed.argsText,
      message: message.text,
      platform: message.platform ?? null,
      user: message.user ?? null,
      chat: message.chat ?? null,
    };
    return this.emit(`chat:${parsed.command}`, payload);
  }
}
