import { writeTinyLlamaGguf } from "/work/wt-embedded/test/helpers/gguf.ts";
import { getLlama, readGgufFileInfo, GgufInsights } from "node-llama-cpp";
let t = Date.now();
writeTinyLlamaGguf("/tmp/emb/tiny.gguf", {contextLength: 4096});
writeTinyLlamaGguf("/tmp/emb/big.gguf", {contextLength: 4096, embeddingLength: 256, blockCount: 8, feedForwardLength: 768, headCount: 4, seed: 2});
console.log("write ms", Date.now()-t);
const llama = await getLlama({ gpu: "auto", build: "never", maxThreads: 2 });
for (const file of ["/tmp/emb/tiny.gguf", "/tmp/emb/big.gguf"]) {
  const info = await readGgufFileInfo(file);
  const insights = await GgufInsights.from(info, llama);
  const me = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 });
  const ce = await insights.estimateContextResourceRequirementsV2({ contextSize: 1024, modelGpuLayers: 0, sequences: 1 });
  const rss0 = process.memoryUsage().rss; const u0 = await llama.getLlamaMemoryUsage();
  t = Date.now();
  const model = await llama.loadModel({ modelPath: file });
  const u1 = await llama.getLlamaMemoryUsage(); const rss1 = process.memoryUsage().rss;
  const context = await model.createContext({ contextSize: 1024, threads: 2, sequences: 1 });
  const u2 = await llama.getLlamaMemoryUsage(); const rss2 = process.memoryUsage().rss;
  console.log(file, "load ms", Date.now()-t, "size", model.size, "est model", me, "est ctx", ce, "usage", u0, u1, u2, "rss", rss0, rss1-rss0, rss2-rss1, "state", context.stateSize, model.gpuLayers);
  t = Date.now();
  await context.dispose(); await model.dispose();
  const u3 = await llama.getLlamaMemoryUsage();
  console.log("dispose ms", Date.now()-t, u3, process.memoryUsage().rss - rss0);
}
