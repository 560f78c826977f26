import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../../test/helpers/index.js";
import { AuditLog, readAuditEntries, verifyAuditLog, type AuditEntry } from "../audit/index.js";
import { systemClock } from "../clock/index.js";
import { createSilentLogger } from "../logger/index.js";
import { startEgressProxy, type EgressLookup, type EgressProxy, type EgressStepProxy } from "./index.js";

const temp = makeTempDir("localagent-egress-");
const auditFile = join(temp.dir, "audit.log");
const audit = new AuditLog({ file: auditFile, clock: systemClock, durability: "process" });

/** Test names resolve here: a public-looking one that points at 127.0.0.1 is the rebinding case. */
const names: Record<string, string[]> = {
  "a.example.test": ["127.0.0.1"],
  "b.c.example.test": ["127.0.0.1"],
  "example.test": ["127.0.0.1"],
  "rebind.test": ["127.0.0.1"],
  "mixed.test": ["93.184.215.14", "10.1.2.3"],
};
const lookup: EgressLookup = async (host) => {
  const addresses = names[host];
  if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return addresses.map((address) => ({ address, family: 4 }));
};

let proxy: EgressProxy;
let web: Server;
let webPort: number;
let otherPort: number;
let echoPort: number;
const servers: { close(): void }[] = [];

async function listen(server: { listen(port: number, host: string, done: () => void): void; address(): unknown }): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  web = createHttpServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(`hello ${request.method} ${request.url} ${body}`);
    });
  });
  webPort = await listen(web);
  servers.push(web);
  const other = createHttpServer((_request, response) => response.end("other"));
  otherPort = await listen(other);
  servers.push(other);
  const echo = createNetServer((socket) => socket.pipe(socket));
  echoPort = await listen(echo);
  servers.push(echo);
  proxy = startEgressProxy({ audit, logger: createSilentLogger(), socketDir: join(temp.dir, "egress"), lookup });
});

afterAll(async () => {
  await proxy.close();
  for (const server of servers) server.close();
  audit.close();
  temp.cleanup();
});

const context = { runId: "run_egress", stepName: "fetch", workflow: "wf" };

function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("curl", ["-sS", "--max-time", "20", ...args], { env: { PATH: process.env.PATH ?? "" } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A raw CONNECT through the proxy (TCP or unix socket): the status line, and the socket when it is 200. */
function rawConnect(
  target: string,
  via: { port: number } | { path: string },
): Promise<{ status: number; body: string; socket: Socket | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = "path" in via ? connect(via.path) : connect(via.port, "127.0.0.1");
    let buffer = "";
    socket.once("error", reject);
    socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString("latin1");
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buffer)?.[1] ?? 0);
      if (status !== 200) {
        socket.on("data", (more: Buffer) => (buffer += more.toString("latin1")));
        socket.once("close", () => resolve({ status, body: buffer.slice(end + 4), socket: undefined }));
        socket.off("data", onData);
        return;
      }
      socket.off("data", onData);
      resolve({ status, body: buffer.slice(end + 4), socket });
    };
    socket.on("data", onData);
  });
}

/** Sends `payload` through an open tunnel to the echo server and reads it back. */
function echoThrough(socket: Socket, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= payload.length) resolve(Buffer.concat(chunks));
    });
    socket.write(payload);
  });
}

async function entriesFor(step: EgressStepProxy, runId: string, count: number): Promise<AuditEntry[]> {
  await step.close();
  const entries = readAuditEntries(auditFile).filter((entry) => entry.type === "egress-connection" && entry.actor.run === runId);
  expect(entries).toHaveLength(count);
  return entries;
}

describe("egress proxy", () => {
  it("tunnels an allowed host with CONNECT (curl -p) and forwards plain HTTP (curl -x), each audited", async () => {
    const step = await proxy.forStep([`127.0.0.1:${webPort}`], { ...context, runId: "run_allow" });
    const viaConnect = await curl(["-p", "-x", `http://127.0.0.1:${step.port}`, `http://127.0.0.1:${webPort}/tunnel`]);
    expect(viaConnect).toMatchObject({ code: 0, stdout: "hello GET /tunnel " });
    const viaForward = await curl(["-x", `http://127.0.0.1:${step.port}`, "-d", "abc", `http://127.0.0.1:${webPort}/forward?q=1`]);
    expect(viaForward).toMatchObject({ code: 0, stdout: "hello POST /forward?q=1 abc" });
    const [tunnel, forward] = await entriesFor(step, "run_allow", 2);
    expect(tunnel).toMatchObject({
      actor: { workflow: "wf", run: "run_allow", step: "fetch" },
      details: { host: "127.0.0.1", port: webPort, via: "connect", decision: "allow", rule: `127.0.0.1:${webPort}`, address: "127.0.0.1" },
    });
    expect(tunnel?.details.bytesUp).toBeGreaterThan(0);
    expect(tunnel?.details.bytesDown).toBeGreaterThan("hello GET /tunnel ".length);
    expect(forward?.details).toMatchObject({ via: "http", decision: "allow", method: "POST", status: 200, bytesUp: 3 });
    expect(forward?.details.bytesDown).toBe("hello POST /forward?q=1 abc".length);
    // Never headers, paths or bodies.
    expect(JSON.stringify(forward)).not.toContain("/forward");
    expect(JSON.stringify(forward)).not.toContain("abc");
  });

  it("refuses a host that is not listed with 403 and the reason, and audits the deny", async () => {
    const step = await proxy.forStep([`127.0.0.1:${webPort}`], { ...context, runId: "run_deny" });
    const forward = await curl(["-x", `http://127.0.0.1:${step.port}`, `http://127.0.0.1:${otherPort}/`]);
    expect(forward.stdout).toContain("not in the step's network allow-list");
    const tunnel = await curl(["-p", "-x", `http://127.0.0.1:${step.port}`, `http://127.0.0.1:${otherPort}/`]);
    expect(tunnel.code).not.toBe(0);
    expect(tunnel.stderr).toMatch(/403/);
    const raw = await rawConnect(`denied.example:443`, { port: step.port });
    expect(raw.status).toBe(403);
    expect(raw.body).toContain("denied.example:443 is not in the step's network allow-list");
    const entries = await entriesFor(step, "run_deny", 3);
    expect(entries.map((entry) => [entry.details.via, entry.details.decision, entry.details.port])).toEqual([
      ["http", "deny", otherPort],
      ["connect", "deny", otherPort],
      ["connect", "deny", 443],
    ]);
    expect(entries[2]?.details).toMatchObject({ host: "denied.example", bytesUp: 0, bytesDown: 0 });
  });

  it("counts the bytes of a raw TCP tunnel both ways, through the unix socket too", async () => {
    const step = await proxy.forStep([`127.0.0.1:${echoPort}`], { ...context, runId: "run_bytes" });
    const payload = Buffer.alloc(100_000, 7);
    const viaTcp = await rawConnect(`127.0.0.1:${echoPort}`, { port: step.port });
    expect(viaTcp.status).toBe(200);
    expect((await echoThrough(viaTcp.socket as Socket, payload)).length).toBe(payload.length);
    viaTcp.socket?.destroy();
    expect(existsSync(step.socketPath)).toBe(true);
    const viaUnix = await rawConnect(`127.0.0.1:${echoPort}`, { path: step.socketPath });
    expect(viaUnix.status).toBe(200);
    expect((await echoThrough(viaUnix.socket as Socket, payload.subarray(0, 12_345))).length).toBe(12_345);
    viaUnix.socket?.end();
    const entries = await entriesFor(step, "run_bytes", 2);
    expect(entries.map((entry) => [entry.details.bytesUp, entry.details.bytesDown])).toEqual([
      [100_000, 100_000],
      [12_345, 12_345],
    ]);
    expect(existsSync(step.socketPath)).toBe(false);
  });

  it("tunnels HTTPS (TLS end to end through CONNECT) with node's https client", async () => {
    const key = join(temp.dir, "key.pem");
    const cert = join(temp.dir, "cert.pem");
    await new Promise<void>((resolve, reject) =>
      execFile(
        "openssl",
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=a.example.test"],
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    const tls = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_request, response) => response.end("secure"));
    const tlsPort = await listen(tls);
    servers.push(tls);
    const step = await proxy.forStep(["*.example.test", "127.0.0.1"], { ...context, runId: "run_tls" });
    const tunnel = await rawConnect(`a.example.test:${tlsPort}`, { port: step.port });
    expect(tunnel.status).toBe(200);
    const body = await new Promise<string>((resolve, reject) => {
      const request = httpRequest(
        {
          host: "a.example.test",
          port: tlsPort,
          path: "/",
          createConnection: () =>
            tlsConnect({
              socket: tunnel.socket,
              servername: "a.example.test",
              ca: readFileSync(cert),
            }),
        },
        (response) => {
          let text = "";
          response.on("data", (chunk: Buffer) => (text += chunk.toString()));
          response.on("end", () => resolve(text));
        },
      );
      request.on("error", reject);
      request.end();
    });
    expect(body).toBe("secure");
    const [entry] = await entriesFor(step, "run_tls", 1);
    expect(entry?.details).toMatchObject({ host: "a.example.test", decision: "allow", rule: "*.example.test", address: "127.0.0.1" });
  });

  it("matches wildcards on subdomains only, and ports when given", async () => {
    const step = await proxy.forStep([`*.example.test:${webPort}`, "127.0.0.1"], { ...context, runId: "run_wild" });
    const proxyArgs = ["-x", `http://127.0.0.1:${step.port}`];
    expect((await curl([...proxyArgs, `http://a.example.test:${webPort}/x`])).stdout).toBe("hello GET /x ");
    expect((await curl([...proxyArgs, `http://b.c.example.test:${webPort}/y`])).stdout).toBe("hello GET /y ");
    expect((await curl([...proxyArgs, `http://example.test:${webPort}/`])).stdout).toContain("not in the step's network allow-list");
    expect((await curl([...proxyArgs, `http://a.example.test:${otherPort}/`])).stdout).toContain("not in the step's network allow-list");
    const entries = await entriesFor(step, "run_wild", 4);
    expect(entries.map((entry) => entry.details.decision)).toEqual(["allow", "allow", "deny", "deny"]);
  });

  it("refuses a listed name that resolves to a loopback/private address not itself listed (DNS rebinding)", async () => {
    const step = await proxy.forStep(["rebind.test", "mixed.test", "nowhere.test"], { ...context, runId: "run_rebind" });
    const rebind = await rawConnect(`rebind.test:${webPort}`, { port: step.port });
    expect(rebind.status).toBe(403);
    expect(rebind.body).toContain("rebind.test resolves to 127.0.0.1");
    expect(rebind.body).toContain("DNS rebinding guard");
    const mixed = await curl(["-x", `http://127.0.0.1:${step.port}`, "http://mixed.test/"]);
    expect(mixed.stdout).toContain("mixed.test resolves to 10.1.2.3");
    const missing = await rawConnect("nowhere.test:443", { port: step.port });
    expect(missing.status).toBe(502);
    expect(missing.body).toContain("nowhere.test does not resolve (ENOTFOUND)");
    const entries = await entriesFor(step, "run_rebind", 3);
    expect(entries.map((entry) => [entry.details.decision, entry.details.address])).toEqual([
      ["deny", "127.0.0.1"],
      ["deny", "10.1.2.3"],
      ["error", undefined],
    ]);
    // Listing the address too makes the name usable (a local service by name).
    const listed = await proxy.forStep(["rebind.test", "127.0.0.1"], { ...context, runId: "run_rebind_listed" });
    expect((await curl(["-x", `http://127.0.0.1:${listed.port}`, `http://rebind.test:${webPort}/ok`])).stdout).toBe("hello GET /ok ");
    await entriesFor(listed, "run_rebind_listed", 1);
  });

  it("answers requests that are not proxy requests with 400, and an upstream that refuses with 502", async () => {
    const step = await proxy.forStep([`127.0.0.1`], { ...context, runId: "run_bad" });
    const direct = await curl([`http://127.0.0.1:${step.port}/`]);
    expect(direct.stdout).toContain("this is an egress proxy");
    const closed = createNetServer();
    const closedPort = await listen(closed);
    closed.close();
    const refused = await rawConnect(`127.0.0.1:${closedPort}`, { port: step.port });
    expect(refused.status).toBe(502);
    expect(refused.body).toContain("ECONNREFUSED");
    const [entry] = await entriesFor(step, "run_bad", 1);
    expect(entry?.details).toMatchObject({ decision: "error", port: closedPort });
  });

  it("survives clients that reset mid-request and mid-tunnel, and records those connections", async () => {
    const step = await proxy.forStep([`127.0.0.1`], { ...context, runId: "run_reset" });
    const reached = new Promise((resolve) => web.once("request", resolve));
    const upload = connect(step.port, "127.0.0.1");
    await new Promise<void>((resolve) => upload.once("connect", () => resolve()));
    upload.write(
      `POST http://127.0.0.1:${webPort}/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n${"x".repeat(5000)}`,
    );
    await reached; // the proxy has forwarded the request upstream
    upload.resetAndDestroy();
    const tunnel = await rawConnect(`127.0.0.1:${echoPort}`, { port: step.port });
    expect(await echoThrough(tunnel.socket as Socket, Buffer.from("ping"))).toEqual(Buffer.from("ping"));
    tunnel.socket?.resetAndDestroy();
    // The proxy still answers.
    expect((await curl(["-x", `http://127.0.0.1:${step.port}`, `http://127.0.0.1:${webPort}/after`])).stdout).toBe("hello GET /after ");
    const entries = await entriesFor(step, "run_reset", 3);
    expect(entries.map((entry) => entry.details.via)).toEqual(expect.arrayContaining(["http", "connect", "http"]));
  });

  it("leaves a hash chain that verifies", () => {
    const verification = verifyAuditLog(auditFile);
    expect(verification).toMatchObject({ ok: true });
    expect(readAuditEntries(auditFile).length).toBeGreaterThan(10);
  });
});
