// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the top frames by self time and by total
// (inclusive) time, and self time grouped by package / source folder.
// Usage: node bench/support/profile-top.js FILE.cpuprofile [N]
import { readFileSync } from "node:fs";

const [file, limitText] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node bench/support/profile-top.js FILE.cpuprofile [N]\n");
  process.exit(2);
}
const limit = Number(limitText ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

// Sample i lasted timeDeltas[i + 1] microseconds (V8's convention: deltas precede the next sample).
const selfTime = new Map();
let total = 0;
profile.samples.forEach((id, index) => {
  const delta = profile.timeDeltas[index + 1] ?? 0;
  selfTime.set(id, (selfTime.get(id) ?? 0) + delta);
  total += delta;
});

function where(frame) {
  const url = frame.url.replace(/^file:\/\//, "");
  const short = url.replace(/^.*\/node_modules\//, "").replace(/^.*\/(dist|src|bench)\//, "$1/");
  return `${frame.functionName || "(anonymous)"} ${short ? `${short}:${frame.lineNumber + 1}` : ""}`.trim();
}

function group(frame) {
  const url = frame.url;
  if (!url) return frame.functionName.startsWith("(") ? frame.functionName : "(native/V8)";
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (module) return module[1];
  const local = /\/(dist|src)\/([^/]+)/.exec(url);
  return local ? `${local[1]}/${local[2]}` : url;
}

const bySelf = new Map();
const byGroup = new Map();
const inclusive = new Map();
for (const [id, time] of selfTime) {
  const node = nodes.get(id);
  const key = where(node.callFrame);
  bySelf.set(key, (bySelf.get(key) ?? 0) + time);
  const groupKey = group(node.callFrame);
  byGroup.set(groupKey, (byGroup.get(groupKey) ?? 0) + time);
  // Inclusive: credit every distinct frame on the stack once.
  const seen = new Set();
  for (let current = id; current !== undefined; current = parents.get(current)) {
    const frame = where(nodes.get(current).callFrame);
    if (seen.has(frame)) continue;
    seen.add(frame);
    inclusive.set(frame, (inclusive.get(frame) ?? 0) + time);
  }
}

const percent = (time) => `${((100 * time) / total).toFixed(1).padStart(5)} %`;
const print = (title, map) => {
  process.stdout.write(`\n${title}\n`);
  for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) process.stdout.write(`${percent(time)}  ${key}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n`);
print("self time by package / folder", byGroup);
print("self time by frame", bySelf);
print("total (inclusive) time by frame", inclusive);
