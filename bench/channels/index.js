// bench/channels: web chat messages through the daemon — WebSocket → durable inbox → conversation
// (the model router → a local OpenAI-compatible server; BENCH_MODEL=scripted: a LanguageModel in the daemon process) → outbox → reply on the WebSocket — at a bounded
// rate (BENCH_RATE messages/s over BENCH_CLIENTS connections for BENCH_DURATION s), then saturated
// (each client sends its next message when the previous reply arrived). The same two loads run
// against a bare `ws` echo server speaking the same frames; ratios daemon/baseline are printed.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import {
  CLI,
  freePort,
  loadAverage,
  log,
  makeTempDir,
  printResult,
  readCpuSeconds,
  round,
  secondsFromEnv,
  sleep,
  spawnNode,
  waitForOk,
} from "../support/index.js";

const DURATION = secondsFromEnv("BENCH_DURATION", 10);
const RATE = Number(process.env.BENCH_RATE ?? 100);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 20);
/** scripted: a LanguageModel inside the daemon process; openai: the model router → a local OpenAI-compatible server. */
const MODEL = process.env.BENCH_MODEL ?? "openai";
const CONFIG = `log_level: warn
durability: process
platforms:
  - name: web
    type: webchat
`;
const modelConfig = (url) => `models:
  local: { provider: openai, base_url: "${url}", model: bench-echo }
routing:
  general: [local]
cache: { enabled: false }
`;

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))], 2);
}

/** Opens `count` chat connections; each resolves when its chat is opened. */
async function connect(url, count) {
  const clients = [];
  for (let index = 0; index < count; index += 1) {
    const socket = new WebSocket(`${url}/ws?events=0`);
    const client = { socket, pending: new Map(), chat: undefined, onReply: undefined };
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.type === "chat.reply") {
        const sentAt = client.pending.get(frame.replyTo);
        if (sentAt === undefined) return;
        client.pending.delete(frame.replyTo);
        client.onReply?.(performance.now() - sentAt, frame);
      } else if (frame.type === "chat.error") {
        log(`chat.error: ${frame.reason}`);
      }
    });
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    clients.push(client);
  }
  return clients;
}

let sequence = 0;
function send(client) {
  const id = `b${++sequence}`;
  client.pending.set(id, performance.now());
  client.socket.send(JSON.stringify({ type: "chat.message", id, text: `message ${id}` }));
}

/** Open loop: RATE messages/s spread round-robin over the clients, for DURATION s; waits for the stragglers. */
async function boundedRate(clients, pid) {
  const latencies = [];
  let wrong = 0;
  for (const client of clients)
    client.onReply = (ms, frame) => {
      latencies.push(ms);
      if (!String(frame.text).startsWith("echo: message ")) wrong += 1;
    };
  const total = Math.round(RATE * DURATION);
  const cpuBefore = readCpuSeconds(pid);
  const started = performance.now();
  for (let index = 0; index < total; index += 1) {
    const due = started + (index * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    send(clients[index % clients.length]);
  }
  const deadline = performance.now() + 30_000;
  while (latencies.length < total && performance.now() < deadline) await sleep(5);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = readCpuSeconds(pid) - cpuBefore;
  latencies.sort((a, b) => a - b);
  return {
    offeredPerSecond: RATE,
    sent: total,
    replies: latencies.length,
    wrongReplies: wrong,
    messagesPerSecond: round(latencies.length / elapsed, 1),
    roundTripMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    serverCpuMicrosecondsPerMessage: Math.round((cpu * 1e6) / Math.max(1, latencies.length)),
  };
}

/** Closed loop: every client keeps one message in flight, for DURATION s. */
async function saturated(clients, pid) {
  const latencies = [];
  let running = true;
  for (const client of clients)
    client.onReply = (ms) => {
      if (!running) return;
      latencies.push(ms);
      send(client);
    };
  const cpuBefore = readCpuSeconds(pid);
  const started = performance.now();
  for (const client of clients) send(client);
  await sleep(DURATION * 1000);
  running = false;
  const elapsed = (performance.now() - started) / 1000;
  const cpu = readCpuSeconds(pid) - cpuBefore;
  const count = latencies.length;
  latencies.sort((a, b) => a - b);
  // Let the last in-flight replies drain before the next phase.
  await sleep(500);
  return {
    clients: clients.length,
    replies: count,
    messagesPerSecond: round(count / elapsed, 1),
    roundTripMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100) },
    serverCpuMicrosecondsPerMessage: Math.round((cpu * 1e6) / Math.max(1, count)),
  };
}

async function measure(label, url, pid) {
  const clients = await connect(url.replace("http", "ws"), CLIENTS);
  // Warm-up: a few round trips per client.
  await boundedRateQuiet(clients, 5);
  log(`${label}: ${RATE} msg/s over ${CLIENTS} clients for ${DURATION} s`);
  const bounded = await boundedRate(clients, pid);
  log(`${label} bounded: ${JSON.stringify(bounded)}`);
  log(`${label}: saturated, ${CLIENTS} clients for ${DURATION} s`);
  const closed = await saturated(clients, pid);
  log(`${label} saturated: ${JSON.stringify(closed)}`);
  for (const client of clients) client.socket.close();
  return { bounded, saturated: closed };
}

async function boundedRateQuiet(clients, perClient) {
  let left = clients.length * perClient;
  await new Promise((resolve) => {
    for (const client of clients) {
      let mine = perClient;
      client.onReply = () => {
        left -= 1;
        mine -= 1;
        if (mine > 0) send(client);
        if (left === 0) resolve();
      };
      send(client);
    }
  });
}

const temp = makeTempDir("localagent-bench-channels-");
const loadAtStart = loadAverage();
try {
  const configDir = join(temp.dir, "config");
  mkdirSync(join(configDir, "workflows"), { recursive: true });
  if (MODEL !== "openai" && MODEL !== "scripted") throw new Error(`BENCH_MODEL=${MODEL}: expected openai or scripted`);
  let modelServer;
  if (MODEL === "openai") {
    const modelPort = await freePort();
    modelServer = spawnNode([join(import.meta.dirname, "openai-server.js"), String(modelPort)]);
    await waitForOk(`http://127.0.0.1:${modelPort}/v1/models`, { process: modelServer });
    writeFileSync(join(configDir, "config.yaml"), CONFIG + modelConfig(`http://127.0.0.1:${modelPort}/v1`));
  } else {
    writeFileSync(join(configDir, "config.yaml"), CONFIG);
  }
  const port = await freePort();
  // BENCH_CPU_PROF=DIR: the daemon writes a V8 CPU profile there when it stops (bench/support/profile-top.js reads it).
  const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const daemon =
    MODEL === "openai"
      ? spawnNode([...profile, CLI, "start", "--config", configDir, "--data-dir", join(temp.dir, "data"), "--port", String(port)])
      : spawnNode([...profile, join(import.meta.dirname, "daemon-child.js"), configDir, join(temp.dir, "data"), String(port)]);
  log(
    `model: ${MODEL === "openai" ? "router → local OpenAI-compatible server (bench/channels/openai-server.js)" : "scripted, in the daemon process"}`,
  );
  let daemonResult;
  try {
    await waitForOk(`http://127.0.0.1:${port}/healthz`, { process: daemon });
    daemonResult = await measure("daemon", `http://127.0.0.1:${port}`, daemon.child.pid);
  } finally {
    const code = await daemon.stop();
    if (code !== 0) log(`daemon exited with ${code}:\n${daemon.output().slice(-2000)}`);
    await modelServer?.stop();
  }
  const basePort = await freePort();
  const base = spawnNode([join(import.meta.dirname, "baseline-server.js"), String(basePort)]);
  let baseline;
  try {
    await waitForOk(`http://127.0.0.1:${basePort}/healthz`, { process: base });
    baseline = await measure("baseline", `http://127.0.0.1:${basePort}`, base.child.pid);
  } finally {
    await base.stop();
  }
  const ratio = (a, b) => (a && b ? round(a / b, 3) : null);
  printResult({
    benchmark: "channels",
    model: MODEL,
    durationSeconds: DURATION,
    rate: RATE,
    clients: CLIENTS,
    daemon: daemonResult,
    baseline,
    ratiosDaemonOverBaseline: {
      boundedP50: ratio(daemonResult.bounded.roundTripMs.p50, baseline.bounded.roundTripMs.p50),
      boundedP99: ratio(daemonResult.bounded.roundTripMs.p99, baseline.bounded.roundTripMs.p99),
      saturatedMessagesPerSecond: ratio(daemonResult.saturated.messagesPerSecond, baseline.saturated.messagesPerSecond),
    },
    allReplied: daemonResult.bounded.replies === daemonResult.bounded.sent && daemonResult.bounded.wrongReplies === 0,
    loadAverage: { start: loadAtStart, end: loadAverage() },
  });
} finally {
  temp.cleanup();
}
