import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { ScriptedModel, toolResultsOf } from "../../test/helpers/scripted-model.js";
import { AuditLog, readAuditEntries } from "../audit/index.js";
import { DEFAULT_SYSTEM_PROMPT } from "../channels/index.js";
import { systemClock } from "../clock/index.js";
import { AgentResponder } from "./agent-responder.js";
import { createReadFileTool } from "./tools/file-tools.js";

let temp: ReturnType<typeof makeTempDir>;
let audit: AuditLog;
beforeEach(() => {
  temp = makeTempDir("localagent-responder-");
  audit = new AuditLog({ file: join(temp.dir, "audit.log"), clock: systemClock, durability: "process", secrets: [] });
});
afterEach(() => {
  audit.close();
  temp.cleanup();
});

const message = (text: string) => ({ channel: "webchat", chatId: "c1", userId: "u7", messageId: "m1", text, receivedAt: 0 });

describe("AgentResponder (chat conversations through the agent loop)", () => {
  it("answers from the history and a tool call, audited under the chat's user", async () => {
    writeFileSync(join(temp.dir, "todo.txt"), "water the plants");
    const model = new ScriptedModel([
      { toolCalls: [{ name: "read_file", arguments: { path: "todo.txt" } }] },
      (request) => ({ text: `Your list says: ${toolResultsOf(request)[0] ?? ""}` }),
    ]);
    const responder = new AgentResponder({
      model,
      tools: [createReadFileTool({ roots: [temp.dir] })],
      systemPrompt: DEFAULT_SYSTEM_PROMPT,
      audit,
    });
    const answer = await responder.respond({
      message: message("what is on my list?"),
      history: [
        { role: "user", content: "hi", at: 1 },
        { role: "assistant", content: "hello", at: 2 },
      ],
    });
    expect(answer).toBe("Your list says: water the plants");
    expect(model.requests[0]?.messages.map((entry) => entry.role)).toEqual(["system", "user", "assistant", "user"]);
    const call = readAuditEntries(join(temp.dir, "audit.log")).find((entry) => entry.type === "tool-call");
    expect(call?.actor).toEqual({ user: "webchat:u7" });
  });

  it("answers with what it has when the turn limit ends the loop", async () => {
    const model = new ScriptedModel([{ text: "still looking", toolCalls: [{ name: "read_file", arguments: { path: "x" } }] }]);
    const responder = new AgentResponder({ model, tools: [createReadFileTool({ roots: [temp.dir] })], systemPrompt: "s", maxTurns: 2 });
    await expect(responder.respond({ message: message("find x"), history: [] })).resolves.toBe(
      "still looking\n\n(stopped after 2 steps: the turn limit)",
    );
  });
});
