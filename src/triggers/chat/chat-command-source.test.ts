import { describe, expect, it } from "vitest";
import type { TriggerOutcome } from "../../scheduler/index.js";
import { describeTriggerSourceConformance } from "../trigger-source.conformance.js";
import { ChatCommandSource, parseChatCommand } from "./chat-command-source.js";

describeTriggerSourceConformance("ChatCommandSource", () => {
  const source = new ChatCommandSource();
  return { source, event: "chat:/deploy", provoke: () => void source.receive({ text: "/deploy v1" }) };
});

describe("parseChatCommand", () => {
  it("takes a command apart, dropping a Telegram @bot suffix", () => {
    expect(parseChatCommand("/deploy")).toEqual({ command: "/deploy", args: [], argsText: "" });
    expect(parseChatCommand("  /deploy@my_bot  billing   1.4.2 ")).toEqual({
      command: "/deploy",
      args: ["billing", "1.4.2"],
      argsText: "billing   1.4.2",
    });
    expect(parseChatCommand("/note first line\nsecond")).toEqual({
      command: "/note",
      args: ["first", "line", "second"],
      argsText: "first line\nsecond",
    });
  });

  it("leaves plain text alone", () => {
    expect(parseChatCommand("hello /deploy")).toBeUndefined();
    expect(parseChatCommand("/")).toBeUndefined();
    expect(parseChatCommand("/ deploy")).toBeUndefined();
    expect(parseChatCommand("")).toBeUndefined();
  });
});

describe("ChatCommandSource", () => {
  it("fires chat:/CMD with the command, its arguments and who sent it; returns the outcome to the channel", () => {
    const source = new ChatCommandSource();
    const emitted: unknown[][] = [];
    const outcome = (event: string): TriggerOutcome => ({
      event,
      runs: [{ workflow: "deployer", runId: "run_7" }],
      skipped: [],
      rejected: [],
    });
    source.start((event, payload) => {
      emitted.push([event, payload]);
      return outcome(event);
    });
    const answer = source.receive({ text: "/deploy@bot billing 1.4.2", platform: "telegram", user: "42", chat: "-100" });
    expect(answer).toEqual(outcome("chat:/deploy"));
    expect(emitted).toEqual([
      [
        "chat:/deploy",
        {
          command: "/deploy",
          args: ["billing", "1.4.2"],
          text: "billing 1.4.2",
          message: "/deploy@bot billing 1.4.2",
          platform: "telegram",
          user: "42",
          chat: "-100",
        },
      ],
    ]);
    expect(source.receive({ text: "just chatting" })).toBeUndefined();
    expect(emitted).toHaveLength(1);
  });

  it("refuses commands while stopped, but not plain text", () => {
    const source = new ChatCommandSource();
    expect(() => source.receive({ text: "/deploy" })).toThrow(expect.objectContaining({ code: "unavailable" }));
    expect(source.receive({ text: "hi" })).toBeUndefined();
  });
});
