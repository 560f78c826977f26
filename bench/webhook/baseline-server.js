// The in-script baseline for bench/webhook: a bare node:http server that does what a minimal durable
// webhook must do per request, and nothing more: parse the JSON body, compute the two `set` outputs,
// and journal the same six rows the engine writes (run inserted, 2× step started, 2× step finished,
// run finished), each its own commit, in a WAL database with synchronous=NORMAL (durability: process).
// Arguments: PORT DATABASE_PATH.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import Database from "better-sqlite3";

const [port, path] = process.argv.slice(2);
const database = new Database(path);
database.pragma("journal_mode = WAL");
database.pragma("synchronous = NORMAL");
database.exec(`
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, workflow TEXT NOT NULL, status TEXT NOT NULL, trigger TEXT NOT NULL,
  inputs TEXT NOT NULL, outputs TEXT, error TEXT, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, path TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL,
  output TEXT, error TEXT, started_at INTEGER, finished_at INTEGER, PRIMARY KEY (run_id, path)) WITHOUT ROWID;
`);
const insertRun = database.prepare(
  "INSERT INTO runs (id, workflow, status, trigger, inputs, created_at, started_at) VALUES (?, 'bench', 'running', 'api', ?, ?, ?)",
);
const stepStarted = database.prepare("INSERT INTO steps (run_id, path, status, attempt, started_at) VALUES (?, ?, 'running', 1, ?)");
const stepFinished = database.prepare("UPDATE steps SET status = 'succeeded', output = ?, finished_at = ? WHERE run_id = ? AND path = ?");
const runFinished = database.prepare("UPDATE runs SET status = 'succeeded', outputs = ?, finished_at = ? WHERE id = ?");

function handle(body) {
  const inputs = body === "" ? {} : JSON.parse(body);
  const name = typeof inputs.name === "string" ? inputs.name : "world";
  const id = `run_${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
  const now = Date.now();
  insertRun.run(id, JSON.stringify({ name, ...inputs }), now, now);
  stepStarted.run(id, "greet", Date.now());
  const greet = { greeting: `Hello, ${name}!` };
  stepFinished.run(JSON.stringify(greet), Date.now(), id, "greet");
  stepStarted.run(id, "shape", Date.now());
  const shape = { greeting: greet.greeting, length: greet.greeting.length };
  stepFinished.run(JSON.stringify(shape), Date.now(), id, "shape");
  runFinished.run(JSON.stringify(shape), Date.now(), id);
  return {
    id,
    workflow: "bench",
    status: "succeeded",
    outputs: shape,
    steps: [
      { path: "greet", output: greet },
      { path: "shape", output: shape },
    ],
  };
}

const server = createServer((request, response) => {
  if (request.method !== "POST") return void response.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}');
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    try {
      const result = handle(Buffer.concat(chunks).toString("utf8"));
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
    } catch (error) {
      response.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: String(error) }));
    }
  });
});
server.listen(Number(port), "127.0.0.1", () => process.stderr.write(`baseline listening on ${port}\n`));
const stop = () => {
  server.close(() => database.close());
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
