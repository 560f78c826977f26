import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  callApi,
  makeTempDir,
  Receiver,
  startDaemon,
  waitFor,
  waitForRun,
  writeConfigDir,
  type DaemonProcess,
  type Json,
} from "../helpers/index.js";

const COUNT = 100;

describe("receiver outage", () => {
  const temp = makeTempDir("localagent-outage-");
  const configDir = join(temp.dir, "config");
  const dataDir = join(temp.dir, "data");
  const receiver = new Receiver();
  let daemon: DaemonProcess | undefined;

  afterAll(async () => {
    await daemon?.stop("SIGKILL");
    await receiver.stop();
    temp.cleanup();
  });

  it("queues 100 notifications while the receiver is down and delivers them exactly once, in order, when it is back", async () => {
    // Take a port, then go down: the daemon's webhook now meets a refused connection.
    await receiver.start();
    const port = receiver.port;
    await receiver.stop();
    writeConfigDir(configDir, {
      config: [
        "notifications:",
        `  hook: { type: webhook, url: "${receiver.url}" }`,
        "outbox: { backoff: 100ms, max_backoff: 1s }",
        "",
      ].join("\n"),
      workflows: {
        "burst.yaml": [
          "workflow:",
          "  name: burst",
          "  trigger: manual",
          "  tasks:",
          "    - name: numbers",
          "      type: shell",
          `      command: seq 1 ${COUNT}`,
          "    - name: each",
          "      type: foreach",
          '      items: "{{ output }}"',
          "      steps:",
          "        - name: notify",
          "          type: notification",
          "          platform: hook",
          '          message: "item {{ item }} (index {{ index }})"',
          "",
        ].join("\n"),
      },
    });
    daemon = await startDaemon({ configDir, dataDir, env: { LOCALAGENT_LOG_LEVEL: "error" } });
    const started = await callApi(daemon.url, "POST", "/api/workflows/burst/run?wait=1", {});
    expect(started.status).toBe(200);
    expect(started.body.status).toBe("succeeded");
    const runId = String(started.body.run_id ?? started.body.id);

    // They wait: all queued, the head retried with backoff, nothing arrived.
    let deliveries: Json[] = [];
    await waitFor(async () => {
      deliveries = (await callApi(daemon!.url, "GET", "/api/outbox")).body.deliveries;
      return deliveries.length === COUNT && (deliveries[0]?.attempts ?? 0) >= 2;
    }, 10_000);
    expect(deliveries.every((delivery) => delivery.status === "pending")).toBe(true);
    expect(deliveries[0].last_error).toMatch(/unreachable/);
    expect(deliveries[0].destination).toBe(`webhook:${receiver.url}`);
    expect(deliveries.slice(1).every((delivery) => delivery.attempts === 0)).toBe(true);
    const pending = (await callApi(daemon.url, "GET", "/api/outbox?status=pending")).body.deliveries;
    expect(pending).toHaveLength(COUNT);
    expect(receiver.requests).toHaveLength(0);

    // A restart while the receiver is still down loses nothing.
    expect(await daemon.stop("SIGTERM")).toBe(0);
    daemon = await startDaemon({ configDir, dataDir, env: { LOCALAGENT_LOG_LEVEL: "error" } });
    expect((await callApi(daemon.url, "GET", "/api/outbox?status=pending")).body.deliveries).toHaveLength(COUNT);

    // The receiver comes back on the same port, first answering 503 (not taken: retried), then 200.
    receiver.status = 503;
    await receiver.start(port);
    await waitFor(async () => {
      const head = (await callApi(daemon!.url, "GET", "/api/outbox?status=pending")).body.deliveries[0];
      return /answered 503/.test(String(head?.last_error));
    }, 10_000);
    expect(receiver.requests).toHaveLength(0);
    receiver.status = 200;
    await waitFor(() => receiver.requests.length >= COUNT, 20_000);
    await waitFor(async () => {
      deliveries = (await callApi(daemon!.url, "GET", "/api/outbox")).body.deliveries;
      return deliveries.every((delivery) => delivery.status === "delivered");
    }, 10_000);
    // Give a stray duplicate a moment to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(receiver.requests).toHaveLength(COUNT);
    const messages = receiver.requests.map((request) => (request.body as { message: string }).message);
    expect(messages).toEqual(Array.from({ length: COUNT }, (_, index) => `item ${index + 1} (index ${index})`));
    const keys = receiver.requests.map((request) => request.headers["idempotency-key"]);
    expect(keys).toEqual(Array.from({ length: COUNT }, (_, index) => `${runId}:each[${index}].notify`));
    expect(new Set(keys).size).toBe(COUNT);
    expect(deliveries[0].attempts).toBeGreaterThanOrEqual(2);
    expect(deliveries.every((delivery) => delivery.delivered_at !== null && delivery.next_attempt_at === null)).toBe(true);
    expect((await callApi(daemon.url, "GET", "/api/outbox?status=pending")).body.deliveries).toEqual([]);
    expect((await waitForRun(daemon.url, runId)).status).toBe("succeeded");
  }, 60_000);
});
