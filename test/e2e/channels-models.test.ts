import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { makeTempDir, startDaemon, waitFor, writeConfigDir, type DaemonProcess } from "../helpers/index.js";
import { ModelServer } from "../helpers/model-servers.js";

describe("web chat conversations through the model router", () => {
  const temp = makeTempDir("localagent-channels-models-");
  const configDir = join(temp.dir, "config");
  const model = new ModelServer("openai");
  let daemon: DaemonProcess;

  beforeAll(async () => {
    await model.start();
    writeConfigDir(configDir, {
      config: [
        "models:",
        `  local: { provider: openai, base_url: "${model.url}", model: scripted-7b }`,
        "routing:",
        "  general: [local]",
        "cache: { enabled: false }",
        "platforms:",
        "  - { name: web, type: webchat }",
        "",
      ].join("\n"),
    });
    daemon = await startDaemon({ configDir, dataDir: join(temp.dir, "data") });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await model.stop();
    temp.cleanup();
  });

  it("answers with the `general` model (local OpenAI-compatible server) and sends the chat's history along", async () => {
    model.reply({ text: "Disk is 42% full." }, { text: "It was 42%." });
    const frames: Array<Record<string, unknown>> = [];
    const socket = new WebSocket(`ws://127.0.0.1:${daemon.port}/ws?events=0`);
    socket.on("message", (data: Buffer) => frames.push(JSON.parse(data.toString()) as Record<string, unknown>));
    await new Promise((resolve) => socket.once("open", resolve));
    socket.send(JSON.stringify({ type: "chat.message", id: "q1", text: "How full is the disk?" }));
    await waitFor(() => frames.some((frame) => frame.replyTo === "q1"));
    expect(frames.find((frame) => frame.replyTo === "q1")?.text).toBe("Disk is 42% full.");
    socket.send(JSON.stringify({ type: "chat.message", id: "q2", text: "And before?" }));
    await waitFor(() => frames.some((frame) => frame.replyTo === "q2"));
    expect(frames.find((frame) => frame.replyTo === "q2")?.text).toBe("It was 42%.");
    const second = model.requests[1]?.body as { model: string; messages: Array<{ role: string; content: string }> };
    expect(second.model).toBe("scripted-7b");
    expect(second.messages.map((message) => [message.role, message.content]).slice(1)).toEqual([
      ["user", "How full is the disk?"],
      ["assistant", "Disk is 42% full."],
      ["user", "And before?"],
    ]);
    expect(second.messages[0]?.role).toBe("system");
    // No conversations.tools configured: the loop is a plain answer, no tool definitions are sent.
    expect(model.requests.map((request) => request.body.tools)).toEqual([undefined, undefined]);
    socket.close();
  });
});
