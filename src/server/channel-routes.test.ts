import { describe, expect, it } from "vitest";
import { LocalAgentError } from "../errors/index.js";
import type { ChannelApi } from "./channel-routes.js";
import type { DaemonApi } from "./daemon-api.js";
import { HttpServer } from "./server.js";

const TOKEN = "api-token-value-123";

function api(): DaemonApi {
  return {
    health: () => ({ status: "ok", version: "0", uptimeMs: 0, workflows: 0, problems: 0, activeRuns: 0 }),
    listWorkflows: () => [],
    getWorkflow: () => ({}),
    runWorkflow: () => Promise.resolve({}),
    listRuns: () => [],
    getRun: () => ({}),
    cancelRun: () => ({}),
    resumeRun: () => ({}),
    fireEvent: () => ({}),
    listDeliveries: () => [],
    listApprovals: () => [],
    decideApproval: () => ({}),
    problems: () => [],
    subscribe: () => () => undefined,
  };
}

/** The channel layer as the server sees it, recording what reached it. */
function channels(): ChannelApi & {
  events: Array<{ name: string; event: unknown; raw: string; headers: Record<string, string | undefined> }>;
  rejected: string[];
} {
  const events: Array<{ name: string; event: unknown; raw: string; headers: Record<string, string | undefined> }> = [];
  const rejected: string[] = [];
  return {
    events,
    rejected,
    list: () => [{ name: "hook", status: "running" }],
    has: (name) => name === "hook" || name === "telegram",
    handleEvent(name, event, headers, raw) {
      if (headers["x-test-signature"] !== "good")
        return Promise.reject(new LocalAgentError("bad_request", "signature does not match", { details: { httpStatus: 401 } }));
      events.push({ name, event, raw, headers });
      return Promise.resolve();
    },
    listPairing: () => [{ code: "ABCD2345" }],
    approvePairing: (code, by) => ({ code, by, status: "paired" }),
    revokePairing: (user) => [{ userId: user, status: "revoked" }],
    openChat: () => undefined,
    reject: (_channel, reason) => void rejected.push(reason),
  };
}

describe("channel routes", () => {
  const layer = channels();
  const server = new HttpServer({ host: "127.0.0.1", port: 0, token: TOKEN, api: api(), channels: layer });
  const auth = { authorization: `Bearer ${TOKEN}` };

  it("hands the raw body of a channel event to the adapter without the API token (the adapter authenticates it)", async () => {
    const raw = '{ "text": "hi",  "chat_id": 1 }';
    for (const url of ["/api/channels/webhook/hook", "/api/channels/hook/events", "/api/telegram"]) {
      const response = await server.app.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/json", "x-test-signature": "good" },
        payload: raw,
      });
      expect(response.statusCode, url).toBe(200);
    }
    expect(layer.events.map((entry) => entry.name)).toEqual(["hook", "hook", "telegram"]);
    expect(layer.events[0]?.raw).toBe(raw);
    expect(layer.events[0]?.event).toEqual({ text: "hi", chat_id: 1 });
  });

  it("answers the adapter's refusal with its status and reports it; other bodies and unknown channels too", async () => {
    const bad = await server.app.inject({
      method: "POST",
      url: "/api/channels/webhook/hook",
      headers: { "content-type": "application/json" },
      payload: "{}",
    });
    expect(bad.statusCode).toBe(401);
    expect(bad.json()).toMatchObject({ error: { message: "signature does not match" } });
    const text = await server.app.inject({
      method: "POST",
      url: "/api/channels/webhook/hook",
      headers: { "content-type": "text/plain", "x-test-signature": "good" },
      payload: "not json",
    });
    expect(text.statusCode).toBe(200);
    expect(layer.events.at(-1)?.event).toBe("not json");
    const huge = await server.app.inject({
      method: "POST",
      url: "/api/channels/webhook/hook",
      headers: { "content-type": "application/json" },
      payload: "x".repeat(2 << 20),
    });
    expect(huge.statusCode).toBe(413);
    expect(layer.rejected).toEqual(
      expect.arrayContaining(["signature does not match", expect.stringMatching(/body is too large/i) as unknown]),
    );
    // Not a channel: the API token is required as everywhere else.
    expect((await server.app.inject({ method: "POST", url: "/api/nobody", payload: {} })).statusCode).toBe(401);
    expect((await server.app.inject({ method: "POST", url: "/api/channels/webhook/nobody", payload: {} })).statusCode).toBe(401);
    expect((await server.app.inject({ method: "POST", url: "/api/channels/webhook/nobody", headers: auth, payload: {} })).statusCode).toBe(
      404,
    );
  });

  it("keeps channel listing and pairing behind the API token", async () => {
    expect((await server.app.inject({ method: "GET", url: "/api/channels" })).statusCode).toBe(401);
    expect((await server.app.inject({ method: "GET", url: "/api/pairing" })).statusCode).toBe(401);
    expect((await server.app.inject({ method: "POST", url: "/api/pairing/approve", payload: { code: "X" } })).statusCode).toBe(401);
    expect((await server.app.inject({ method: "GET", url: "/api/channels", headers: auth })).json()).toEqual({
      channels: [{ name: "hook", status: "running" }],
    });
    const approved = await server.app.inject({
      method: "POST",
      url: "/api/pairing/approve",
      headers: auth,
      payload: { code: "ABCD2345", by: "ada" },
    });
    expect(approved.json()).toEqual({ code: "ABCD2345", by: "ada", status: "paired" });
    expect((await server.app.inject({ method: "POST", url: "/api/pairing/approve", headers: auth, payload: {} })).statusCode).toBe(400);
    const revoked = await server.app.inject({ method: "POST", url: "/api/pairing/revoke", headers: auth, payload: { user: "eve" } });
    expect(revoked.json()).toEqual({ revoked: [{ userId: "eve", status: "revoked" }] });
  });
});
