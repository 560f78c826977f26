// The load generator, run as its own process by runLoad(): autocannon against one URL, then one
// JSON summary line on stdout. Argument: JSON {url, method, body, headers, connections, duration}.
import autocannon from "autocannon";

const cpuBefore = process.cpuUsage();

const options = JSON.parse(process.argv[2] ?? "{}");
const result = await autocannon({
  url: options.url,
  method: options.method ?? "GET",
  headers: options.headers ?? {},
  body: options.body,
  connections: options.connections ?? 10,
  duration: options.duration ?? 10,
  pipelining: 1,
  timeout: 10,
});
const cpu = process.cpuUsage(cpuBefore);
const status = {};
for (const [code, count] of Object.entries(result.statusCodeStats ?? {})) status[code] = count.count;
process.stdout.write(
  `${JSON.stringify({
    connections: options.connections,
    durationSeconds: result.duration,
    requests: result.requests.total,
    requestsPerSecond: result.requests.total / result.duration,
    requestsPerSecondSampledMean: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
    ok2xx: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    status,
    // CPU the load generator itself used: near one core means it, not the server, set the pace.
    loadGeneratorCpuCores: (cpu.user + cpu.system) / 1e6 / result.duration,
  })}\n`,
);
