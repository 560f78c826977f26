#!/usr/bin/env node
// `npm run bench -- NAME`: runs bench/NAME/index.js (or bench/NAME.js) against the built dist/.
// Builds nothing itself: benchmarks measure what `npm run build` produced.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
/** Folders of shared code, not benchmarks. */
const HELPERS = new Set(["support"]);

function available() {
  return readdirSync(benchDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !HELPERS.has(entry.name) && existsSync(join(benchDir, entry.name, "index.js")))
    .map((entry) => entry.name)
    .sort();
}

const [name, ...rest] = process.argv.slice(2);
if (!name || name === "--help" || name === "-h") {
  process.stderr.write(`usage: npm run bench -- NAME [args]\nbenchmarks: ${available().join(", ")}\n`);
  process.exit(name ? 0 : 2);
}
if (!/^[a-z0-9][a-z0-9-]*$/i.test(name) || HELPERS.has(name)) {
  process.stderr.write(`bench: "${name}" is not a benchmark; have: ${available().join(", ")}\n`);
  process.exit(2);
}
const script = [join(benchDir, name, "index.js"), join(benchDir, `${name}.js`)].find((file) => existsSync(file));
if (!script) {
  process.stderr.write(
    `bench: no benchmark "${name}" (looked for bench/${name}/index.js and bench/${name}.js); have: ${available().join(", ")}\n`,
  );
  process.exit(2);
}
if (!existsSync(join(root, "dist", "cli", "index.js"))) {
  process.stderr.write("bench: dist/ is missing or incomplete; run `npm run build` first (benchmarks measure the compiled code)\n");
  process.exit(2);
}

const child = spawn(process.execPath, [script, ...rest], { cwd: root, stdio: "inherit" });
const forward = (signal) => child.kill(signal);
process.on("SIGINT", forward);
process.on("SIGTERM", forward);
child.on("exit", (code, signal) => {
  if (signal) process.stderr.write(`bench: ${name} ended by ${signal}\n`);
  process.exitCode = code ?? 1;
});
