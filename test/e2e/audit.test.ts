import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  callApi,
  makeTempDir,
  Receiver,
  runCli,
  startDaemon,
  waitFor,
  writeConfigDir,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

const TOKEN = "e2e-secret-token-0123456789";

describe("audit log and gateway hardening", () => {
  const temp = makeTempDir("localagent-audit-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const auditFile = join(dataDir, "audit.log");
  const receiver = new Receiver();
  let daemon: DaemonProcess;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const cli = (...args: string[]) => runCli([...args, "--config", configDir, "--data-dir", dataDir], { env: { AUDIT_TOKEN: TOKEN } });

  beforeAll(async () => {
    await receiver.start();
    writeConfigDir(configDir, {
      config: [
        'server: { token: "env:AUDIT_TOKEN" }',
        "notifications:",
        `  hook: { type: webhook, url: "${receiver.url}" }`,
        "audit:",
        "  alerts:",
        "    - match: { type: step-finished, status: failed }",
        "      notify: hook",
        '      message: "step {{ actor.step }} of {{ actor.workflow }} failed: {{ details.error }}"',
        "",
      ].join("\n"),
      workflows: {
        "leaky.yaml": [
          "workflow:",
          "  name: leaky",
          "  trigger: manual",
          "  tasks:",
          "    - name: fail",
          "      type: shell",
          `      command: "echo using ${TOKEN} >&2; exit 3"`,
          "",
        ].join("\n"),
      },
    });
    daemon = await startDaemon({ configDir, dataDir, env: { AUDIT_TOKEN: TOKEN } });
  });

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await receiver.stop();
    temp.cleanup();
  });

  async function api(method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${daemon.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) };
    } catch {
      return { status: response.status, body: text };
    }
  }

  it("records the run, alerts on the failed step through the outbox, and never writes the secret", async () => {
    const run = await api("POST", "/api/workflows/leaky/run?wait=1", {});
    expect(run.body.status).toBe("failed");
    await waitFor(() => receiver.requests.length === 1, 10_000);
    expect(JSON.stringify(receiver.requests[0]?.body)).toMatch(/step fail of leaky failed/);
    const text = readFileSync(auditFile, "utf8");
    expect(text).not.toContain(TOKEN);
    const types = text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).type);
    expect(types).toEqual(
      expect.arrayContaining(["run-queued", "run-started", "step-started", "step-finished", "run-finished", "delivery-queued"]),
    );
    const tail = await cli("audit", "tail", "-n", "2", "--json");
    expect(tail.code).toBe(0);
    expect(tail.stdout.trim().split("\n")).toHaveLength(2);
    const verify = await cli("audit", "verify");
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/audit log intact: \d+ entries/);
    const none = await cli("audit", "export", "--json", "--since", "2999-01-01T00:00:00Z");
    expect(JSON.parse(none.stdout)).toEqual([]);
  }, 30_000);

  it("rejects a wrong token on the API and on /ws, in constant time, and accepts the right one", async () => {
    expect((await api("GET", "/api/workflows", undefined, "wrong")).status).toBe(401);
    expect((await api("GET", "/api/workflows", undefined, `${TOKEN}x`)).status).toBe(401);
    expect((await callApi(daemon.url, "GET", "/api/workflows")).status).toBe(401);
    expect((await fetch(`${daemon.url}/api/workflows`, { headers: auth })).status).toBe(200);
    const ws = (url: string, headers: Record<string, string> = {}) =>
      new Promise<string>((done) => {
        const socket = new WebSocket(url, { headers });
        socket.once("message", () => {
          socket.close();
          done("open");
        });
        socket.once("unexpected-response", (_request, response) => done(String(response.statusCode)));
        socket.once("error", () => done("error"));
      });
    const base = daemon.url.replace("http", "ws");
    expect(await ws(`${base}/ws?token=wrong`)).toBe("401");
    expect(await ws(`${base}/ws`, { authorization: "Bearer wrong" })).toBe("401");
    expect(await ws(`${base}/ws`)).toBe("401");
    expect(await ws(`${base}/ws?token=${TOKEN}`)).toBe("open");
    expect(await ws(`${base}/ws`, auth)).toBe("open");
  });

  it("limits request bodies and keeps secrets out of error messages", async () => {
    // The server answers 413 as soon as it reads the length, before the body is sent.
    const status = await new Promise<number>((done, fail) => {
      const request = httpRequest(`${daemon.url}/api/events/big`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json", "content-length": String(5 << 20) },
      });
      request.on("response", (response) => {
        response.resume();
        done(response.statusCode ?? 0);
      });
      request.on("error", fail);
      request.write("{");
    });
    expect(status).toBe(413);
    const missing = await api("GET", `/api/runs/${TOKEN}`);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).not.toContain(TOKEN);
    expect(missing.body.error.message).toContain("[redacted]");
  });

  it("verify names the first bad entry after an edited byte, a deleted line, swapped lines and a cut-off end", async () => {
    await daemon.stop("SIGTERM");
    const original = readFileSync(auditFile, "utf8");
    const lines = original.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(4);

    const edited = lines.slice();
    edited[2] = (edited[2] ?? "")
      .replace('"seq":3', '"seq":3 ')
      .replace(/"at":"(\d)/, (_match, digit: string) => `"at":"${(Number(digit) + 1) % 10}`);
    writeFileSync(auditFile, `${edited.join("\n")}\n`);
    let verify = await cli("audit", "verify");
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/broken at line 3 \(seq 3\)/);

    const deleted = lines.slice();
    deleted.splice(1, 1);
    writeFileSync(auditFile, `${deleted.join("\n")}\n`);
    verify = await cli("audit", "verify");
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/broken at line 2 \(seq 3\)/);

    const swapped = lines.slice();
    [swapped[3], swapped[4]] = [swapped[4] ?? "", swapped[3] ?? ""];
    writeFileSync(auditFile, `${swapped.join("\n")}\n`);
    verify = await cli("audit", "verify", "--json");
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: false, line: 4, seq: 5 });

    writeFileSync(auditFile, `${lines.slice(0, -1).join("\n")}\n`);
    verify = await cli("audit", "verify");
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(new RegExp(`broken at line ${lines.length} \\(seq ${lines.length}\\): .*removed from the end`));

    writeFileSync(auditFile, original);
    expect((await cli("audit", "verify")).code).toBe(0);
  }, 30_000);
});
