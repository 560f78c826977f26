import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { callApi, makeTempDir, startDaemon, waitFor, writeConfigDir } from "../helpers/index.js";

/** --model-path on the command line registers the model `default` exactly as `model_path:` in config.yaml does. */
describe("localagent start --model-path with routing: naming default", () => {
  const temp = makeTempDir("localagent-model-path-");
  afterAll(() => temp.cleanup());

  it("starts (the config check knows the command line's model), and a SIGHUP reload keeps it", async () => {
    const configDir = writeConfigDir(join(temp.dir, "config"), {
      config: ["log_level: info", "routing:", "  general: [default]", "  summarize: [default]", ""].join("\n"),
      workflows: {},
    });
    const daemon = await startDaemon({ configDir, dataDir: join(temp.dir, "data"), args: ["--model-path", join(temp.dir, "tiny.gguf")] });
    try {
      const overview = await callApi(daemon.url, "GET", "/api/models");
      expect(overview.status).toBe(200);
      expect(JSON.stringify(overview.body)).toContain("default");
      // A reload (SIGHUP) reads config.yaml again: with the command line's model still known.
      writeFileSync(
        join(configDir, "config.yaml"),
        ["log_level: info", "routing:", "  general: [default]", "  triage: [default]", ""].join("\n"),
      );
      daemon.child.kill("SIGHUP");
      await waitFor(
        async () =>
          daemon.output().includes("model config not applied") ||
          JSON.stringify((await callApi(daemon.url, "GET", "/api/models")).body).includes("triage"),
      );
      expect(daemon.output()).not.toMatch(/model config not applied|no model named/);
      expect((await callApi(daemon.url, "GET", "/healthz")).status).toBe(200);
    } finally {
      expect(await daemon.stop("SIGTERM")).toBe(0);
    }
  });
});
