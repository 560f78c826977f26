// The command policy in a worker thread (see policy-checker.ts): loads the bash grammar, answers
// `{id, command}` with `{id, check}`. Terminating the worker gives the WASM parser's memory back.
import { parentPort, workerData } from "node:worker_threads";
import { createCommandPolicy } from "./command-policy.js";

const port = parentPort;
if (port) {
  const policy = await createCommandPolicy({ config: (workerData as { config?: unknown } | undefined)?.config });
  port.on("message", (message: { id: number; command: string }) => {
    try {
      port.postMessage({ id: message.id, check: policy.check(message.command) });
    } catch (error) {
      port.postMessage({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  port.postMessage({ ready: true });
}
