/**
 * The forwarder that runs inside a `network: [hosts]` sandbox: it listens on 127.0.0.1:PORT in the
 * sandbox's own network namespace, pipes each connection to the egress proxy's unix socket
 * (bind-mounted in), then runs the command and exits as it did. Plain JavaScript run by the
 * daemon's own node binary, so nothing else needs installing.
 */
export const FORWARDER_SOURCE = `import { connect, createServer } from "node:net";
import { spawn } from "node:child_process";
const [socketPath, port, ...argv] = process.argv.slice(2);
const server = createServer((client) => {
  const upstream = connect(socketPath);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on("error", close);
  upstream.on("error", close);
  client.pipe(upstream).pipe(client);
});
server.on("error", (error) => { process.stderr.write("localagent egress forwarder: " + error.message + "\\n"); process.exit(125); });
server.listen(Number(port), "127.0.0.1", () => {
  const child = spawn(argv[0], argv.slice(1), { stdio: "inherit" });
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  child.on("error", (error) => { process.stderr.write(argv[0] + ": " + error.message + "\\n"); process.exit(127); });
  child.on("exit", (code, signal) => {
    server.close();
    if (signal) { process.removeAllListeners(signal); process.kill(process.pid, signal); }
    process.exit(code ?? 1);
  });
});
`;

/** The port the forwarder listens on inside the sandbox (its own network namespace: no clash). */
export const FORWARDER_PORT = 3128;
/** Where the egress proxy's socket appears inside the sandbox. */
export const SANDBOX_PROXY_SOCKET = "/run/localagent/egress.sock";
