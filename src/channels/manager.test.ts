import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../../test/helpers/index.js";
import { ApprovalService } from "../approvals/index.js";
import type { AuditInput } from "../audit/index.js";
import { ManualClock, systemClock } from "../clock/index.js";
import { EventBus, type LocalAgentEvent } from "../events/index.js";
import { createSilentLogger } from "../logger/index.js";
import type { GenerateRequest, GenerateResult, LanguageModel, StreamPart } from "../models/types.js";
import { Outbox } from "../outbox/index.js";
import { SqliteStore, type Store } from "../store/index.js";
import { LanguageModelResponder } from "./conversation.js";
import { ChannelManager, type ChannelCommandHost } from "./manager.js";
import type { PlatformConfig } from "./platform-config.js";
import { registerChannelKind } from "./registry.js";
import type { Channel, ChannelContext, InboundMessage, OutboundMessage, SentMessage } from "./types.js";

/** An in-process adapter: what a platform would deliver, and what was sent to it. */
class RecordingChannel implements Channel {
  readonly kind = "recording";
  readonly capabilities = { maxMessageLength: 4096, formats: ["plain" as const], buttons: true, edit: false };
  readonly sent: OutboundMessage[] = [];
  context: ChannelContext | undefined;
  down = false;
  constructor(readonly name: string) {}
  start(context: ChannelContext): Promise<void> {
    this.context = context;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.context = undefined;
    return Promise.resolve();
  }
  sendMessage(message: OutboundMessage): Promise<SentMessage> {
    if (this.down) return Promise.reject(new Error("platform unreachable"));
    this.sent.push(message);
    return Promise.resolve({ messageIds: [String(this.sent.length)] });
  }
  texts(chatId?: string): string[] {
    return this.sent.filter((message) => chatId === undefined || message.chatId === chatId).map((message) => message.text);
  }
}

/** A LanguageModel that answers from a script and records what it was asked. */
class ScriptedModel implements LanguageModel {
  readonly specificationVersion = 1;
  readonly name = "scripted";
  readonly provider = "scripted";
  readonly requests: GenerateRequest[] = [];
  constructor(private readonly answer: (request: GenerateRequest) => string) {}
  generate(request: GenerateRequest): Promise<GenerateResult> {
    this.requests.push(request);
    return Promise.resolve({
      text: this.answer(request),
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: 1, outputTokens: 1 },
      model: this.name,
    });
  }

  async *stream(): AsyncIterable<StreamPart> {
    throw new Error("not used");
  }
}

const channels = new Map<string, RecordingChannel>();
registerChannelKind("recording", (platform) => {
  const channel = new RecordingChannel(platform.name);
  channels.set(platform.name, channel);
  return channel;
});
let flakyStarts = 0;
registerChannelKind("flaky", (platform) => {
  const channel = new RecordingChannel(platform.name);
  const start = channel.start.bind(channel);
  channel.start = (context) => (++flakyStarts === 1 ? Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:9")) : start(context));
  channels.set(platform.name, channel);
  return channel;
});
registerChannelKind("broken", (platform) => {
  throw new Error(`${platform.where}.auth: "BOT_TOKEN" is the example placeholder`);
});

const platform = (name: string, extra: Partial<PlatformConfig> = {}): PlatformConfig => ({
  name,
  kind: "recording",
  where: `platforms.json: ${name}`,
  ...extra,
});

let counter = 0;
const message = (text: string, extra: Partial<InboundMessage> = {}): InboundMessage => ({
  channel: "chat",
  chatId: "c1",
  userId: "u1",
  messageId: `m${++counter}`,
  text,
  receivedAt: Date.now(),
  ...extra,
});

describe("ChannelManager", () => {
  let dir: string;
  let store: Store;
  let events: EventBus;
  let outbox: Outbox;
  let audit: AuditInput[];
  let manager: ChannelManager | undefined;
  const commands: ChannelCommandHost & { runs: string[] } = {
    runs: [],
    runWorkflow(name) {
      if (name !== "backup") return Promise.reject(new Error(`no workflow named "${name}"`));
      this.runs.push(name);
      return Promise.resolve("run-1");
    },
    status: () => "3 workflows, 0 runs active",
    chatCommand: (chat) =>
      chat.text.startsWith("/deploy")
        ? { event: "chat:/deploy", runs: [{ workflow: "deploy", runId: "run-9" }], skipped: [], rejected: [] }
        : { event: chat.text, runs: [], skipped: [], rejected: [] },
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-channels-"));
    store = new SqliteStore({ path: join(dir, "db.sqlite") });
    events = new EventBus();
    audit = [];
    outbox = newOutbox(store, events);
    channels.clear();
    commands.runs = [];
  });

  afterEach(async () => {
    await manager?.stop();
    manager = undefined;
    await outbox.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function newOutbox(on: Store, bus: EventBus): Outbox {
    return new Outbox({
      store: on,
      clock: systemClock,
      events: bus,
      logger: createSilentLogger(),
      deliverers: [],
      backoffMs: 20,
      maxBackoffMs: 50,
    });
  }

  async function start(
    platforms: PlatformConfig[],
    extra: { model?: LanguageModel; approvals?: ApprovalService } = {},
  ): Promise<ChannelManager> {
    manager = new ChannelManager({
      platforms,
      store,
      outbox,
      events,
      clock: systemClock,
      logger: createSilentLogger(),
      audit: { record: (input) => audit.push(input) },
      commands,
      ...(extra.approvals ? { approvals: extra.approvals } : {}),
      ...(extra.model ? { responder: new LanguageModelResponder(extra.model) } : {}),
    });
    outbox.start();
    await manager.start();
    return manager;
  }

  it("a channel that fails to start is reported; the others run", async () => {
    const seen: LocalAgentEvent[] = [];
    events.subscribe((event) => seen.push(event));
    const started = await start([platform("chat", { allow_users: ["u1"] }), platform("telegram", { kind: "broken" })]);
    expect(started.list()).toEqual([
      expect.objectContaining({ name: "chat", status: "running" }),
      expect.objectContaining({ name: "telegram", status: "failed", error: expect.stringMatching(/BOT_TOKEN/) as unknown }),
    ]);
    expect(seen).toContainEqual(expect.objectContaining({ type: "channel-status", channel: "telegram", status: "failed" }));
    await channels.get("chat")?.context?.receive(message("/status"));
    await waitFor(() => channels.get("chat")?.texts().length === 1);
    expect(channels.get("chat")?.texts()).toEqual(["3 workflows, 0 runs active"]);
  });

  it("tries a channel that failed for a reason other than its config again, with backoff; a config error stays failed", async () => {
    const clock = new ManualClock(1_000_000);
    manager = new ChannelManager({
      platforms: [
        platform("im", { kind: "flaky" }),
        platform("telegram", { kind: "broken" }),
        platform("bad", { error: "platforms.json: bad entry" }),
      ],
      store,
      outbox,
      events,
      clock,
      logger: createSilentLogger(),
    });
    await manager.start();
    expect(manager.list().map((entry) => entry.status)).toEqual(["failed", "failed", "failed"]);
    expect(manager.list()[0]?.error).toMatch(/ECONNREFUSED/);
    clock.advance(5000);
    await waitFor(() => manager?.list()[0]?.status === "running");
    // The plain Error of "broken" is retried too; a config_invalid error is not.
    expect(manager.list()[2]).toMatchObject({ status: "failed", error: "platforms.json: bad entry" });
    expect(clock.pendingTimers).toBe(1);
    await manager.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("queues inbound messages durably, drops redeliveries, and keeps the adapter's state", async () => {
    await start([platform("chat", { allow_users: ["u1"] })]);
    const chat = channels.get("chat")!;
    const first = message("/status");
    await chat.context?.receive(first);
    await chat.context?.receive({ ...first });
    await chat.context?.receive({ ...first, text: "changed but same id" });
    await waitFor(() => chat.sent.length >= 1);
    await manager?.stop();
    expect(chat.sent).toHaveLength(1);
    chat.context = undefined;
    // State helpers for adapters (last processed update id).
    manager = undefined;
    const again = await start([platform("chat", { allow_users: ["u1"] })]);
    const chat2 = channels.get("chat")!;
    chat2.context?.state?.set("offset", 1234);
    expect(chat2.context?.state?.get("offset")).toBe(1234);
    expect(again.list()[0]?.status).toBe("running");
    await chat2.context?.receive({ ...first });
    await expect(chat2.context?.receive({ ...message("x"), chatId: "" })).rejects.toThrow(/no chatId/);
    expect(audit.some((entry) => entry.type === "channel.rejected")).toBe(true);
  });

  it("processes what was queued before a crash when it starts again", async () => {
    // Queued but never processed: the manager is not running (as after a kill between queue and processing).
    const first = new ChannelManager({
      platforms: [platform("chat", { allow_users: ["u1"] })],
      store,
      outbox,
      events,
      clock: systemClock,
      logger: createSilentLogger(),
      commands,
    });
    await first.start();
    const chat = channels.get("chat")!;
    await first.stop();
    const contextAfterStop = chat.context;
    expect(contextAfterStop).toBeUndefined();
    // Simulate the adapter handing over a message while the manager is stopped (not processed).
    const context = (first as unknown as { contextFor(p: PlatformConfig): ChannelContext }).contextFor(
      platform("chat", { allow_users: ["u1"] }),
    );
    await context.receive(message("/help"));
    await start([platform("chat", { allow_users: ["u1"] })]);
    const restarted = channels.get("chat")!;
    await waitFor(() => restarted.sent.length === 1);
    expect(restarted.texts()[0]).toMatch(/^Commands:/);
  });

  it("pairs strangers: one code, then silence and audit entries; after approval their commands run; revoke stops them", async () => {
    const started = await start([platform("chat")]);
    const chat = channels.get("chat")!;
    await chat.context?.receive(message("/run backup", { userId: "eve", chatId: "c-eve", userName: "Eve" }));
    await waitFor(() => chat.sent.length === 1);
    const code = /pairing code is ([A-Z0-9]{8})/.exec(chat.texts()[0] ?? "")?.[1];
    expect(code).toBeDefined();
    await chat.context?.receive(message("/run backup", { userId: "eve", chatId: "c-eve" }));
    await chat.context?.receive(message("hello?", { userId: "eve", chatId: "c-eve" }));
    await waitFor(() => audit.filter((entry) => entry.type === "channel.stranger").length === 3);
    expect(commands.runs).toEqual([]);
    expect(chat.sent).toHaveLength(1);
    expect(started.listPairing()).toMatchObject([{ channel: "chat", userId: "eve", status: "pending", ignored: 2 }]);
    expect(() => started.approvePairing("WRONG123", "cli:ada")).toThrow(/no pairing request with code WRONG123/);
    started.approvePairing(code!.toLowerCase(), "cli:ada");
    expect(() => started.approvePairing(code!, "cli:ada")).toThrow(/already used/);
    await waitFor(() => chat.sent.length === 2);
    expect(chat.texts()[1]).toMatch(/You are paired/);
    await chat.context?.receive(message("/run backup", { userId: "eve", chatId: "c-eve" }));
    await waitFor(() => chat.sent.length === 3);
    expect(commands.runs).toEqual(["backup"]);
    expect(chat.texts()[2]).toBe("Started backup: run run-1");
    started.revokePairing("chat:eve", "cli:ada");
    await chat.context?.receive(message("/run backup", { userId: "eve", chatId: "c-eve" }));
    await waitFor(() => audit.filter((entry) => entry.type === "channel.stranger").length === 4);
    expect(commands.runs).toEqual(["backup"]);
    expect(audit.map((entry) => entry.type)).toEqual(expect.arrayContaining(["channel.paired", "channel.revoked"]));
  });

  it("sends at most 10 pairing codes per channel and hour; the rest are recorded for `pairing list`", async () => {
    const started = await start([platform("chat")]);
    const chat = channels.get("chat")!;
    for (let index = 0; index < 12; index++) await chat.context?.receive(message("hi", { userId: `s${index}`, chatId: `c-s${index}` }));
    await waitFor(() => audit.filter((entry) => entry.type === "channel.stranger").length === 12);
    await waitFor(() => started.listPairing().length === 12);
    // Every stranger was handled; only ten replies were queued.
    expect(store.listDeliveries({})).toHaveLength(10);
    await waitFor(() => chat.sent.length === 10);
    expect(new Set(chat.sent.map((sent) => sent.chatId)).size).toBe(10);
  });

  it("answers slash commands and hands other /commands to chat-command triggers", async () => {
    await start([platform("chat", { allow_users: ["u1"] })]);
    const chat = channels.get("chat")!;
    for (const text of ["/help", "/run nope", "/run", "/deploy billing", "/approve ap_missing", "/unknown"]) {
      await chat.context?.receive(message(text));
    }
    await waitFor(() => chat.sent.length === 6);
    const texts = chat.texts();
    expect(texts[0]).toMatch(/\/run <workflow>/);
    expect(texts[1]).toMatch(/no workflow named "nope"/);
    expect(texts[2]).toBe("Usage: /run <workflow>");
    expect(texts[3]).toBe("Started deploy (run run-9)");
    expect(texts[4]).toBe("Approvals are not available.");
    expect(texts[5]).toBe("Unknown command /unknown. Send /help.");
    // Replies go in order and quote the message they answer.
    expect(chat.sent.every((sent) => sent.chatId === "c1" && typeof sent.replyTo === "string")).toBe(true);
  });

  it("converses with the model, keeping a bounded per-chat history in the store", async () => {
    const model = new ScriptedModel((request) => `echo ${request.messages.at(-1)?.content ?? ""} (${request.messages.length} messages)`);
    manager = new ChannelManager({
      platforms: [platform("chat", { allow_users: ["u1"] })],
      store,
      outbox,
      events,
      clock: systemClock,
      logger: createSilentLogger(),
      responder: new LanguageModelResponder(model),
      historyTurns: 4,
    });
    outbox.start();
    await manager.start();
    const chat = channels.get("chat")!;
    for (const text of ["one", "two", "three"]) await chat.context?.receive(message(text));
    await chat.context?.receive(message("other chat", { chatId: "c2" }));
    await waitFor(() => chat.sent.length === 4);
    expect(chat.texts("c1")).toEqual(["echo one (2 messages)", "echo two (4 messages)", "echo three (6 messages)"]);
    // The other chat has its own history.
    expect(chat.texts("c2")).toEqual(["echo other chat (2 messages)"]);
    await chat.context?.receive(message("four"));
    await waitFor(() => chat.sent.length === 5);
    // history bounded to 4 turns: system + 4 + the new message
    expect(chat.texts("c1").at(-1)).toBe("echo four (6 messages)");
    expect(
      model.requests
        .at(-1)
        ?.messages.map((entry) => entry.content)
        .slice(1),
    ).toEqual(["two", "echo two (4 messages)", "three", "echo three (6 messages)", "four"]);
  });

  it("announces approvals to owner chats with buttons, and a pressed button resolves the approval", async () => {
    const approvals = new ApprovalService({ store, clock: systemClock, events });
    await start([platform("chat", { allow_users: ["u1"] })], { approvals });
    const chat = channels.get("chat")!;
    await chat.context?.receive(message("/status"));
    await waitFor(() => chat.sent.length === 1);
    const answer = approvals.ask({ stepKey: "run-1/deploy", runId: "run-1", workflow: "deploy", step: "deploy", command: "rm -rf build" });
    await waitFor(() => chat.sent.length === 2);
    const announcement = chat.sent[1]!;
    expect(announcement.text).toMatch(/Approval needed \(ap_[0-9a-f]+\): workflow deploy, step deploy\nrm -rf build/);
    const approve = announcement.buttons?.[0]?.find((button) => button.text === "Approve")?.action;
    expect(approve).toMatch(/^approve:ap_/);
    // A stranger pressing the button changes nothing.
    await chat.context?.receive(message("", { userId: "mallory", action: approve! }));
    await chat.context?.receive(message("", { action: approve! }));
    await expect(answer).resolves.toMatchObject({ decision: "approve" });
    await waitFor(() => chat.sent.some((sent) => / approved$/.test(sent.text)));
    expect(approvals.list({})[0]).toMatchObject({ status: "approved", decidedBy: "chat:u1" });
  });

  it("delivers through the outbox: retried while the platform is down, in order, and fanned out to owner chats", async () => {
    const started = await start([platform("chat", { allow_users: ["u1"] })]);
    const chat = channels.get("chat")!;
    // No owner chat yet: the fan-out waits.
    started.send("chat", { chatId: "*", text: "alert 1" }, "n1");
    await chat.context?.receive(message("/status"));
    await waitFor(() => chat.texts().includes("alert 1"));
    chat.down = true;
    for (const text of ["a", "b", "c"]) started.send("chat", { chatId: "c1", text }, `k-${text}`);
    started.send("chat", { chatId: "c1", text: "a" }, "k-a");
    await waitFor(() => store.listDeliveries({}).some((delivery) => delivery.attempts > 1));
    chat.down = false;
    await waitFor(() => chat.texts().includes("c"));
    expect(chat.texts().slice(-3)).toEqual(["a", "b", "c"]);
  });
});
