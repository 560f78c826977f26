import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectIsolation } from "../../src/sandbox/index.js";
import { callApi, makeTempDir, runCli, startDaemon, writeConfigDir, type DaemonProcess, type Json } from "../helpers/index.js";

async function serve(name: string): Promise<[Server, number]> {
  const server = createServer((request, response) => response.end(`${name} ${request.url}`));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return [server, (server.address() as AddressInfo).port];
}

describe("egress control through the daemon", () => {
  const temp = makeTempDir("localagent-egress-e2e-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  let daemon: DaemonProcess;
  let allowed: Server;
  let other: Server;
  let allowedPort: number;
  let otherPort: number;

  beforeAll(async () => {
    [allowed, allowedPort] = await serve("allowed");
    [other, otherPort] = await serve("other");
    writeConfigDir(configDir, {
      config: "server: {}\n",
      workflows: {
        "fetch.yaml": [
          "name: fetch",
          "steps:",
          "  - name: through_proxy",
          "    type: shell",
          `    command: "curl -fsS http://127.0.0.1:${allowedPort}/ok; echo; curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:${otherPort}/no"`,
          `    network: ["127.0.0.1:${allowedPort}"]`,
          "  - name: api",
          "    type: http",
          `    url: "http://127.0.0.1:${allowedPort}/api"`,
          `    network: ["127.0.0.1:${allowedPort}"]`,
          "  - name: refused",
          "    type: http",
          `    url: "http://127.0.0.1:${otherPort}/api"`,
          `    network: ["127.0.0.1:${allowedPort}"]`,
          "",
        ].join("\n"),
      },
    });
    daemon = await startDaemon({ configDir, dataDir });
  });

  afterAll(async () => {
    await daemon?.stop();
    allowed.close();
    other.close();
    temp.cleanup();
  });

  it("lets a shell step reach its listed host through the proxy, refuses others, and audits every connection", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/workflows/fetch/run?wait=1");
    expect(answer.status).toBe(200);
    const run: Json = answer.body;
    const steps: Json[] = run.steps;
    const byName = (name: string): Json => steps.find((step) => step.path === name);
    expect(byName("through_proxy")).toMatchObject({ status: "succeeded", output: `allowed /ok\n403` });
    expect(byName("api")).toMatchObject({ status: "succeeded" });
    expect(byName("refused").status).toBe("failed");
    expect(JSON.stringify(byName("refused"))).toContain(
      `network access refused: 127.0.0.1:${otherPort} is not in the step's network allow-list`,
    );
    expect(run.status).toBe("failed");

    const tail = await runCli(["audit", "export", "--config", configDir, "--data-dir", dataDir]);
    expect(tail.code).toBe(0);
    const entries: Json[] = (JSON.parse(tail.stdout) as Json[]).filter((entry) => entry.type === "egress-connection");
    expect(entries.map((entry) => [entry.actor.step, entry.details.via, entry.details.decision, entry.details.port])).toEqual([
      ["through_proxy", "http", "allow", allowedPort],
      ["through_proxy", "http", "deny", otherPort],
      ["api", "http-step", "allow", allowedPort],
      ["refused", "http-step", "deny", otherPort],
    ]);
    expect(entries[0].details.bytesDown).toBe("allowed /ok".length);
    expect(entries[0].actor.workflow).toBe("fetch");
    const verify = await runCli(["audit", "verify", "--config", configDir, "--data-dir", dataDir]);
    expect(verify.code).toBe(0);
  });
});

const isolation = inspectIsolation();
const noSandbox = isolation.bwrap.usable ? undefined : isolation.bwrap.reason;
if (noSandbox) console.warn(`skipping the sandboxed egress e2e test: ${noSandbox}`);

describe.skipIf(noSandbox !== undefined)("egress control inside the sandbox (binding, not advisory)", () => {
  const temp = makeTempDir("localagent-egress-sandbox-e2e-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  let daemon: DaemonProcess;
  let allowed: Server;
  let allowedPort: number;

  beforeAll(async () => {
    [allowed, allowedPort] = await serve("allowed");
    const url = `http://127.0.0.1:${allowedPort}`;
    writeConfigDir(configDir, {
      config: "sandbox:\n  mode: required\n",
      workflows: {
        "boxed.yaml": [
          "name: boxed",
          "steps:",
          "  - name: via_proxy",
          "    type: shell",
          `    command: "curl -fsS ${url}/boxed"`,
          `    network: ["127.0.0.1:${allowedPort}"]`,
          "  - name: bypass",
          "    type: shell",
          // Ignoring the proxy variables does not help: the sandbox has no network of its own.
          `    command: "curl -sS --noproxy '*' --max-time 5 ${url}/direct || echo bypass failed"`,
          `    network: ["127.0.0.1:${allowedPort}"]`,
          "",
        ].join("\n"),
      },
    });
    daemon = await startDaemon({ configDir, dataDir });
  });

  afterAll(async () => {
    await daemon?.stop();
    allowed.close();
    temp.cleanup();
  });

  it("reaches the listed host only through the proxy socket; a program ignoring the proxy gets nowhere", async () => {
    const answer = await callApi(daemon.url, "POST", "/api/workflows/boxed/run?wait=1");
    const steps: Json[] = answer.body.steps;
    expect(steps.map((step) => [step.path, step.status])).toEqual([
      ["via_proxy", "succeeded"],
      ["bypass", "succeeded"],
    ]);
    expect(steps[0].output).toBe("allowed /boxed");
    expect(steps[1].output).toContain("bypass failed");
    const exported = await runCli(["audit", "export", "--config", configDir, "--data-dir", dataDir]);
    const egress = (JSON.parse(exported.stdout) as Json[]).filter((entry) => entry.type === "egress-connection");
    expect(egress.map((entry) => [entry.actor.step, entry.details.decision])).toEqual([["via_proxy", "allow"]]);
  });
});
