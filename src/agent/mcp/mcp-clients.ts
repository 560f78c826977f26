import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { ExternalTool, ExternalToolSource } from "../../engine/index.js";
import { errorMessage, LocalAgentError } from "../../errors/index.js";
import type { Logger } from "../../logger/index.js";
import { resolveEnvValue, type McpConfig, type McpServerConfig } from "./mcp-config.js";

/** How tool names reach the model: `SERVER__TOOL`, in the characters every provider accepts. */
export function mcpToolName(server: string, tool: string): string {
  return `${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
}

interface Connection {
  client: Client;
  tools: Array<{ name: string; description?: string; inputSchema: Record<string, unknown> }>;
  closed: boolean;
}

export interface McpClientsOptions {
  config: McpConfig;
  logger: Logger;
  /** Where `env:NAME` values come from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Milliseconds a connect or list may take (default 30 s). */
  connectTimeoutMs?: number;
}

/**
 * The MCP servers of config.yaml, as a tool source for the agent loop. Each server is connected
 * on first use (stdio: the program is started; HTTP: a Streamable HTTP session), its tools listed
 * once per connection, and a connection that dies (the program exits, the HTTP session is lost,
 * a call fails at the transport) is dropped, so the next use connects again. `close` ends them all.
 */
export class McpClients implements ExternalToolSource {
  private readonly connections = new Map<string, Promise<Connection>>();
  /** The connections that are up, to drop them synchronously when they close. */
  private readonly live = new Map<string, Connection>();
  private closed = false;

  constructor(private readonly options: McpClientsOptions) {}

  /** The configured server names. */
  get servers(): string[] {
    return Object.keys(this.options.config.servers);
  }

  async tools(selector: string, signal?: AbortSignal): Promise<ExternalTool[]> {
    const match = /^mcp:([^/]+)(?:\/(.+))?$/.exec(selector);
    if (!match) throw new LocalAgentError("config_invalid", `"${selector}" is not an MCP tool selector (mcp:SERVER or mcp:SERVER/TOOL)`);
    const server = match[1] as string;
    const only = match[2];
    const connection = await this.connection(server, signal);
    const listed = only === undefined ? connection.tools : connection.tools.filter((tool) => tool.name === only);
    if (only !== undefined && listed.length === 0) {
      throw new LocalAgentError(
        "config_invalid",
        `MCP server "${server}" has no tool "${only}"; it offers: ${connection.tools.map((tool) => tool.name).join(", ") || "none"}`,
      );
    }
    return listed.map((tool) => ({
      definition: {
        name: mcpToolName(server, tool.name),
        description: tool.description ?? `${tool.name} (MCP server ${server})`,
        parameters: tool.inputSchema,
      },
      call: (args, callSignal) => this.call(server, tool.name, args, callSignal),
    }));
  }

  /** Whether the server is connected now (it connects on first use, and again after it died). */
  isConnected(server: string): boolean {
    const connection = this.live.get(server);
    return connection !== undefined && !connection.closed;
  }

  /** Calls a tool; its text content is the result, `isError` results and dead connections are errors. */
  async call(server: string, tool: string, args: Record<string, unknown>, signal?: AbortSignal): Promise<unknown> {
    const connection = await this.connection(server, signal);
    let result: Awaited<ReturnType<Client["callTool"]>>;
    try {
      result = await connection.client.callTool({ name: tool, arguments: args }, undefined, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) throw error;
      // Whatever broke (server gone, session lost), the next call starts a fresh connection.
      this.drop(server, connection);
      throw new LocalAgentError("step_failed", `MCP server "${server}", tool ${tool}: ${errorMessage(error)}`, {
        retryable: true,
        cause: error,
      });
    }
    const text = contentText(result.content);
    if (result.isError === true) throw new LocalAgentError("step_failed", `MCP tool ${server}/${tool} failed: ${text || "no message"}`);
    if (text === "" && result.structuredContent !== undefined) return result.structuredContent;
    return text;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.connections.values()];
    this.connections.clear();
    this.live.clear();
    await Promise.all(
      pending.map(async (promise) => {
        const connection = await promise.catch(() => undefined);
        if (!connection) return;
        connection.closed = true;
        await connection.client
          .close()
          .catch((error: unknown) => this.options.logger.warn({ err: error }, "MCP client did not close cleanly"));
      }),
    );
  }

  private connection(server: string, signal?: AbortSignal): Promise<Connection> {
    if (this.closed) return Promise.reject(new LocalAgentError("unavailable", "the MCP clients are closed (the daemon is stopping)"));
    const config = this.options.config.servers[server];
    if (!config) {
      const known = this.servers.join(", ") || "none";
      return Promise.reject(
        new LocalAgentError("config_invalid", `MCP server "${server}" is not configured under mcp.servers (configured: ${known})`),
      );
    }
    const existing = this.connections.get(server);
    if (existing) return existing;
    const created = this.connect(server, config, signal);
    this.connections.set(server, created);
    created.catch(() => {
      if (this.connections.get(server) === created) this.connections.delete(server);
    });
    return created;
  }

  private drop(server: string, connection: Connection): void {
    this.forget(server, connection);
    void connection.client.close().catch(() => undefined);
  }

  private forget(server: string, connection: Connection): void {
    connection.closed = true;
    if (this.live.get(server) !== connection) return;
    this.live.delete(server);
    this.connections.delete(server);
  }

  private async connect(server: string, config: McpServerConfig, signal?: AbortSignal): Promise<Connection> {
    const { Client: ClientClass } = await import("@modelcontextprotocol/sdk/client/index.js");
    const client = new ClientClass({ name: "localagent", version: "1" });
    const where = `mcp.servers.${server}`;
    const env = this.options.env ?? process.env;
    const timeout = this.options.connectTimeoutMs ?? 30_000;
    let transport;
    if ("command" in config) {
      const { StdioClientTransport, getDefaultEnvironment } = await import("@modelcontextprotocol/sdk/client/stdio.js");
      const extra = Object.fromEntries(
        Object.entries(config.env ?? {}).map(([key, value]) => [key, resolveEnvValue(value, `${where}.env.${key}`, env)]),
      );
      const stdio = new StdioClientTransport({
        command: config.command,
        args: config.args ?? [],
        env: { ...getDefaultEnvironment(), ...extra },
        ...(config.cwd ? { cwd: config.cwd } : {}),
        stderr: "pipe",
      });
      stdio.stderr?.on("data", (chunk: Buffer) =>
        this.options.logger.debug({ server, stderr: chunk.toString("utf8").trimEnd() }, "MCP server stderr"),
      );
      transport = stdio;
    } else {
      const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
      const headers = Object.fromEntries(
        Object.entries(config.headers ?? {}).map(([key, value]) => [key, resolveEnvValue(value, `${where}.headers.${key}`, env)]),
      );
      transport = new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers } });
    }
    const connection: Connection = { client, tools: [], closed: false };
    client.onclose = () => {
      if (connection.closed) return;
      this.options.logger.warn({ server }, "MCP server connection closed; it reconnects on next use");
      this.forget(server, connection);
    };
    const options = { timeout, ...(signal ? { signal } : {}) };
    try {
      await client.connect(transport, options);
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, options);
        connection.tools.push(...page.tools.map((tool) => ({ ...tool, inputSchema: tool.inputSchema })));
        cursor = page.nextCursor;
      } while (cursor);
    } catch (error) {
      connection.closed = true;
      await client.close().catch(() => undefined);
      const origin = "url" in config ? new URL(config.url).origin : config.command;
      throw new LocalAgentError("unavailable", `MCP server "${server}" (${origin}) could not be reached: ${errorMessage(error)}`, {
        retryable: true,
        cause: error,
      });
    }
    if (connection.closed) {
      throw new LocalAgentError("unavailable", `MCP server "${server}" closed the connection right after connecting`, { retryable: true });
    }
    this.live.set(server, connection);
    this.options.logger.info({ server, tools: connection.tools.length }, "MCP server connected");
    return connection;
  }
}

function contentText(content: unknown): string {
  if (!Array.isArray(content)) return "";
  return content
    .map((part: { type?: string; text?: string; resource?: { text?: string } }) => {
      if (part.type === "text") return part.text ?? "";
      if (part.type === "resource" && typeof part.resource?.text === "string") return part.resource.text;
      return `[${part.type ?? "content"}]`;
    })
    .join("\n");
}
