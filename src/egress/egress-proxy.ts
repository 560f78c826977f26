import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, createServer as createNetServer, isIP, type AddressInfo, type Server as NetServer, type Socket } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import type { AuditRecorder } from "../engine/index.js";
import { errorMessage, LocalAgentError } from "../errors/index.js";
import type { Logger } from "../logger/index.js";
import { decideEgress, systemLookup, type EgressDecision, type EgressLookup } from "./egress-decision.js";
import { HostAllowList } from "./host-pattern.js";

/** Writes audit entries: the audit log, or the step services' recorder. */
export type EgressAuditSink = AuditRecorder;

/** Who a step's connections are attributed to in the audit log. */
export interface EgressStepContext {
  runId: string;
  stepName: string;
  workflow: string;
}

/** One `egress-connection` audit entry's details. Never headers, paths or bodies. */
export interface EgressConnectionRecord {
  host: string;
  port: number;
  /** `connect` (CONNECT tunnel: HTTPS or any TCP), `http` (a forwarded plain-HTTP request), `http-step` (an http step, checked directly). */
  via: "connect" | "http" | "http-step";
  decision: "allow" | "deny" | "error";
  /** The allow-list entry that matched (allow). */
  rule?: string;
  reason?: string;
  /** The address connected to (the one checked), or the internal address a denied name resolved to. */
  address?: string;
  /** Client → server and server → client: tunnel bytes for CONNECT, body bytes for forwarded requests. */
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** Forwarded requests: the method and the upstream status. */
  method?: string;
  status?: number;
}

export interface EgressProxyOptions {
  /** Where every connection attempt is recorded; absent: only logged at debug level. */
  audit?: EgressAuditSink;
  logger: Logger;
  /** Folder for the per-step unix sockets (normally DATA_DIR/egress). Default: a folder under the OS temp dir. */
  socketDir?: string;
  /** Name resolution (default: the system's, /etc/hosts included). */
  lookup?: EgressLookup;
  /** Also told about every connection (tests, metrics). */
  onConnection?: (record: EgressConnectionRecord, context: EgressStepContext) => void;
}

/** A step's own proxy listener. */
export interface EgressStepProxy {
  /** The unix socket (bind-mounted into a sandbox without a network). */
  socketPath: string;
  /** The loopback TCP port. */
  port: number;
  /** Proxy variables for the step's processes (upper and lower case: curl reads only the lower-case http_proxy). */
  env: Record<string, string>;
  /** Stops listening, ends open connections (each recorded) and removes the socket. */
  close(): Promise<void>;
}

export interface EgressProxy {
  forStep(hosts: readonly string[], context: EgressStepContext): Promise<EgressStepProxy>;
  close(): Promise<void>;
}

/**
 * The egress proxy: per step, one HTTP proxy listener on 127.0.0.1 and on a unix socket, which
 * allows only the step's hosts. CONNECT tunnels (HTTPS, any TCP) and absolute-form plain-HTTP
 * requests are supported; anything else, and every host not listed, gets a 403 with the reason.
 * Names are resolved here and the connection goes to the address that was checked.
 */
export function startEgressProxy(options: EgressProxyOptions): EgressProxy {
  const steps = new Set<EgressStepProxy>();
  const socketDir = options.socketDir ?? join(process.env.TMPDIR ?? "/tmp", `localagent-egress-${process.pid}`);
  return {
    async forStep(hosts, context) {
      const allowList = new HostAllowList(hosts);
      mkdirSync(socketDir, { recursive: true, mode: 0o700 });
      const step = await listenForStep(allowList, context, options, socketDir);
      const tracked: EgressStepProxy = {
        ...step,
        close: async () => {
          steps.delete(tracked);
          await step.close();
        },
      };
      steps.add(tracked);
      return tracked;
    },
    async close() {
      await Promise.all([...steps].map((step) => step.close()));
    },
  };
}

async function listenForStep(
  allowList: HostAllowList,
  context: EgressStepContext,
  options: EgressProxyOptions,
  socketDir: string,
): Promise<EgressStepProxy> {
  const lookup = options.lookup ?? systemLookup;
  const open = new Set<Duplex>();
  const pending = new Set<Promise<void>>();
  const track = (work: Promise<void>): void => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  const record = (details: EgressConnectionRecord): void => {
    options.onConnection?.(details, context);
    const level = details.decision === "allow" ? "debug" : "warn";
    options.logger[level](
      { host: details.host, port: details.port, decision: details.decision, run: context.runId, step: context.stepName },
      `egress ${details.decision}: ${details.host}:${details.port}${details.reason ? ` (${details.reason})` : ""}`,
    );
    try {
      options.audit?.record({
        type: "egress-connection",
        actor: { workflow: context.workflow, run: context.runId, step: context.stepName },
        details: { ...details },
      });
    } catch (error) {
      options.logger.error({ err: error }, `audit entry not written: ${errorMessage(error)}`);
    }
  };

  const server = createHttpServer({ requestTimeout: 0 });
  server.on("connect", (request: IncomingMessage, client: Duplex, head: Buffer) => {
    // After a CONNECT the socket is ours: a reset by the client must not become an uncaught error.
    client.on("error", () => client.destroy());
    open.add(client);
    client.once("close", () => open.delete(client));
    track(handleConnect(request, client, head, allowList, lookup, record, open));
  });
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    track(handleForward(request, response, allowList, lookup, record, open));
  });
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  server.on("clientError", (_error, socket: Duplex) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  // The unix socket feeds its connections to the same HTTP server.
  const socketPath = join(socketDir, `${sanitize(context.stepName)}-${randomBytes(4).toString("hex")}.sock`);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    server.close();
    throw new LocalAgentError(
      "unavailable",
      `egress proxy: socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter data directory`,
    );
  }
  const unixServer: NetServer = createNetServer((socket) => server.emit("connection", socket));
  try {
    await new Promise<void>((resolve, reject) => {
      unixServer.once("error", reject);
      unixServer.listen(socketPath, () => {
        unixServer.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    server.close();
    throw error;
  }

  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    HTTP_PROXY: url,
    HTTPS_PROXY: url,
    ALL_PROXY: url,
    NO_PROXY: "",
    http_proxy: url,
    https_proxy: url,
    all_proxy: url,
    no_proxy: "",
    LOCALAGENT_EGRESS_SOCKET: socketPath,
  };
  let closing: Promise<void> | undefined;
  return {
    socketPath,
    port,
    env,
    close() {
      closing ??= (async () => {
        const closed = Promise.all([
          new Promise<void>((resolve) => server.close(() => resolve())),
          new Promise<void>((resolve) => unixServer.close(() => resolve())),
        ]);
        for (const socket of open) socket.destroy();
        await closed;
        await Promise.allSettled([...pending]);
        rmSync(socketPath, { force: true });
      })();
      return closing;
    },
  };
}

/** sun_path is 108 bytes on Linux, terminator included. */
const MAX_SOCKET_PATH = 107;

type Recorder = (details: EgressConnectionRecord) => void;

/** `CONNECT host:port`: decide, then tunnel bytes both ways and count them. */
async function handleConnect(
  request: IncomingMessage,
  client: Duplex,
  head: Buffer,
  allowList: HostAllowList,
  lookup: EgressLookup,
  record: Recorder,
  open: Set<Duplex>,
): Promise<void> {
  const started = performance.now();
  const target = parseAuthority(request.url ?? "");
  if (!target) {
    refuse(client, 400, `CONNECT needs host:port, got "${truncate(request.url ?? "")}"`);
    return;
  }
  const decision = await decideEgress(allowList, target.host, target.port, lookup);
  if (decision.decision !== "allow") {
    refuse(client, decision.decision === "deny" ? 403 : 502, decision.reason);
    record(denied(target, "connect", decision, started));
    return;
  }
  let bytesUp = head.length;
  let bytesDown = 0;
  await new Promise<void>((resolve) => {
    const upstream = connect({ host: decision.address, port: target.port });
    open.add(upstream);
    let connected = false;
    let failure: string | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      client.destroy();
      upstream.destroy();
      open.delete(upstream);
      record({
        host: target.host,
        port: target.port,
        via: "connect",
        decision: connected ? "allow" : "error",
        rule: decision.rule,
        address: decision.address,
        ...(failure ? { reason: failure } : {}),
        bytesUp,
        bytesDown,
        durationMs: elapsed(started),
      });
      resolve();
    };
    upstream.once("connect", () => {
      connected = true;
      if (client.destroyed) {
        finish(); // the client gave up while the name was resolved or the connection made
        return;
      }
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      client.on("data", (chunk: Buffer) => {
        bytesUp += chunk.length;
      });
      upstream.on("data", (chunk: Buffer) => {
        bytesDown += chunk.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.once("error", (error: NodeJS.ErrnoException) => {
      if (!connected) {
        failure = `cannot connect to ${decision.address}:${target.port} (${error.code ?? error.message})`;
        if (client.writable) client.end(statusLine(502, failure));
      }
      finish();
    });
    upstream.once("close", finish);
    client.once("error", finish);
    client.once("close", finish);
  });
}

/** An absolute-form `GET http://host:port/path` request: decide, forward, count body bytes. */
async function handleForward(
  request: IncomingMessage,
  response: ServerResponse,
  allowList: HostAllowList,
  lookup: EgressLookup,
  record: Recorder,
  open: Set<Duplex>,
): Promise<void> {
  const started = performance.now();
  let url: URL | undefined;
  try {
    url = new URL(request.url ?? "");
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== "http:") {
    const why =
      url?.protocol === "https:"
        ? "https:// through this proxy must use CONNECT"
        : "this is an egress proxy: send absolute-form requests (http://host/path) or CONNECT";
    response.writeHead(400, { "content-type": "text/plain", connection: "close" }).end(`${why}\n`);
    request.resume();
    return;
  }
  const host = url.hostname;
  const port = url.port === "" ? 80 : Number(url.port);
  const target = { host: stripBracketsOf(host), port };
  const decision = await decideEgress(allowList, target.host, port, lookup);
  if (decision.decision !== "allow") {
    const status = decision.decision === "deny" ? 403 : 502;
    response
      .writeHead(status, { "content-type": "text/plain", "x-localagent-egress": decision.decision, connection: "close" })
      .end(`egress ${decision.decision}: ${decision.reason}\n`);
    request.resume();
    record({ ...denied(target, "http", decision, started), method: request.method ?? "GET" });
    return;
  }
  let bytesUp = 0;
  let bytesDown = 0;
  await new Promise<void>((resolve) => {
    let status: number | undefined;
    let failure: string | undefined;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      record({
        host: target.host,
        port,
        via: "http",
        decision: failure && status === undefined ? "error" : "allow",
        rule: decision.rule,
        address: decision.address,
        ...(failure ? { reason: failure } : {}),
        bytesUp,
        bytesDown,
        durationMs: elapsed(started),
        method: request.method ?? "GET",
        ...(status === undefined ? {} : { status }),
      });
      resolve();
    };
    const upstream = httpRequest(
      {
        host: decision.address,
        port,
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers: forwardHeaders(request),
        agent: false,
      },
      (upstreamResponse) => {
        status = upstreamResponse.statusCode ?? 502;
        response.writeHead(status, upstreamResponse.statusMessage, upstreamHeaders(upstreamResponse));
        upstreamResponse.on("data", (chunk: Buffer) => {
          bytesDown += chunk.length;
        });
        upstreamResponse.pipe(response);
        upstreamResponse.once("end", finish);
        upstreamResponse.once("error", (error) => {
          failure = errorMessage(error);
          response.destroy();
          finish();
        });
      },
    );
    upstream.once("socket", (socket: Socket) => {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
    });
    upstream.once("error", (error: NodeJS.ErrnoException) => {
      failure = `cannot reach ${decision.address}:${port} (${error.code ?? error.message})`;
      if (!response.headersSent) {
        response.writeHead(502, { "content-type": "text/plain", connection: "close" }).end(`egress error: ${failure}\n`);
      } else {
        response.destroy();
      }
      finish();
    });
    response.once("close", () => {
      if (!finished) {
        upstream.destroy();
        failure ??= "client closed the connection";
        finish();
      }
    });
    request.on("data", (chunk: Buffer) => {
      bytesUp += chunk.length;
    });
    // A client that resets mid-body ends the upstream request too; never an uncaught error.
    request.on("error", (error) => {
      failure ??= `client: ${errorMessage(error)}`;
      upstream.destroy();
    });
    request.pipe(upstream);
  });
}

/** Hop-by-hop headers and the proxy's own are not forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function forwardHeaders(request: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const listed = new Set(
    String(request.headers.connection ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    headers[name] = value;
  }
  if (request.headers["transfer-encoding"]) headers["transfer-encoding"] = "chunked";
  headers.connection = "close";
  return headers;
}

function upstreamHeaders(response: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined || (HOP_BY_HOP.has(name) && name !== "transfer-encoding")) continue;
    if (name === "transfer-encoding") continue;
    headers[name] = value;
  }
  return headers;
}

function denied(
  target: { host: string; port: number },
  via: "connect" | "http",
  decision: Exclude<EgressDecision, { decision: "allow" }>,
  started: number,
): EgressConnectionRecord {
  return {
    host: target.host,
    port: target.port,
    via,
    decision: decision.decision,
    reason: decision.reason,
    ...("address" in decision && decision.address ? { address: decision.address } : {}),
    bytesUp: 0,
    bytesDown: 0,
    durationMs: elapsed(started),
  };
}

/** `host:port`, `[v6]:port`; the port is required. */
export function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/\s]+):(\d{1,5})$/.exec(authority);
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = stripBracketsOf(match[1]);
  if (match[1].startsWith("[") && isIP(host) !== 6) return undefined;
  return { host, port };
}

function stripBracketsOf(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function refuse(client: Duplex, status: 400 | 403 | 502, reason: string): void {
  if (client.writable) client.end(statusLine(status, reason));
  else client.destroy();
}

function statusLine(status: number, reason: string): string {
  const text = status === 403 ? "Forbidden" : status === 502 ? "Bad Gateway" : "Bad Request";
  const body = `egress ${status === 403 ? "deny" : status === 502 ? "error" : "bad request"}: ${reason}\n`;
  return (
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\nx-localagent-egress: ${status === 403 ? "deny" : "error"}\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
  );
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 24);
}
