// The command policy in a child process (see policy-checker.ts): loads the bash grammar, answers
// `{id, command}` with `{id, check}` over the IPC channel (or a worker thread's port). Ending the
// process gives the WASM parser's memory back; it also ends when the daemon goes away.
import { parentPort, workerData } from "node:worker_threads";
import { createCommandPolicy } from "./command-policy.js";

interface Channel {
  send(message: unknown): void;
  onMessage(listener: (message: { id: number; command: string } | { config: unknown }) => void): void;
}

const channel: Channel | undefined = parentPort
  ? { send: (message) => parentPort?.postMessage(message), onMessage: (listener) => parentPort?.on("message", listener) }
  : process.send
    ? { send: (message) => process.send?.(message), onMessage: (listener) => process.on("message", listener) }
    : undefined;

if (channel) {
  if (!parentPort) process.on("disconnect", () => process.exit(0));
  const config = parentPort
    ? (workerData as { config?: unknown } | undefined)?.config
    : (JSON.parse(process.env.LOCALAGENT_POLICY_CONFIG ?? "null") as unknown);
  const policy = await createCommandPolicy({ config: config ?? undefined });
  channel.onMessage((message) => {
    if (!("id" in message)) return;
    try {
      channel.send({ id: message.id, check: policy.check(message.command) });
    } catch (error) {
      channel.send({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  channel.send({ ready: true });
}
