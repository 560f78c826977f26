import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../config/index.js";
import { LocalAgentError } from "../errors/index.js";
import { loadPlatforms, requireToken } from "./platform-config.js";

const SEED = {
  platforms: [
    { name: "telegram", auth: "BOT_TOKEN", webhook: "https://example.com/api/telegram", message_parser: "markdown_v2" },
    { name: "enterprise_im", auth: { app_id: "cli_123", app_secret: "shh-secret-value" }, proxy: "socks5://proxy-server:1080" },
  ],
};

describe("platforms config", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-platforms-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const write = (value: unknown): string => {
    const file = join(dir, "platforms.json");
    writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value, null, 2));
    return file;
  };

  it("loads the seed's platforms.json exactly, placeholder token included, and picks kinds by name", () => {
    const { platforms, secrets } = loadPlatforms({ file: write(SEED), env: {} });
    expect(platforms.map((platform) => [platform.name, platform.kind])).toEqual([
      ["telegram", "telegram"],
      ["enterprise_im", "feishu"],
    ]);
    expect(platforms[0]).toMatchObject({ auth: "BOT_TOKEN", webhook: "https://example.com/api/telegram", message_parser: "markdown_v2" });
    expect(platforms[1]).toMatchObject({
      auth: { app_id: "cli_123", app_secret: "shh-secret-value" },
      proxy: "socks5://proxy-server:1080",
    });
    expect(platforms[0]?.error).toBeUndefined();
    // The app secret is redacted; the app id is not a secret.
    expect(secrets).toContain("shh-secret-value");
    expect(secrets).not.toContain("cli_123");
    // The placeholder fails only when the adapter asks for the token, with a clear message.
    expect(() => requireToken(platforms[0]!)).toThrow(/"BOT_TOKEN" is the example placeholder/);
  });

  it("resolves env:NAME and file:/path, and marks a platform whose secret is missing instead of failing the load", () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "123:from-file\n");
    const { platforms, secrets } = loadPlatforms({
      file: write({
        platforms: [
          { name: "telegram", auth: "env:TG_TOKEN", chat_id: 42, allow_users: [7, "8"] },
          { name: "hook", type: "webhook", secret: `file:${tokenFile}` },
          { name: "other", type: "telegram", auth: "env:MISSING_TOKEN" },
        ],
      }),
      env: { TG_TOKEN: "123:abc-token" },
    });
    expect(platforms[0]).toMatchObject({ auth: "123:abc-token", chat_id: "42", allow_users: [7, "8"] });
    expect(platforms[1]).toMatchObject({ kind: "webhook", secret: "123:from-file" });
    expect(platforms[2]?.error).toMatch(/platforms\[2\]\.auth: environment variable MISSING_TOKEN is not set/);
    expect(secrets).toEqual(expect.arrayContaining(["123:abc-token", "123:from-file"]));
  });

  it("names the file and JSON path of a bad entry", () => {
    const file = write({ platforms: [{ name: "telegram", auth: 5 }, { auth: "x" }, { name: "t2", type: "telegram", alow_users: [] }] });
    let error: unknown;
    try {
      loadPlatforms({ file, env: {} });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LocalAgentError);
    const message = (error as LocalAgentError).message;
    expect(message).toContain(`${file}: platforms[0].auth:`);
    expect(message).toContain(`${file}: platforms[1].name:`);
    expect(message).toContain(`${file}: platforms[2].alow_users: unknown field`);
  });

  it("reports JSON syntax errors, a missing file, duplicate names and unknown kinds", () => {
    expect(() => loadPlatforms({ file: write("{ platforms: "), env: {} })).toThrow(/platforms\.json: not valid JSON/);
    expect(() => loadPlatforms({ file: join(dir, "nope.json"), env: {} })).toThrow(/nope\.json: cannot read the platform config/);
    expect(() => loadPlatforms({ file: write({ platforms: [{ name: "telegram" }, { name: "telegram" }] }), env: {} })).toThrow(
      /platforms\[1\]: name "telegram" is already used by .*platforms\[0\]/,
    );
    const { platforms } = loadPlatforms({ file: write({ platforms: [{ name: "slack" }] }), env: {} });
    expect(platforms[0]?.error).toMatch(/"slack" is not a known platform kind: add type:/);
  });

  it("validates platforms: in config.yaml with file:line:column and loads the list", () => {
    writeFileSync(
      join(dir, "config.yaml"),
      ["platforms:", "  - name: telegram", "    auth: BOT_TOKEN", "    message_parser: rtf", ""].join("\n"),
    );
    expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(/config\.yaml:4:\d+: platforms/);
    writeFileSync(join(dir, "config.yaml"), ["platforms:", "  - { name: webchat }", ""].join("\n"));
    const config = loadConfig({ configDir: dir, env: {} });
    const { platforms } = loadPlatforms({ inline: config.extensions.platforms, env: {} });
    expect(platforms).toMatchObject([{ name: "webchat", kind: "webchat", where: "config.yaml: platforms[0]" }]);
  });
});
