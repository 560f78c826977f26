import { describe, expect, it } from "vitest";
import { LocalAgentError } from "../errors/index.js";
import type { DaemonApi } from "./daemon-api.js";
import { hasToken, HttpServer, sameSecret } from "./server.js";

const TOKEN = "s3cret-token-value";

function fakeApi(): DaemonApi {
  const fail = (): never => {
    throw new LocalAgentError("bad_request", `upstream rejected key ${TOKEN} and other-secret-42`);
  };
  return {
    health: () => ({ status: "ok", version: "0", uptimeMs: 0, workflows: 0, problems: 0, activeRuns: 0 }),
    listWorkflows: () => [],
    getWorkflow: fail,
    runWorkflow: () => Promise.resolve({}),
    listRuns: () => [],
    getRun: fail,
    cancelRun: fail,
    resumeRun: fail,
    fireEvent: () => ({}),
    listDeliveries: () => [],
    listApprovals: () => [{ id: "ap_1" }],
    decideApproval: (id, decision, by) => ({ id, decision, by }),
    problems: () => [],
    subscribe: () => () => undefined,
  };
}

describe("token checks", () => {
  it("compares in constant time and only accepts the exact token", () => {
    expect(sameSecret(TOKEN, TOKEN)).toBe(true);
    expect(sameSecret(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(sameSecret("", TOKEN)).toBe(false);
    expect(hasToken(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(hasToken(`Bearer  ${TOKEN}`, TOKEN)).toBe(false);
    expect(hasToken(TOKEN, TOKEN)).toBe(false);
    expect(hasToken(undefined, TOKEN)).toBe(false);
    expect(hasToken(`Bearer ${TOKEN}`, undefined)).toBe(false);
  });
});

describe("HttpServer", () => {
  const server = new HttpServer({ host: "127.0.0.1", port: 0, token: TOKEN, secrets: ["other-secret-42"], api: fakeApi() });
  const auth = { authorization: `Bearer ${TOKEN}` };

  it("redacts the token and configured secrets from error messages", async () => {
    const response = await server.app.inject({ method: "GET", url: "/api/runs/x", headers: auth });
    expect(response.statusCode).toBe(400);
    expect(response.body).not.toContain(TOKEN);
    expect(response.body).not.toContain("other-secret-42");
    expect(response.json()).toEqual({ error: { code: "bad_request", message: "upstream rejected key [redacted] and [redacted]" } });
  });

  it("serves approvals and checks the decision", async () => {
    expect((await server.app.inject({ method: "GET", url: "/api/approvals", headers: auth })).json()).toEqual({
      approvals: [{ id: "ap_1" }],
    });
    const approved = await server.app.inject({
      method: "POST",
      url: "/api/approvals/ap_1",
      headers: auth,
      payload: { decision: "approve" },
    });
    expect(approved.json()).toEqual({ id: "ap_1", decision: "approve", by: "api" });
    const bad = await server.app.inject({ method: "POST", url: "/api/approvals/ap_1", headers: auth, payload: { decision: "yes" } });
    expect(bad.statusCode).toBe(400);
    const unauthorized = await server.app.inject({ method: "GET", url: "/api/approvals", headers: { authorization: "Bearer nope" } });
    expect(unauthorized.statusCode).toBe(401);
  });

  it("refuses bodies over the limit with 413", async () => {
    const response = await server.app.inject({
      method: "POST",
      url: "/api/events/x",
      headers: { ...auth, "content-type": "application/json" },
      payload: JSON.stringify({ data: "x".repeat(5 << 20) }),
    });
    expect(response.statusCode).toBe(413);
  });
});
