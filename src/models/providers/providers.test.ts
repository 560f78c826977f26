import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ModelServer, type ModelProtocol } from "../../../test/helpers/model-servers.js";
import { ModelError } from "../model-error.js";
import { createModel } from "../registry.js";
import type { GenerateRequest, LanguageModel, StreamPart } from "../types.js";

const KEY = "sk-test-secret-key-123456";

const TOOL = {
  name: "read_file",
  description: "Reads a file",
  parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
};

async function collect(parts: AsyncIterable<StreamPart>): Promise<StreamPart[]> {
  const result: StreamPart[] = [];
  for await (const part of parts) result.push(part);
  return result;
}

async function failure(promise: Promise<unknown>): Promise<ModelError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ModelError) return error;
    throw error;
  }
  throw new Error("expected the call to fail");
}

const ask = (content: string, extra: Partial<GenerateRequest> = {}): GenerateRequest => ({
  messages: [{ role: "user", content }],
  ...extra,
});

// One suite, three wire protocols: every provider must pass the same behaviour.
describe.each<ModelProtocol>(["openai", "ollama", "anthropic"])("%s provider against a local server speaking its protocol", (protocol) => {
  const server = new ModelServer(protocol);
  let model: LanguageModel;
  let slow: LanguageModel;

  beforeAll(async () => {
    await server.start();
    const entry = { provider: protocol, base_url: server.url, model: "test-model", api_key: KEY, timeout: "2s", max_retries: 2 } as const;
    const deps = { retryBaseMs: 1 };
    model = createModel("coder", entry, deps);
    slow = createModel("slowpoke", { ...entry, timeout: "150ms", max_retries: 0 }, deps);
  });
  afterAll(() => server.stop());
  beforeEach(() => server.reset());

  it("generates text and reports usage, sending the key the way the API wants it", async () => {
    server.reply({ text: "Hello there", usage: { input: 12, output: 3 } });
    const result = await model.generate(
      ask("hi", {
        temperature: 0.2,
        maxTokens: 50,
        messages: [
          { role: "system", content: "be brief" },
          { role: "user", content: "hi" },
        ],
      }),
    );
    expect(result).toMatchObject({
      text: "Hello there",
      finishReason: "stop",
      usage: { inputTokens: 12, outputTokens: 3 },
      model: "coder",
      toolCalls: [],
    });
    const request = server.requests[0]!;
    expect(request.body.model).toBe("test-model");
    if (protocol === "anthropic") {
      expect(request.headers["x-api-key"]).toBe(KEY);
      expect(request.headers["anthropic-version"]).toBe("2023-06-01");
      expect(request.body.system).toBe("be brief");
      expect(request.body.max_tokens).toBe(50);
      expect(request.body.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }]);
    } else {
      expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(request.body.messages).toEqual([
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ]);
    }
    if (protocol === "ollama") expect(request.body.options).toEqual({ temperature: 0.2, num_predict: 50 });
    if (protocol === "openai") expect(request.body).toMatchObject({ temperature: 0.2, max_tokens: 50 });
  });

  it("streams text deltas that add up to the answer, then one finish part", async () => {
    server.reply({ text: "streamed answer text", chunks: ["streamed ", "answer ", "text"], usage: { input: 7, output: 3 } });
    const parts = await collect(model.stream(ask("go")));
    const texts = parts.filter((part) => part.type === "text").map((part) => (part as { text: string }).text);
    expect(texts).toEqual(["streamed ", "answer ", "text"]);
    const finish = parts.at(-1)!;
    expect(finish.type).toBe("finish");
    expect(finish).toMatchObject({
      result: { text: "streamed answer text", usage: { inputTokens: 7, outputTokens: 3 }, finishReason: "stop" },
    });
    if (protocol === "openai") expect(server.requests[0]!.body.stream_options).toEqual({ include_usage: true });
  });

  it("passes tools and returns the model's tool calls with parsed arguments (whole and streamed)", async () => {
    const call = { id: "call_abc", name: "read_file", arguments: { path: "/etc/hosts", lines: [1, 2] } };
    server.reply({ toolCalls: [call] }, { toolCalls: [call] });
    const whole = await model.generate(ask("read it", { tools: [TOOL] }));
    expect(whole.finishReason).toBe("tool_calls");
    expect(whole.toolCalls).toEqual([{ id: protocol === "ollama" ? "call_0" : "call_abc", name: "read_file", arguments: call.arguments }]);
    const tools = server.requests[0]!.body.tools as Array<Record<string, unknown>>;
    if (protocol === "anthropic")
      expect(tools[0]).toEqual({ name: "read_file", description: "Reads a file", input_schema: TOOL.parameters });
    else
      expect(tools[0]).toEqual({
        type: "function",
        function: { name: "read_file", description: "Reads a file", parameters: TOOL.parameters },
      });

    const parts = await collect(model.stream(ask("read it", { tools: [TOOL] })));
    const calls = parts.filter((part) => part.type === "tool-call");
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ toolCall: { name: "read_file", arguments: call.arguments } });
    expect(parts.at(-1)).toMatchObject({ type: "finish", result: { finishReason: "tool_calls" } });
  });

  it("sends tool results back in the protocol's shape", async () => {
    await model.generate({
      messages: [
        { role: "user", content: "read it" },
        { role: "assistant", content: "", toolCalls: [{ id: "call_1", name: "read_file", arguments: { path: "/x" } }] },
        { role: "tool", content: "file body", toolCallId: "call_1", name: "read_file" },
      ],
    });
    const messages = server.requests[0]!.body.messages as Array<Record<string, unknown>>;
    if (protocol === "openai") {
      expect(messages[1]).toEqual({
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "read_file", arguments: '{"path":"/x"}' } }],
      });
      expect(messages[2]).toEqual({ role: "tool", tool_call_id: "call_1", content: "file body" });
    } else if (protocol === "ollama") {
      expect(messages[1]).toEqual({
        role: "assistant",
        content: "",
        tool_calls: [{ function: { name: "read_file", arguments: { path: "/x" } } }],
      });
      expect(messages[2]).toEqual({ role: "tool", content: "file body", tool_name: "read_file" });
    } else {
      expect(messages[1]).toEqual({
        role: "assistant",
        content: [{ type: "tool_use", id: "call_1", name: "read_file", input: { path: "/x" } }],
      });
      expect(messages[2]).toEqual({ role: "user", content: [{ type: "tool_result", tool_use_id: "call_1", content: "file body" }] });
    }
  });

  it("asks for JSON output in the protocol's way", async () => {
    const schema = { type: "object", properties: { ok: { type: "boolean" } } };
    await model.generate(ask("json please", { json: true }));
    await model.generate(ask("json please", { json: schema }));
    const [plain, shaped] = server.requests.map((request) => request.body);
    if (protocol === "openai") {
      expect(plain!.response_format).toEqual({ type: "json_object" });
      expect(shaped!.response_format).toEqual({ type: "json_schema", json_schema: { name: "output", schema } });
      // OpenAI refuses json_object unless a message mentions JSON: a system line is added when none does.
      await model.generate(ask("rate it", { json: true }));
      expect(server.requests[2]!.body.messages).toEqual([
        { role: "system", content: "Respond in JSON." },
        { role: "user", content: "rate it" },
      ]);
      expect(plain!.messages).toEqual([{ role: "user", content: "json please" }]);
    } else if (protocol === "ollama") {
      expect(plain!.format).toBe("json");
      expect(shaped!.format).toEqual(schema);
    } else {
      expect(String(plain!.system)).toContain("JSON object");
      expect(String(shaped!.system)).toContain(JSON.stringify(schema));
    }
  });

  it("classifies HTTP errors by kind and never puts the key in the message", async () => {
    server.reply({ status: 401, message: `Incorrect API key provided: ${KEY}` });
    const auth = await failure(model.generate(ask("x")));
    expect(auth.kind).toBe("auth");
    expect(auth.status).toBe(401);
    expect(auth.message).toContain('model "coder"');
    expect(auth.message).toContain(`127.0.0.1:${server.port}`);
    expect(auth.message).not.toContain(KEY);
    expect(JSON.stringify(auth.toJSON())).not.toContain(KEY);

    server.reply({ status: 404, message: "model 'test-model' not found" });
    expect((await failure(model.generate(ask("x")))).kind).toBe("model_missing");

    server.reply({ status: 400, message: "This model's maximum context length is 4096 tokens" });
    expect((await failure(model.generate(ask("x")))).kind).toBe("context_too_long");

    server.reply({ status: 400, message: "temperature must be a number" });
    expect((await failure(model.generate(ask("x")))).kind).toBe("bad_request");
    expect(server.requests).toHaveLength(4); // none of these is retried
  });

  it("retries 429 (honouring Retry-After) and 5xx, then succeeds", async () => {
    server.reply({ status: 429, headers: { "retry-after": "0" } }, { status: 503 }, { text: "third time lucky" });
    const result = await model.generate(ask("x"));
    expect(result.text).toBe("third time lucky");
    expect(server.requests).toHaveLength(3);
  });

  it("gives up after max_retries with a server_error, and does not wait for a long Retry-After", async () => {
    server.reply({ status: 500 }, { status: 500 }, { status: 500 });
    const error = await failure(model.generate(ask("x")));
    expect(error.kind).toBe("server_error");
    expect(error.retryable).toBe(true);
    expect(server.requests).toHaveLength(3);

    server.reset();
    server.reply({ status: 429, headers: { "retry-after": "3600" } });
    const limited = await failure(model.generate(ask("x")));
    expect(limited.kind).toBe("rate_limited");
    expect(limited.retryAfterMs).toBe(3_600_000);
    expect(server.requests).toHaveLength(1);
  });

  it("times out a server that does not answer, and a stream that goes silent", async () => {
    server.reply({ text: "late", delayMs: 600 });
    expect((await failure(slow.generate(ask("x")))).kind).toBe("timeout");
    server.reply({ text: "one two three four", chunkDelayMs: 600 });
    const error = await failure(collect(slow.stream(ask("x"))));
    expect(error.kind).toBe("timeout");
  });

  it("reports a connection dropped mid-stream as unreachable", async () => {
    server.reply({ text: "a long answer that never ends", dropAfterChunks: 2 });
    const error = await failure(collect(slow.stream(ask("x"))));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toMatch(/dropped|ended before/);
  });

  it("turns the protocol's in-stream error event into a server_error carrying its message", async () => {
    server.reply({ text: "partial answer then trouble", streamError: { afterChunks: 2, message: "overloaded, try later" } });
    const seen: StreamPart[] = [];
    const error = await failure(
      (async () => {
        for await (const part of model.stream(ask("x"))) seen.push(part);
      })(),
    );
    expect(error.kind).toBe("server_error");
    expect(error.message).toContain("overloaded, try later");
    expect(seen.some((part) => part.type === "finish")).toBe(false);
  });

  it("reports a server that hangs up as unreachable after retrying", async () => {
    server.reply({ hangUp: true }, { hangUp: true }, { hangUp: true });
    const error = await failure(model.generate(ask("x")));
    expect(error.kind).toBe("unreachable");
    expect(server.requests).toHaveLength(3);
  });

  it("stops at once when the caller aborts", async () => {
    server.reply({ text: "slow", delayMs: 1000 });
    const controller = new AbortController();
    const pending = model.generate(ask("x", { signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    const error = await failure(pending);
    expect(error.kind).toBe("aborted");
  });
});

describe("a server nobody listens on", () => {
  it("is unreachable, naming the model and endpoint", async () => {
    const server = new ModelServer("openai");
    await server.start();
    const url = server.url;
    await server.stop();
    const model = createModel("gone", { provider: "openai", base_url: url, model: "m", max_retries: 1 }, { retryBaseMs: 1 });
    const error = await failure(model.generate(ask("x")));
    expect(error.kind).toBe("unreachable");
    expect(error.message).toMatch(/model "gone" \(openai at http:\/\/127\.0\.0\.1:\d+\): unreachable: no response: ECONNREFUSED/);
  });
});
