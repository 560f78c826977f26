// bench/models: the model layer's costs, against a local OpenAI-compatible server answering after 50 ms.
//  1. cache: per-request latency of a cache hit vs a miss (ModelService with its SQLite-backed cache);
//  2. router overhead: router.generate vs the model's own generate, in-process with an instant model
//     (the router's own work: resolve, health, record) and over HTTP against a server in a child process;
//  3. hot switch: PUT /api/config/models, or an edit of config.yaml, to the first request that reaches
//     the newly routed model, through a running daemon.
// One JSON line on stdout.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ModelService, registerModelProvider } from "../../dist/models/index.js";
import { SqliteStore } from "../../dist/store/index.js";
import { freePort, loadAverage, log, makeTempDir, printResult, round, sleep, spawnDaemon, spawnNode, waitForOk } from "../support/index.js";
import { startModelServer } from "./server.js";

const DELAY_MS = 50;
const MISSES = Number(process.env.BENCH_MISSES ?? 20);
const HITS = Number(process.env.BENCH_HITS ?? 2000);
const ROUTER_CALLS = Number(process.env.BENCH_ROUTER_CALLS ?? 20000);
const HTTP_CALLS = Number(process.env.BENCH_HTTP_CALLS ?? 400);
const SWITCHES = Number(process.env.BENCH_SWITCHES ?? 10);

const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ask = (content) => ({ messages: [{ role: "user", content }] });
const wallClock = () => performance.timeOrigin + performance.now();

async function timed(call) {
  const started = performance.now();
  await call();
  return performance.now() - started;
}

async function benchCache(temp) {
  const server = await startModelServer({ delayMs: DELAY_MS });
  const store = new SqliteStore({ path: join(temp.dir, "cache.db") });
  const service = new ModelService({
    initial: {
      models: { bench: { provider: "openai", base_url: server.url, model: "bench", max_retries: 0 } },
      routing: { general: ["bench"] },
    },
    configDir: temp.dir,
    store,
  });
  try {
    const misses = [];
    for (let index = 0; index < MISSES; index++)
      misses.push(await timed(() => service.generate({ ...ask(`miss ${index}`), model: "general" })));
    await service.generate({ ...ask("repeat"), model: "general" });
    const hits = [];
    for (let index = 0; index < HITS; index++) hits.push(await timed(() => service.generate({ ...ask("repeat"), model: "general" })));
    const stats = service.overview().cache;
    if (stats.hits !== HITS || server.requests() !== MISSES + 1)
      throw new Error(`cache counters off: ${JSON.stringify(stats)}, server saw ${server.requests()}`);
    const missP50 = percentile(misses, 50);
    const hitP50 = percentile(hits, 50);
    return {
      miss_p50_ms: round(missP50, 2),
      hit_p50_ms: round(hitP50, 4),
      hit_p99_ms: round(percentile(hits, 99), 4),
      ratio: round(missP50 / hitP50, 0),
      target_ratio: 100,
    };
  } finally {
    await service.close();
    store.close();
    await server.close();
  }
}

/** The router's own work per request: an instant in-process model called directly and through the router, interleaved. */
async function benchRouterInProcess(temp) {
  const instant = (name) => ({
    specificationVersion: 1,
    name,
    provider: "bench-instant",
    generate: async () => ({ text: "x", toolCalls: [], finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 }, model: name }),
    async *stream() {},
  });
  registerModelProvider("bench-instant", (name) => instant(name));
  const audited = [];
  const service = new ModelService({
    initial: {
      models: { fast: { provider: "bench-instant" }, spare: { provider: "bench-instant" } },
      routing: { general: ["fast", "spare"] },
    },
    configDir: temp.dir,
    // The audit hook is called as in the daemon; the entries are only counted here.
    audit: { record: (entry) => audited.push(entry.type) },
  });
  const direct = instant("direct");
  const request = { ...ask("overhead"), model: "general", cache: false };
  const directTimes = [];
  const routedTimes = [];
  for (let index = 0; index < ROUTER_CALLS; index++) {
    directTimes.push(await timed(() => direct.generate(request)));
    routedTimes.push(await timed(() => service.generate(request)));
  }
  await service.close();
  const skip = Math.floor(ROUTER_CALLS / 10); // JIT warm-up
  const d = directTimes.slice(skip);
  const r = routedTimes.slice(skip);
  return {
    calls: ROUTER_CALLS,
    direct_p50_us: round(percentile(d, 50) * 1000, 1),
    routed_p50_us: round(percentile(r, 50) * 1000, 1),
    direct_p99_us: round(percentile(d, 99) * 1000, 1),
    routed_p99_us: round(percentile(r, 99) * 1000, 1),
    overhead_p50_us: round((percentile(r, 50) - percentile(d, 50)) * 1000, 1),
    overhead_p99_us: round((percentile(r, 99) - percentile(d, 99)) * 1000, 1),
    target_overhead_p99_us: 1000,
  };
}

/** The same over HTTP: a provider called directly vs through the router, against a server in a child process answering at once. */
async function benchRouterHttp(temp) {
  const port = await freePort();
  const child = spawnNode([join(import.meta.dirname, "server.js"), String(port), "0"]);
  await waitForOk(`http://127.0.0.1:${port}/`, { process: child }).catch(() => undefined);
  await sleep(200);
  const base = `http://127.0.0.1:${port}/v1`;
  const entry = { provider: "openai", base_url: base, model: "bench", max_retries: 0 };
  const service = new ModelService({ initial: { models: { http: entry }, routing: { general: ["http"] } }, configDir: temp.dir });
  const directService = new ModelService({ initial: { models: { http: entry } }, configDir: temp.dir });
  const direct = directService.router.current.models.get("http").model;
  const directTimes = [];
  const routedTimes = [];
  for (let index = 0; index < HTTP_CALLS; index++) {
    directTimes.push(await timed(() => direct.generate(ask(`d${index}`))));
    routedTimes.push(await timed(() => service.generate({ ...ask(`r${index}`), model: "general", cache: false })));
  }
  await service.close();
  await directService.close();
  await child.stop();
  const skip = Math.floor(HTTP_CALLS / 10);
  const d = directTimes.slice(skip);
  const r = routedTimes.slice(skip);
  return {
    calls: HTTP_CALLS,
    direct_p50_ms: round(percentile(d, 50), 3),
    routed_p50_ms: round(percentile(r, 50), 3),
    direct_p99_ms: round(percentile(d, 99), 3),
    routed_p99_ms: round(percentile(r, 99), 3),
  };
}

function configText(serverUrl, route) {
  return [
    "log_level: warn",
    "models:",
    `  a: { provider: openai, base_url: "${serverUrl}", model: model-a, max_retries: 0 }`,
    `  b: { provider: openai, base_url: "${serverUrl}", model: model-b, max_retries: 0 }`,
    "routing:",
    `  general: [${route}]`,
    "",
  ].join("\n");
}

/** Switch time through a daemon: from the change to the first request arriving at the newly routed model. */
async function benchSwitch(temp) {
  const server = await startModelServer({ delayMs: DELAY_MS });
  const configDir = join(temp.dir, "config");
  const configFile = join(configDir, "config.yaml");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(configDir, "workflows"), { recursive: true });
  writeFileSync(configFile, configText(server.url, "a"));
  const port = await freePort();
  const daemon = spawnDaemon({ configDir, dataDir: join(temp.dir, "data"), port });
  let sequence = 0;
  const chat = () =>
    fetch(`${daemon.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "general", messages: [{ role: "user", content: `switch ${sequence++}` }] }),
    }).then((response) => response.json());
  try {
    await waitForOk(`${daemon.url}/healthz`, { process: daemon });
    await chat();
    const put = [];
    const applied = [];
    const file = [];
    let route = "a";
    for (let index = 0; index < SWITCHES; index++) {
      route = route === "a" ? "b" : "a";
      const target = `model-${route}`;
      server.arrivals.clear();
      const started = wallClock();
      const response = await fetch(`${daemon.url}/api/config/models`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          models: {
            a: { provider: "openai", base_url: server.url, model: "model-a", max_retries: 0 },
            b: { provider: "openai", base_url: server.url, model: "model-b", max_retries: 0 },
          },
          routing: { general: [route] },
        }),
      });
      if (!response.ok) throw new Error(`PUT failed: ${response.status} ${await response.text()}`);
      applied.push((await response.json()).appliedInMs);
      const answer = await chat();
      if (answer.model !== route) throw new Error(`after PUT the request was served by ${answer.model}, not ${route}`);
      put.push(server.arrivals.get(target) - started);
    }
    for (let index = 0; index < SWITCHES; index++) {
      route = route === "a" ? "b" : "a";
      const target = `model-${route}`;
      server.arrivals.clear();
      const started = wallClock();
      writeFileSync(configFile, configText(server.url, route));
      // A request every 2 ms until one reaches the new model (each answer takes 50 ms, so they overlap).
      const pending = [];
      while (!server.arrivals.has(target)) {
        if (wallClock() - started > 5000) throw new Error("the file edit was not applied within 5 s");
        pending.push(chat().catch(() => undefined));
        await sleep(2);
      }
      file.push(server.arrivals.get(target) - started);
      await Promise.all(pending);
    }
    return {
      put_ms: put.map((value) => round(value, 1)),
      put_p50_ms: round(percentile(put, 50), 1),
      put_max_ms: round(Math.max(...put), 1),
      // Inside the daemon: validate the body, build the table, swap it.
      put_apply_p50_ms: round(percentile(applied, 50), 3),
      file_edit_ms: file.map((value) => round(value, 1)),
      file_edit_p50_ms: round(percentile(file, 50), 1),
      file_edit_max_ms: round(Math.max(...file), 1),
      target_ms: 50,
    };
  } finally {
    await daemon.stop();
    await server.close();
  }
}

const temp = makeTempDir("localagent-bench-models-");
try {
  log("cache: hit vs miss against a server answering after 50 ms…");
  const cache = await benchCache(temp);
  log(`  ${JSON.stringify(cache)}`);
  log("router overhead, in-process…");
  const router = await benchRouterInProcess(temp);
  log(`  ${JSON.stringify(router)}`);
  log("router overhead, over HTTP…");
  const http = await benchRouterHttp(temp);
  log(`  ${JSON.stringify(http)}`);
  log("hot switch through the daemon…");
  const hotSwitch = await benchSwitch(temp);
  log(`  ${JSON.stringify(hotSwitch)}`);
  printResult({
    bench: "models",
    load_average: loadAverage(),
    cache,
    router,
    router_http: http,
    switch: hotSwitch,
    ok: cache.ratio >= 100 && router.overhead_p99_us < 1000 && hotSwitch.put_p50_ms < 50 && hotSwitch.file_edit_p50_ms < 50,
  });
} finally {
  temp.cleanup();
}
