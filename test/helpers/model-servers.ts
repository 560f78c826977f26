import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The wire protocols the scripted servers speak. */
export type ModelProtocol = "openai" | "ollama" | "anthropic";

/** An answer: text and/or tool calls, streamed in pieces when the request asks for a stream. */
export interface ScriptedAnswer {
  text?: string;
  toolCalls?: Array<{ id?: string; name: string; arguments: Record<string, unknown> }>;
  usage?: { input: number; output: number };
  finishReason?: "stop" | "length";
  /** Wait before the response headers. */
  delayMs?: number;
  /** Wait between stream chunks. */
  chunkDelayMs?: number;
  /** Stream text in these pieces (default: about four pieces). */
  chunks?: string[];
  /** Destroy the connection after this many stream chunks (a dropped connection mid-stream). */
  dropAfterChunks?: number;
  /** Send the protocol's in-stream error event (with this message) after this many chunks. */
  streamError?: { afterChunks: number; message: string };
}

/** An HTTP error in the protocol's own error format. */
export interface ScriptedError {
  status: number;
  message?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** Destroy the socket without answering (a crashed server). */
export interface ScriptedHangUp {
  hangUp: true;
  delayMs?: number;
}

export type ScriptedReply = ScriptedAnswer | ScriptedError | ScriptedHangUp;

export interface RecordedModelRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * A local model server speaking one wire protocol exactly (OpenAI chat completions with SSE,
 * Ollama /api/chat with NDJSON, Anthropic /v1/messages with SSE), answering from a script:
 * `reply(...)` queues replies; when the queue is empty `fallback` answers.
 */
export class ModelServer {
  readonly requests: RecordedModelRequest[] = [];
  fallback: ScriptedReply = { text: "ok" };
  /** Requests whose client went away before the answer was complete (an aborted call). */
  abandoned = 0;
  private readonly queue: ScriptedReply[] = [];
  private server: Server | undefined;
  port = 0;

  constructor(readonly protocol: ModelProtocol) {}

  /** Queues replies for the next requests, in order. */
  reply(...replies: ScriptedReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Forgets queued replies and recorded requests, and answers "ok" again. */
  reset(): void {
    this.queue.length = 0;
    this.requests.length = 0;
    this.abandoned = 0;
    this.fallback = { text: "ok" };
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((done) => this.server?.listen(port, "127.0.0.1", done));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** What `base_url:` should say for this protocol. */
  get url(): string {
    return this.protocol === "openai" ? `http://127.0.0.1:${this.port}/v1` : `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: Record<string, unknown> = {};
    try {
      body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      body = {};
    }
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (request.method === "GET" && (path === "/v1/models" || path === "/api/tags")) {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [], models: [] }));
      return;
    }
    const expected = { openai: "/v1/chat/completions", ollama: "/api/chat", anthropic: "/v1/messages" }[this.protocol];
    if (request.method !== "POST" || path !== expected) {
      response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: `no route ${request.method} ${path}` }));
      return;
    }
    this.requests.push({ method: request.method, path, headers: request.headers, body });
    response.on("close", () => {
      if (!response.writableFinished) this.abandoned++;
    });
    const reply = this.queue.shift() ?? this.fallback;
    if (reply.delayMs) await sleep(reply.delayMs);
    if ("hangUp" in reply) {
      request.socket.destroy();
      return;
    }
    if ("status" in reply) {
      this.sendError(response, reply);
      return;
    }
    const stream = this.protocol === "ollama" ? body.stream !== false : body.stream === true;
    if (!stream) {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(this.whole(reply, body)));
      return;
    }
    const events = this.streamEvents(reply, body);
    response.writeHead(200, {
      "content-type": this.protocol === "ollama" ? "application/x-ndjson" : "text/event-stream",
      "cache-control": "no-cache",
    });
    let sent = 0;
    if (reply.streamError) events.splice(reply.streamError.afterChunks, events.length, this.streamErrorEvent(reply.streamError.message));
    for (const event of events) {
      if (reply.dropAfterChunks !== undefined && sent >= reply.dropAfterChunks) {
        request.socket.destroy();
        return;
      }
      if (response.destroyed) return;
      // Flushed before the next step, so a drop after N chunks really delivers N chunks first.
      await new Promise<void>((done) => response.write(event, () => done()));
      sent++;
      if (reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
    }
    response.end();
  }

  /** An error reported inside a stream that already started, as each API does it. */
  private streamErrorEvent(message: string): string {
    if (this.protocol === "ollama") return `${JSON.stringify({ error: message })}\n`;
    if (this.protocol === "anthropic")
      return `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message } })}\n\n`;
    return `data: ${JSON.stringify({ error: { message, type: "server_error" } })}\n\n`;
  }

  private sendError(response: ServerResponse, reply: ScriptedError): void {
    const message = reply.message ?? `scripted error ${reply.status}`;
    const body =
      this.protocol === "openai"
        ? { error: { message, type: reply.status === 429 ? "rate_limit_exceeded" : "server_error", code: null } }
        : this.protocol === "ollama"
          ? { error: message }
          : { type: "error", error: { type: anthropicErrorType(reply.status), message } };
    response.writeHead(reply.status, { "content-type": "application/json", ...reply.headers }).end(JSON.stringify(body));
  }

  private whole(reply: ScriptedAnswer, body: Record<string, unknown>): unknown {
    const text = reply.text ?? "";
    const usage = reply.usage ?? { input: 10, output: 5 };
    const calls = reply.toolCalls ?? [];
    switch (this.protocol) {
      case "openai":
        return {
          id: "chatcmpl-test",
          object: "chat.completion",
          created: 1,
          model: body.model,
          choices: [
            {
              index: 0,
              message: {
                role: "assistant",
                content: calls.length > 0 && text === "" ? null : text,
                ...(calls.length > 0
                  ? {
                      tool_calls: calls.map((call, index) => ({
                        id: call.id ?? `call_${index}`,
                        type: "function",
                        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
                      })),
                    }
                  : {}),
              },
              finish_reason: calls.length > 0 ? "tool_calls" : (reply.finishReason ?? "stop"),
            },
          ],
          usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
        };
      case "ollama":
        return {
          model: body.model,
          created_at: "2026-01-01T00:00:00Z",
          message: {
            role: "assistant",
            content: text,
            ...(calls.length > 0
              ? { tool_calls: calls.map((call) => ({ function: { name: call.name, arguments: call.arguments } })) }
              : {}),
          },
          done: true,
          done_reason: reply.finishReason ?? "stop",
          prompt_eval_count: usage.input,
          eval_count: usage.output,
        };
      case "anthropic":
        return {
          id: "msg_test",
          type: "message",
          role: "assistant",
          model: body.model,
          content: [
            ...(text ? [{ type: "text", text }] : []),
            ...calls.map((call, index) => ({ type: "tool_use", id: call.id ?? `toolu_${index}`, name: call.name, input: call.arguments })),
          ],
          stop_reason: calls.length > 0 ? "tool_use" : reply.finishReason === "length" ? "max_tokens" : "end_turn",
          stop_sequence: null,
          usage: { input_tokens: usage.input, output_tokens: usage.output },
        };
    }
  }

  private streamEvents(reply: ScriptedAnswer, body: Record<string, unknown>): string[] {
    const text = reply.text ?? "";
    const pieces = reply.chunks ?? splitText(text);
    const usage = reply.usage ?? { input: 10, output: 5 };
    const calls = reply.toolCalls ?? [];
    const sse = (data: unknown, event?: string): string => `${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`;
    switch (this.protocol) {
      case "openai": {
        const chunk = (delta: unknown, finish: string | null = null): string =>
          sse({
            id: "chatcmpl-test",
            object: "chat.completion.chunk",
            created: 1,
            model: body.model,
            choices: [{ index: 0, delta, finish_reason: finish }],
          });
        const events = [chunk({ role: "assistant", content: "" })];
        for (const piece of pieces) events.push(chunk({ content: piece }));
        calls.forEach((call, index) => {
          const args = JSON.stringify(call.arguments);
          const half = Math.floor(args.length / 2);
          // Name and id first, then the arguments in two string deltas, as OpenAI streams them.
          events.push(
            chunk({
              tool_calls: [{ index, id: call.id ?? `call_${index}`, type: "function", function: { name: call.name, arguments: "" } }],
            }),
          );
          events.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(0, half) } }] }));
          events.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
        });
        events.push(chunk({}, calls.length > 0 ? "tool_calls" : (reply.finishReason ?? "stop")));
        const options = body.stream_options as { include_usage?: boolean } | undefined;
        if (options?.include_usage) {
          events.push(
            sse({
              id: "chatcmpl-test",
              object: "chat.completion.chunk",
              created: 1,
              model: body.model,
              choices: [],
              usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output },
            }),
          );
        }
        events.push("data: [DONE]\n\n");
        return events;
      }
      case "ollama": {
        const line = (value: unknown): string => `${JSON.stringify(value)}\n`;
        const events = pieces.map((piece) =>
          line({ model: body.model, created_at: "2026-01-01T00:00:00Z", message: { role: "assistant", content: piece }, done: false }),
        );
        if (calls.length > 0) {
          events.push(
            line({
              model: body.model,
              created_at: "2026-01-01T00:00:00Z",
              message: {
                role: "assistant",
                content: "",
                tool_calls: calls.map((call) => ({ function: { name: call.name, arguments: call.arguments } })),
              },
              done: false,
            }),
          );
        }
        events.push(
          line({
            model: body.model,
            created_at: "2026-01-01T00:00:00Z",
            message: { role: "assistant", content: "" },
            done: true,
            done_reason: reply.finishReason ?? "stop",
            prompt_eval_count: usage.input,
            eval_count: usage.output,
          }),
        );
        return events;
      }
      case "anthropic": {
        const events = [
          sse(
            {
              type: "message_start",
              message: {
                id: "msg_test",
                type: "message",
                role: "assistant",
                model: body.model,
                content: [],
                stop_reason: null,
                usage: { input_tokens: usage.input, output_tokens: 1 },
              },
            },
            "message_start",
          ),
          sse({ type: "ping" }, "ping"),
        ];
        let index = 0;
        if (pieces.length > 0) {
          events.push(sse({ type: "content_block_start", index, content_block: { type: "text", text: "" } }, "content_block_start"));
          for (const piece of pieces)
            events.push(sse({ type: "content_block_delta", index, delta: { type: "text_delta", text: piece } }, "content_block_delta"));
          events.push(sse({ type: "content_block_stop", index }, "content_block_stop"));
          index++;
        }
        calls.forEach((call, callIndex) => {
          const args = JSON.stringify(call.arguments);
          const half = Math.floor(args.length / 2);
          events.push(
            sse(
              {
                type: "content_block_start",
                index,
                content_block: { type: "tool_use", id: call.id ?? `toolu_${callIndex}`, name: call.name, input: {} },
              },
              "content_block_start",
            ),
          );
          events.push(
            sse(
              { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: args.slice(0, half) } },
              "content_block_delta",
            ),
          );
          events.push(
            sse(
              { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: args.slice(half) } },
              "content_block_delta",
            ),
          );
          events.push(sse({ type: "content_block_stop", index }, "content_block_stop"));
          index++;
        });
        const stop = calls.length > 0 ? "tool_use" : reply.finishReason === "length" ? "max_tokens" : "end_turn";
        events.push(
          sse(
            { type: "message_delta", delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } },
            "message_delta",
          ),
        );
        events.push(sse({ type: "message_stop" }, "message_stop"));
        return events;
      }
    }
  }
}

function splitText(text: string): string[] {
  if (text === "") return [];
  const size = Math.max(1, Math.ceil(text.length / 4));
  const pieces: string[] = [];
  for (let index = 0; index < text.length; index += size) pieces.push(text.slice(index, index + size));
  return pieces;
}

function anthropicErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status === 529) return "overloaded_error";
  if (status >= 500) return "api_error";
  return "invalid_request_error";
}
