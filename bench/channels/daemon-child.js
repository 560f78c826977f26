// The daemon for bench/channels, in its own process: the real Daemon (store, outbox, channel
// manager, /ws) with the conversation answered by an in-process scripted LanguageModel, since the
// model layer is measured elsewhere. Usage: node daemon-child.js CONFIG_DIR DATA_DIR PORT
import { LanguageModelResponder } from "../../dist/channels/index.js";
import { loadConfig } from "../../dist/config/index.js";
import { Daemon } from "../../dist/daemon/index.js";

const [configDir, dataDir, port] = process.argv.slice(2);

/** Answers at once with a short echo, as a fast local model would after its first token. */
const scripted = {
  specificationVersion: 1,
  name: "scripted",
  provider: "scripted",
  generate(request) {
    const last = request.messages.at(-1)?.content ?? "";
    return Promise.resolve({
      text: `echo: ${last}`,
      toolCalls: [],
      finishReason: "stop",
      usage: { inputTokens: request.messages.length, outputTokens: 1 },
      model: "scripted",
    });
  },

  async *stream() {
    throw new Error("not used");
  },
};

const config = loadConfig({ configDir, dataDir, port: Number(port) });
const daemon = new Daemon({ config, conversationResponder: new LanguageModelResponder(scripted) });
await daemon.start();
const stop = () => void daemon.stop().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
