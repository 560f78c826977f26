// A footprint probe (not a registered benchmark): starts the daemon with CONFIG_DIR (it must hold a
// workflow named "one"), runs it once through the API, and prints VmRSS at ready, right after the
// run and every 10 s for 40 s. MODE sets LOCALAGENT_POLICY_WORKER (off: parser in the daemon).
// SMAPS=1 also prints the daemon's 15 largest mappings.
//   node bench/footprint/shell-idle.js CONFIG_DIR [on|off]
import { spawnDaemon, freePort, waitForOk, readRss, sleep, makeTempDir, round } from "../support/index.js";
const MB = 1024 * 1024;
const temp = makeTempDir("fp-shell-");
const port = await freePort();
const daemon = spawnDaemon({
  configDir: process.argv[2],
  dataDir: temp.dir,
  port,
  env: process.argv[3] ? { LOCALAGENT_POLICY_WORKER: process.argv[3] } : {},
});
await waitForOk(`${daemon.url}/healthz`, { process: daemon });
await sleep(3000);
const out = { ready: round(readRss(daemon.child.pid).rss / MB) };
const run = await (await fetch(`${daemon.url}/api/workflows/one/run?wait=1`, { method: "POST" })).json();
out.status = run.status;
out.afterRun = round(readRss(daemon.child.pid).rss / MB);
for (const s of [10, 20, 30, 40]) {
  await sleep(10000);
  out[`t${s}`] = round(readRss(daemon.child.pid).rss / MB);
}
console.log(JSON.stringify(out));
if (process.env.SMAPS) {
  const { readFileSync } = await import("node:fs");
  const text = readFileSync(`/proc/${daemon.child.pid}/smaps`, "utf8");
  const maps = [];
  let current;
  for (const line of text.split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      current = { head: line.slice(0, 120), rss: 0 };
      maps.push(current);
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m && current) current.rss = Number(m[1]);
  }
  maps.sort((a, b) => b.rss - a.rss);
  for (const m of maps.slice(0, 15)) console.log(m.rss, m.head);
  console.log("threads", readFileSync(`/proc/${daemon.child.pid}/status`, "utf8").match(/Threads:\s+(\d+)/)[1]);
}
await daemon.stop();
temp.cleanup();
