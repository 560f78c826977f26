import { describe, expect, it } from "vitest";
import { MemoryStore } from "../store/index.js";
import { AgentLoopResponder, ConversationHistory, DEFAULT_SYSTEM_PROMPT, type AgentTurn } from "./conversation.js";
import type { InboundMessage } from "./types.js";

const message: InboundMessage = { channel: "tg", chatId: "c1", userId: "u1", messageId: "m1", text: "disk usage?", receivedAt: 1 };

describe("conversations", () => {
  it("hands the agent loop the system prompt, the history and the new message, with the chat as actor", async () => {
    const turns: AgentTurn[] = [];
    const responder = new AgentLoopResponder((turn) => {
      turns.push(turn);
      return Promise.resolve({ text: "42% used" });
    });
    const answer = await responder.respond({
      message,
      history: [
        { role: "user", content: "hi", at: 0 },
        { role: "assistant", content: "hello", at: 0 },
      ],
    });
    expect(answer).toBe("42% used");
    expect(turns[0]?.messages).toEqual([
      { role: "system", content: DEFAULT_SYSTEM_PROMPT },
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
      { role: "user", content: "disk usage?" },
    ]);
    expect(turns[0]?.message).toMatchObject({ channel: "tg", userId: "u1" });
  });

  it("keeps each chat's history separate and bounded", () => {
    const history = new ConversationHistory(new MemoryStore(), 3);
    for (let index = 0; index < 5; index++) history.append("tg", "c1", { role: "user", content: `m${index}`, at: index });
    history.append("tg", "c2", { role: "user", content: "other", at: 9 });
    expect(history.get("tg", "c1").map((turn) => turn.content)).toEqual(["m2", "m3", "m4"]);
    expect(history.get("tg", "c2").map((turn) => turn.content)).toEqual(["other"]);
    history.clear("tg", "c1");
    expect(history.get("tg", "c1")).toEqual([]);
  });
});
