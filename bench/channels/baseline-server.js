// Baseline for bench/channels: a bare `ws` server speaking the same web chat frames, answering each
// chat.message with an ack and an echo reply at once (no store, no queue, no model).
// Usage: node baseline-server.js PORT
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const port = Number(process.argv[2]);
const server = createServer((request, response) => response.writeHead(request.url === "/healthz" ? 200 : 404).end("{}"));
const sockets = new WebSocketServer({ server, path: "/ws" });
let chats = 0;
sockets.on("connection", (client) => {
  const chat = `wc_${++chats}`;
  client.send(JSON.stringify({ type: "chat.opened", chat }));
  client.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type !== "chat.message") return;
    client.send(JSON.stringify({ type: "chat.ack", chat, id: frame.id }));
    client.send(JSON.stringify({ type: "chat.reply", chat, id: `r${frame.id}`, text: `echo: ${frame.text}`, replyTo: frame.id }));
  });
});
server.listen(port, "127.0.0.1");
process.once("SIGTERM", () => {
  for (const client of sockets.clients) client.terminate();
  server.close(() => process.exit(0));
});
