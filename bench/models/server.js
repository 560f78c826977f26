// An OpenAI-compatible chat completions server for bench/models: answers every request after
// DELAY ms with a fixed text, echoing the model id. Importable, or run as `node server.js PORT DELAY`.
import { createServer } from "node:http";

/** Starts the server; `arrivals` records when each model id was first asked for (performance.timeOrigin-based ms). */
export async function startModelServer({ port = 0, delayMs = 50 } = {}) {
  const arrivals = new Map();
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const at = performance.timeOrigin + performance.now();
      requests++;
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        body = {};
      }
      if (!arrivals.has(body.model)) arrivals.set(body.model, at);
      const answer = JSON.stringify({
        id: "chatcmpl-bench",
        object: "chat.completion",
        created: 1,
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: `answer from ${body.model}` }, finish_reason: "stop" }],
        usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 },
      });
      const send = () => response.writeHead(200, { "content-type": "application/json" }).end(answer);
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    url: `http://127.0.0.1:${server.address().port}/v1`,
    arrivals,
    requests: () => requests,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const [port, delay] = process.argv.slice(2).map(Number);
  const server = await startModelServer({ port, delayMs: delay });
  process.stdout.write(`listening ${server.port}\n`);
}
