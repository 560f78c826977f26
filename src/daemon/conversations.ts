import { AgentResponder, createStandaloneTools, routedModel } from "../agent/index.js";
import {
  conversationTools,
  DEFAULT_SYSTEM_PROMPT,
  noModelResponder,
  type ConversationResponder,
  type ConversationsConfig,
} from "../channels/index.js";
import type { ResolvedConfig } from "../config/index.js";
import { LocalAgentError } from "../errors/index.js";
import type { EventBus } from "../events/index.js";
import type { Runtime } from "./runtime.js";

/** Model calls per chat message when `conversations.max_turns` is not set. */
export const DEFAULT_CONVERSATION_MAX_TURNS = 6;

/**
 * Chat conversations answered by the agent loop on the model router (`conversations.model`,
 * default the task type `general`), with the tools `conversations.tools` names (none by default:
 * then the loop is one plain model call). Chat text is untrusted: a `shell` call runs through the
 * engine's own middleware chain (command policy with durable approvals, egress, sandbox), exactly
 * what a shell step passes, in the chat's workspace (`DATA_DIR/workspaces/chat_CHANNEL_CHAT`);
 * every tool call is a `tool-call` audit entry. The runtime and the config are looked up per
 * message, so models configured at run time are used at once.
 */
export function createConversationResponder(options: {
  config: ResolvedConfig;
  runtime: () => Runtime | undefined;
  events: EventBus;
}): ConversationResponder {
  return {
    respond: (request) => {
      const runtime = options.runtime();
      if (!runtime?.models.configured) return noModelResponder.respond(request);
      const settings = options.config.extensions.conversations as ConversationsConfig | undefined;
      const { message } = request;
      const caller = `chat:${message.channel}:${message.chatId}`;
      const names = conversationTools(settings);
      if (names.includes("shell") && runtime.stepMiddleware.length === 0)
        throw new LocalAgentError("unavailable", "chat tools need the command policy middleware; shell is not offered without it");
      const base = runtime.stepServices;
      const workspaceDir = base.settings.workflowWorkspace?.(caller) ?? base.settings.workspaceDir;
      const tools =
        names.length === 0
          ? []
          : createStandaloneTools({
              services: { ...base, settings: { ...base.settings, workspaceDir } },
              caller,
              middleware: runtime.stepMiddleware,
            }).filter((tool) => (names as readonly string[]).includes(tool.definition.name));
      const responder = new AgentResponder({
        model: routedModel(runtime.models, {
          messages: [],
          // Unset: the router's default, task type `general` (or its first route when it has none).
          ...(settings?.model ? { model: settings.model } : {}),
          caller: { user: `${message.channel}:${message.userId}` },
        }),
        tools,
        systemPrompt: settings?.system_prompt ?? DEFAULT_SYSTEM_PROMPT,
        maxTurns: settings?.max_turns ?? DEFAULT_CONVERSATION_MAX_TURNS,
        ...(settings?.max_tokens !== undefined ? { maxTokens: settings.max_tokens } : {}),
        ...(runtime.audit ? { audit: runtime.audit } : {}),
        // The router writes each model call's audit entry itself.
        auditModelCalls: false,
        events: options.events,
      });
      return responder.respond(request);
    },
  };
}
