// bench/feishu: messages sent through the Feishu adapter (dist/) to a local open-platform stand-in
// (token + im/v1/messages on 127.0.0.1), direct and through a local SOCKS5 proxy (CONNECT, no auth),
// BENCH_MESSAGES messages at BENCH_CONCURRENCY in flight. Prints messages/s, p50/p99 latency of
// each path and the proxy/direct ratio; the proxy's tunnel count shows whether connections are reused.
import { createServer } from "node:http";
import { createConnection, createServer as createTcpServer } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { log, printResult, ROOT, round } from "../support/index.js";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);

function startPlatform() {
  let sent = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const body =
        request.url === "/open-apis/auth/v3/tenant_access_token/internal"
          ? { code: 0, tenant_access_token: "t-bench", expire: 7200 }
          : { code: 0, msg: "success", data: { message_id: `om_${++sent}` } };
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port })));
}

/** SOCKS5, no authentication, CONNECT only: enough to measure the tunnel's cost. */
function startSocks() {
  const stats = { tunnels: 0 };
  const server = createTcpServer((client) => {
    client.on("error", () => client.destroy());
    client.once("data", () => {
      client.write(Buffer.from([5, 0]));
      client.once("data", (request) => {
        const length = request[4];
        const host = request[3] === 3 ? request.subarray(5, 5 + length).toString() : [...request.subarray(4, 8)].join(".");
        const port = request.readUInt16BE(request[3] === 3 ? 5 + length : 8);
        const upstream = createConnection({ host, port }, () => {
          stats.tunnels += 1;
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          client.pipe(upstream).pipe(client);
        });
        upstream.on("error", () => client.destroy());
        client.on("close", () => upstream.destroy());
      });
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port, stats })));
}

async function run(FeishuChannel, baseUrl, proxy) {
  const channel = new FeishuChannel({ name: "bench", appId: "cli_0123456789abcdef", appSecret: "s", baseUrl, mode: "webhook", proxy });
  await channel.start({ receive: async () => undefined });
  await channel.sendMessage({ chatId: "oc_bench", text: "warm-up" });
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < MESSAGES) {
        next += 1;
        const at = performance.now();
        await channel.sendMessage({ chatId: "oc_bench", text: `message ${next}` });
        latencies.push(performance.now() - at);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await channel.stop();
  latencies.sort((a, b) => a - b);
  const at = (p) => round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))], 2);
  return { messages_per_s: round(MESSAGES / seconds, 0), p50_ms: at(50), p99_ms: at(99) };
}

const { FeishuChannel } = await import(pathToFileURL(join(ROOT, "dist", "channels", "feishu", "index.js")).href);
const platform = await startPlatform();
const socks = await startSocks();
const baseUrl = `http://127.0.0.1:${platform.port}`;
log(`bench/feishu: ${MESSAGES} messages, ${CONCURRENCY} in flight`);
const direct = await run(FeishuChannel, baseUrl, undefined);
log(`direct: ${JSON.stringify(direct)}`);
const proxied = await run(FeishuChannel, baseUrl, `socks5://127.0.0.1:${socks.port}`);
log(`socks5: ${JSON.stringify(proxied)} (${socks.stats.tunnels} tunnels)`);
platform.server.close();
socks.server.close();
printResult({
  bench: "feishu",
  messages: MESSAGES,
  concurrency: CONCURRENCY,
  direct,
  socks5: { ...proxied, tunnels: socks.stats.tunnels },
  ratio_socks5_vs_direct: round(proxied.messages_per_s / direct.messages_per_s, 2),
});
process.exit(0);
