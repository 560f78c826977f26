// A local OpenAI-compatible chat completions server for bench/channels (non-streaming answers:
// "echo: <last user message>"). Usage: node openai-server.js PORT
import { createServer } from "node:http";

const port = Number(process.argv[2]);
const server = createServer((request, response) => {
  if (request.method === "GET") return void response.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const last = body.messages.at(-1)?.content ?? "";
    response.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        id: "chatcmpl-bench",
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: `echo: ${last}` }, finish_reason: "stop" }],
        usage: { prompt_tokens: body.messages.length, completion_tokens: 2, total_tokens: body.messages.length + 2 },
      }),
    );
  });
});
server.listen(port, "127.0.0.1");
process.once("SIGTERM", () => server.close(() => process.exit(0)));
