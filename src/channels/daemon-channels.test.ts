import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitFor } from "../../test/helpers/index.js";
import { loadConfig } from "../config/index.js";
import { Daemon } from "../daemon/index.js";
import { createSilentLogger } from "../logger/index.js";
import type { ChannelInfo } from "./manager.js";

describe("channels in the daemon", () => {
  let dir: string;
  let daemon: Daemon | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "localagent-daemon-channels-"));
    mkdirSync(join(dir, "config", "workflows"), { recursive: true });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(configYaml: string, platformConfig?: string): Promise<Daemon> {
    writeFileSync(join(dir, "config", "config.yaml"), configYaml);
    const config = loadConfig({
      configDir: join(dir, "config"),
      dataDir: join(dir, "data"),
      port: 0,
      ...(platformConfig ? { platformConfig } : {}),
      env: {},
    });
    daemon = new Daemon({ config, logger: createSilentLogger(), serve: false });
    await daemon.start();
    return daemon;
  }

  it("a broken platforms.json is reported as a failed entry (file and JSON path); the daemon and the other channels run", async () => {
    const file = join(dir, "platforms.json");
    writeFileSync(file, JSON.stringify({ platforms: [{ name: "telegram", auth: 42 }] }));
    const started = await start("platforms:\n  - { name: web, type: webchat }\n", file);
    const list: ChannelInfo[] = started.channels?.list() ?? [];
    expect(list).toEqual([
      expect.objectContaining({ name: "web", status: "running" }),
      expect.objectContaining({
        name: "platforms.json",
        status: "failed",
        error: expect.stringContaining(`${file}: platforms[0].auth:`) as unknown,
      }),
    ]);
    expect(started.health().status).toBe("ok");
  });

  it("routes a notification step with platform: NAME to the channel, and queues it while the channel cannot send", async () => {
    writeFileSync(
      join(dir, "config", "workflows", "alert.yaml"),
      [
        "workflow:",
        "  name: alert",
        "  trigger: manual",
        "  tasks:",
        "    - name: tell",
        "      type: notification",
        "      platform: web",
        '      message: "hello {{ 1 + 1 }}"',
        "",
      ].join("\n"),
    );
    const started = await start("platforms:\n  - { name: web, type: webchat, chat_id: wc_owner }\nnotifications:\n  web: { type: log }\n");
    const run = (await started.runWorkflow("alert", {}, true)) as { status: string; steps: Array<{ output: unknown }> };
    expect(run.status).toBe("succeeded");
    expect(run.steps[0]?.output).toMatchObject({ destination: "channel:web:wc_owner" });
    // Nobody is connected to the chat: the delivery waits in the outbox, retried.
    await waitFor(() => (started.listDeliveries("pending") as Array<{ attempts: number }>).some((delivery) => delivery.attempts >= 1));
    const pending = started.listDeliveries("pending") as Array<Record<string, unknown>>;
    expect(pending[0]).toMatchObject({
      kind: "channel",
      destination: "channel:web:wc_owner",
      last_error: "no web chat client connected to chat wc_owner",
    });
  });
});
