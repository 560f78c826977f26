import { z } from "zod";

const serverName = /^[A-Za-z0-9_-]+$/;

const stdioServerSchema = z
  .object({
    command: z.string().min(1).describe("Program that speaks MCP on its stdin/stdout"),
    args: z.array(z.string()).optional(),
    env: z
      .record(z.string(), z.string())
      .optional()
      .describe("Added to a minimal environment; a value env:NAME is read from the daemon's environment"),
    cwd: z.string().optional(),
  })
  .strict();

const httpServerSchema = z
  .object({
    url: z.string().url().describe("Streamable HTTP endpoint, e.g. http://127.0.0.1:3001/mcp"),
    headers: z.record(z.string(), z.string()).optional().describe("Sent with every request; a value env:NAME is read from the environment"),
  })
  .strict();

export const mcpServerSchema = z.union([stdioServerSchema, httpServerSchema]);

/** config.yaml `mcp:`: the MCP servers whose tools an `ai` step may name (`tools: [mcp:NAME]`). */
export const mcpConfigSchema = z
  .object({
    servers: z
      .record(z.string().regex(serverName, "server names use letters, digits, _ and -"), mcpServerSchema)
      .describe("By name: { command, args, env, cwd } (stdio) or { url, headers } (Streamable HTTP)"),
  })
  .strict();

export type McpServerConfig = z.infer<typeof mcpServerSchema>;
export type McpConfig = z.infer<typeof mcpConfigSchema>;

/** `env:NAME` read from the environment; anything else as written. A missing variable is an error naming where. */
export function resolveEnvValue(value: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!value.startsWith("env:")) return value;
  const name = value.slice(4);
  const resolved = env[name];
  if (resolved === undefined) throw new Error(`${where}: environment variable ${name} is not set`);
  return resolved;
}
