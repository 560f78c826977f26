import { getLlama, LlamaChat } from "node-llama-cpp";
const llama = await getLlama({ gpu: "auto", build: "never", maxThreads: 2 });
const model = await llama.loadModel({ modelPath: "/tmp/emb/tiny.gguf" });
for (const threads of [1, 2, 1, 2]) {
  const context = await model.createContext({ contextSize: 1024, threads, sequences: 1 });
  const chat = new LlamaChat({ contextSequence: context.getSequence() });
  const t = performance.now();
  const r = await chat.generateResponse([{ type: "user", text: "Hello there" }, { type: "model", response: [] }], { maxTokens: 30 });
  console.log(threads, (performance.now() - t).toFixed(0), "ms");
  chat.dispose(); await context.dispose();
}
