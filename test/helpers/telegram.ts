import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import emulatorModule from "telegram-test-api";
import type { TelegramServer as TelegramServerClass } from "telegram-test-api/lib/telegramServer.js";
import { freePort } from "./index.js";

// The package is CommonJS with `module.exports = TelegramServer`: the default import is the class itself.
const TelegramServer = emulatorModule as unknown as typeof TelegramServerClass;
type TelegramServer = TelegramServerClass;

/** The telegram-test-api Bot API emulator on 127.0.0.1, restartable on the same port (to simulate an outage). */
export class TelegramEmulator {
  server: TelegramServer;

  private constructor(readonly port: number) {
    this.server = new TelegramServer({ port, host: "127.0.0.1", storeTimeout: 600 });
  }

  static async start(): Promise<TelegramEmulator> {
    const emulator = new TelegramEmulator(await freePort());
    await emulator.server.start();
    return emulator;
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops answering (connections refused) until `restart`; what it stored is lost, as after a real outage. */
  async stop(): Promise<void> {
    await this.server.stop();
  }

  async restart(): Promise<void> {
    const previous = this.server;
    this.server = new TelegramServer({ port: this.port, host: "127.0.0.1", storeTimeout: 600 });
    // Telegram never reuses message and update ids; a fresh emulator would count from 1 again.
    type Counters = { messageId: number; updateId: number; callbackId: number };
    const from = previous as unknown as Counters;
    Object.assign(this.server as unknown as Counters, { messageId: from.messageId, updateId: from.updateId, callbackId: from.callbackId });
    await this.server.start();
  }

  /** A simulated Telegram user in a private chat with the bot. */
  client(token: string, user: { userId: number; chatId?: number; firstName?: string; userName?: string }) {
    return this.server.getClient(token, { ...user, chatId: user.chatId ?? user.userId, timeout: 10_000 });
  }

  /** What the bot sent to a chat so far: the raw sendMessage parameters, in order. */
  botMessages(chatId: number | string): Array<{ text: string; parse_mode?: string; reply_markup?: unknown; chat_id: unknown }> {
    return this.server.storage.botMessages
      .filter((entry: { message: { chat_id?: unknown } }) => String(entry.message.chat_id) === String(chatId))
      .map((entry: { message: unknown }) => entry.message as never);
  }
}

export interface BotApiCall {
  method: string;
  token: string;
  body: Record<string, unknown>;
}

/** What a method handler answers: a Bot API result, or an HTTP status with a Bot API error body. */
export type BotApiAnswer =
  { result: unknown } | { status: number; error_code?: number; description: string; parameters?: Record<string, unknown> };

/**
 * A minimal server speaking the Bot API wire format (`POST /bot<token>/<method>`, JSON in and out),
 * for what the emulator cannot do: honour getUpdates offsets, fail on demand, register a webhook secret.
 */
export class BotApiServer {
  readonly calls: BotApiCall[] = [];
  private readonly handlers = new Map<string, (call: BotApiCall) => BotApiAnswer | Promise<BotApiAnswer>>();
  private server: Server | undefined;
  port = 0;

  on(method: string, handler: (call: BotApiCall) => BotApiAnswer | Promise<BotApiAnswer>): this {
    this.handlers.set(method, handler);
    return this;
  }

  callsOf(method: string): BotApiCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      void readJson(request).then(async (body) => {
        const match = /^\/bot([^/]+)\/(\w+)$/.exec(request.url ?? "");
        if (!match) {
          response.writeHead(404).end(JSON.stringify({ ok: false, error_code: 404, description: "Not Found" }));
          return;
        }
        const call = { token: match[1]!, method: match[2]!, body };
        this.calls.push(call);
        const handler = this.handlers.get(call.method);
        const answer: BotApiAnswer = handler ? await handler(call) : { result: true };
        if ("result" in answer) {
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, result: answer.result }));
          return;
        }
        const { status, ...error } = answer;
        response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ ok: false, error_code: status, ...error }));
      });
    });
    await new Promise<void>((done) => this.server!.listen(0, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((done) => this.server?.close(() => done()) ?? done());
  }
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const MARKDOWN_V2_SPECIAL = "_*[]()~`>#+-=|{}.!\\";

/**
 * Throws unless `part` is valid MarkdownV2 made from plain text: every reserved character escaped.
 * Written from Telegram's rules, independent of the code under test.
 */
export function assertPlainMarkdownV2(part: string): void {
  for (let index = 0; index < part.length; index++) {
    const character = part[index]!;
    if (character === "\\") {
      if (index + 1 >= part.length) throw new Error(`part ends with a lone backslash`);
      index++;
      continue;
    }
    if (MARKDOWN_V2_SPECIAL.includes(character))
      throw new Error(`unescaped "${character}" at ${index}: ${part.slice(Math.max(0, index - 10), index + 10)}`);
  }
}

/** A minimal SOCKS5 server (no auth, CONNECT only) that records where each connection went. */
export class Socks5Server {
  readonly connections: string[] = [];
  private readonly server = createNetServer((client) => this.accept(client));
  port = 0;

  async start(): Promise<void> {
    await new Promise<void>((done) => this.server.listen(0, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((done) => this.server.close(() => done()));
  }

  private accept(client: Socket): void {
    client.on("error", () => client.destroy());
    client.once("data", (greeting: Buffer) => {
      if (greeting[0] !== 5) return client.destroy();
      client.write(Buffer.from([5, 0]));
      client.once("data", (request: Buffer) => {
        const type = request[3];
        let host: string;
        let offset: number;
        if (type === 1) {
          host = [...request.subarray(4, 8)].join(".");
          offset = 8;
        } else if (type === 3) {
          const length = request[4]!;
          host = request.subarray(5, 5 + length).toString("utf8");
          offset = 5 + length;
        } else return client.destroy();
        const port = request.readUInt16BE(offset);
        this.connections.push(`${host}:${port}`);
        const upstream = connect(port, host, () => {
          client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
          client.pipe(upstream).pipe(client);
        });
        upstream.on("error", () => client.destroy());
      });
    });
  }
}
