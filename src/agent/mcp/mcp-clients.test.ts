import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../../../test/helpers/index.js";
import { ScriptedModel, toolResultsOf } from "../../../test/helpers/scripted-model.js";
import { createSilentLogger } from "../../logger/index.js";
import { runAgentLoop } from "../agent-loop.js";
import type { AgentTool } from "../types.js";
import { McpClients } from "./mcp-clients.js";
import { mcpConfigSchema } from "./mcp-config.js";

const FIXTURE = join(ROOT, "test", "fixtures", "mcp-server.mjs");
// The fixture is plain JavaScript; the test imports it for the HTTP server.
const { createFixtureServer } = (await import(FIXTURE)) as {
  createFixtureServer: (label: string) => { connect(transport: unknown): Promise<void>; close(): Promise<void> };
};

async function until(check: () => boolean): Promise<void> {
  for (let index = 0; index < 1000 && !check(); index++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!check()) throw new Error("condition never held");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function asAgentTools(clients: McpClients, selector: string): Promise<AgentTool[]> {
  return (await clients.tools(selector)).map((tool) => ({
    definition: tool.definition,
    execute: (args, execution) => tool.call(args, execution.signal),
  }));
}

/** An MCP server behind Streamable HTTP on 127.0.0.1, with sessions, that checks an API key and can forget its sessions (a restart). */
class HttpMcpServer {
  private server: Server | undefined;
  private readonly sessions = new Map<string, StreamableHTTPServerTransport>();
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  async forgetSessions(): Promise<void> {
    const transports = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(transports.map((transport) => transport.close()));
  }

  async stop(): Promise<void> {
    await this.forgetSessions();
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(request: IncomingMessage, response: import("node:http").ServerResponse): Promise<void> {
    if (request.headers["x-api-key"] !== "k-123") {
      response.writeHead(401).end("no key");
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown) : undefined;
    const sessionId = request.headers["mcp-session-id"];
    let transport = typeof sessionId === "string" ? this.sessions.get(sessionId) : undefined;
    if (!transport) {
      if (typeof sessionId === "string" || (body as { method?: string } | undefined)?.method !== "initialize") {
        response
          .writeHead(404, { "content-type": "application/json" })
          .end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }));
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          this.sessions.set(id, created);
        },
      });
      await createFixtureServer("http").connect(created);
      transport = created;
    }
    await transport.handleRequest(request, response, body);
  }
}

let clients: McpClients | undefined;
let httpServer: HttpMcpServer | undefined;
afterEach(async () => {
  await clients?.close();
  await httpServer?.stop();
  clients = undefined;
  httpServer = undefined;
});

describe("MCP over stdio", () => {
  const config = mcpConfigSchema.parse({
    servers: { files: { command: process.execPath, args: [FIXTURE, "stdio"], env: { FIXTURE_GREETING: "env:LOCALAGENT_TEST_GREETING" } } },
  });

  it("starts the server on first use, lists its tools as SERVER__TOOL, and the model calls them", async () => {
    clients = new McpClients({ config, logger: createSilentLogger(), env: { ...process.env, LOCALAGENT_TEST_GREETING: "hi" } });
    expect(clients.isConnected("files")).toBe(false);
    const tools = await asAgentTools(clients, "mcp:files");
    expect(tools.map((tool) => tool.definition.name).sort()).toEqual(["files__add", "files__fail", "files__whoami"]);
    expect(tools.find((tool) => tool.definition.name === "files__add")?.definition.parameters).toMatchObject({
      type: "object",
      properties: { a: { type: "number" }, b: { type: "number" } },
    });
    const model = new ScriptedModel([
      {
        toolCalls: [
          { name: "files__add", arguments: { a: 2, b: 3 } },
          { name: "files__fail", arguments: { why: "testing" } },
          { name: "files__add", arguments: { a: "two", b: 3 } },
          { name: "files__whoami", arguments: {} },
        ],
      },
      { text: "done" },
    ]);
    const result = await runAgentLoop({ model, messages: [{ role: "user", content: "add" }], tools });
    expect(result.outcome).toBe("stop");
    const [sum, failed, invalid, whoami] = toolResultsOf(model.requests[1]);
    expect(sum).toBe("5");
    expect(failed).toBe("error: MCP tool files/fail failed: failed because testing");
    expect(invalid).toBe("error: invalid arguments for files__add: arguments.a must be number");
    // env: values reach the server, env:NAME read from the daemon's environment.
    expect(whoami).toMatch(/^stdio:\d+:hi$/);
  });

  it("narrows to one tool with mcp:SERVER/TOOL and names what exists when the tool is not there", async () => {
    clients = new McpClients({ config, logger: createSilentLogger(), env: { LOCALAGENT_TEST_GREETING: "x" } });
    expect((await clients.tools("mcp:files/add")).map((tool) => tool.definition.name)).toEqual(["files__add"]);
    await expect(clients.tools("mcp:files/nope")).rejects.toThrow('MCP server "files" has no tool "nope"; it offers: add, whoami, fail');
    await expect(clients.tools("mcp:other")).rejects.toThrow('MCP server "other" is not configured under mcp.servers (configured: files)');
  });

  it("says which variable is missing when an env: value cannot be resolved", async () => {
    clients = new McpClients({ config, logger: createSilentLogger(), env: {} });
    await expect(clients.tools("mcp:files")).rejects.toThrow(
      "mcp.servers.files.env.FIXTURE_GREETING: environment variable LOCALAGENT_TEST_GREETING is not set",
    );
  });

  it("starts the server again after it died, and stops it on close", async () => {
    clients = new McpClients({ config, logger: createSilentLogger(), env: { LOCALAGENT_TEST_GREETING: "x" } });
    const first = String(await clients.call("files", "whoami", {}));
    const firstPid = Number(first.split(":")[1]);
    process.kill(firstPid, "SIGKILL");
    await until(() => !clients!.isConnected("files"));
    const second = String(await clients.call("files", "whoami", {}));
    const secondPid = Number(second.split(":")[1]);
    expect(secondPid).not.toBe(firstPid);
    expect(alive(secondPid)).toBe(true);
    await clients.close();
    await until(() => !alive(secondPid));
    await expect(clients.call("files", "whoami", {})).rejects.toThrow("the MCP clients are closed");
  });
});

describe("MCP over Streamable HTTP", () => {
  it("calls a remote server with the configured headers, and opens a new session after the server lost it", async () => {
    httpServer = new HttpMcpServer();
    await httpServer.start();
    const config = mcpConfigSchema.parse({
      servers: { remote: { url: httpServer.url, headers: { "x-api-key": "env:LOCALAGENT_TEST_MCP_KEY" } } },
    });
    clients = new McpClients({ config, logger: createSilentLogger(), env: { LOCALAGENT_TEST_MCP_KEY: "k-123" } });
    const tools = await asAgentTools(clients, "mcp:remote");
    const model = new ScriptedModel([{ toolCalls: [{ name: "remote__add", arguments: { a: 20, b: 22 } }] }, { text: "ok" }]);
    await runAgentLoop({ model, messages: [{ role: "user", content: "add" }], tools });
    expect(toolResultsOf(model.requests[1])).toEqual(["42"]);

    await httpServer.forgetSessions();
    // The call on the lost session fails (the model reads the error), the next one reconnects.
    await expect(clients.call("remote", "add", { a: 1, b: 1 })).rejects.toThrow(/^MCP server "remote", tool add: /);
    await expect(clients.call("remote", "add", { a: 1, b: 1 })).resolves.toBe("2");
  });

  it("reports a server it cannot reach or that refuses the key, naming it", async () => {
    httpServer = new HttpMcpServer();
    await httpServer.start();
    const config = mcpConfigSchema.parse({ servers: { remote: { url: httpServer.url, headers: { "x-api-key": "wrong" } } } });
    clients = new McpClients({ config, logger: createSilentLogger() });
    await expect(clients.tools("mcp:remote")).rejects.toThrow(
      `MCP server "remote" (http://127.0.0.1:${httpServer.port}) could not be reached: `,
    );
  });
});

describe("mcp: config", () => {
  it("refuses bad server names and a bad URL, with the path", () => {
    const bad = mcpConfigSchema.safeParse({ servers: { "bad name": { command: "x" }, web: { url: "not a url" } } });
    expect(bad.success).toBe(false);
    const paths = bad.error?.issues.map((issue) => issue.path.join("."));
    expect(paths).toEqual(["servers.bad name", "servers.web.url"]);
  });
});
