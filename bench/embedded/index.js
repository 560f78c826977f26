// bench/embedded: the embedded engine's load/unload times and how well the allocator's charge matches the
// memory the process really takes (RSS growth), on generated GGUF models (no download). Token speed of a
// random tiny model means nothing; what is measured is the plumbing, plus one thread-count ratio.
// Last stdout line: one JSON object.
import { join } from "node:path";
import { loadavg } from "node:os";
import { ROOT, log, makeTempDir, printResult } from "../support/index.js";

const embedded = await import(join(ROOT, "dist", "models", "embedded", "index.js"));
const { ModelAllocator, createEmbeddedModel, writeTinyLlamaGguf, getLlamaRuntime } = embedded;

try {
  await import("node-llama-cpp");
} catch {
  log("bench embedded: node-llama-cpp is not installed (npm install node-llama-cpp@3.21.1)");
  printResult({ bench: "embedded", skipped: "node-llama-cpp not installed" });
  process.exit(0);
}

const temp = makeTempDir("localagent-bench-embedded-");
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const hello = (maxTokens) => ({ messages: [{ role: "user", content: "Hello there" }], maxTokens });
const rss = () => process.memoryUsage().rss;

try {
  const big = writeTinyLlamaGguf(join(temp.dir, "big.gguf"), {
    contextLength: 4096,
    embeddingLength: 512,
    blockCount: 8,
    headCount: 8,
    feedForwardLength: 1536,
    seed: 5,
  });
  const tiny = writeTinyLlamaGguf(join(temp.dir, "tiny.gguf"), { contextLength: 4096 });
  log(`models written: big ${big.bytes} bytes, tiny ${tiny.bytes} bytes`);
  const runtime = await getLlamaRuntime();
  log(`backend: gpu=${runtime.llama.gpu} threads=${runtime.threads}`);

  // Load, first answer, unload: several rounds; RSS growth measured against the charge each time.
  const loads = [];
  const unloads = [];
  const accuracy = [];
  const returned = [];
  let charged = 0;
  let footprint;
  let estimate;
  const allocator = new ModelAllocator({
    onEvent: (event) => {
      if (event.type === "model-loaded") {
        footprint = event.footprint;
        estimate = event.estimate;
      }
    },
  });
  const model = createEmbeddedModel("big", { provider: "embedded", path: big.path, context_size: 1024 }, { allocator });
  await model.generate(hello(1)); // warm the backend and the page cache once
  await model.close();
  for (let round = 0; round < 5; round++) {
    const before = rss();
    let started = performance.now();
    await model.generate(hello(1));
    loads.push(performance.now() - started);
    log(`round ${round}: load + first token ${loads.at(-1).toFixed(0)} ms`);
    const grown = rss() - before;
    charged = allocator.usedBytes;
    accuracy.push(grown / charged);
    started = performance.now();
    await model.close();
    unloads.push(performance.now() - started);
    returned.push((before + grown - rss()) / grown);
  }

  // Per-request allocator overhead on a loaded model: acquire + release of the lease.
  const leaseModel = {
    name: "t",
    estimate: async () => ({ modelBytes: 1, contextBytes: 1 }),
    load: async () => ({ value: 1, footprint: { modelBytes: 1, contextBytes: 1 }, dispose: async () => {} }),
  };
  const leases = new ModelAllocator({ budgetBytes: 1e9 });
  (await leases.acquire(leaseModel)).release();
  const rounds = 20000;
  let started = performance.now();
  for (let index = 0; index < rounds; index++) (await leases.acquire(leaseModel)).release();
  const leaseMicros = ((performance.now() - started) * 1000) / rounds;

  // Threads: the auto count (physical cores) against node-llama-cpp's default (a backend created without
  // maxThreads: at least 4 threads on a CPU-only machine) and against one thread, same tiny model and prompts.
  const { llama, module } = runtime;
  const libraryDefault =
    process.env.BENCH_EMBEDDED_THREADS === "1"
      ? await module.getLlama({ gpu: "auto", build: "never", progressLogs: false, logLevel: "error" })
      : undefined;
  const timeWith = async (backend, threads) => {
    const loaded = await backend.loadModel({ modelPath: tiny.path });
    const context = await loaded.createContext({ contextSize: 512, sequences: 1, ...(threads === undefined ? {} : { threads }) });
    const used = context.idealThreads ?? context.currentThreads;
    const chat = new module.LlamaChat({ contextSequence: context.getSequence() });
    const times = [];
    for (let round = 0; round < 5; round++) {
      const begin = performance.now();
      await chat.generateResponse(
        [
          { type: "user", text: `Hello ${round}` },
          { type: "model", response: [] },
        ],
        { maxTokens: 30 },
      );
      times.push(performance.now() - begin);
    }
    chat.dispose();
    await context.dispose();
    await loaded.dispose();
    return { ms: median(times), worst: Math.max(...times), threads: used };
  };
  // Opt-in (BENCH_EMBEDDED_THREADS=1): on a busy small box the oversubscribed runs can take minutes.
  const compareThreads = process.env.BENCH_EMBEDDED_THREADS === "1";
  const skipped = { ms: Number.NaN, worst: Number.NaN, threads: undefined };
  const auto = await timeWith(llama, runtime.threads);
  log(`30 tokens, ${auto.threads} threads: ${auto.ms.toFixed(1)} ms`);
  const one = compareThreads ? await timeWith(llama, 1) : skipped;
  log(`30 tokens, 1 thread: ${one.ms.toFixed(1)} ms`);
  const library = compareThreads ? await timeWith(libraryDefault, undefined) : skipped;
  log(`30 tokens, ${library.threads} threads (library default): ${library.ms.toFixed(1)} ms`);

  printResult({
    bench: "embedded",
    gpu: runtime.llama.gpu,
    model_file_bytes: big.bytes,
    charged_bytes: charged,
    charged_model_bytes: footprint?.modelBytes,
    charged_context_bytes: footprint?.contextBytes,
    estimated_bytes: estimate ? estimate.modelBytes + estimate.contextBytes : undefined,
    load_ms_median: Number(median(loads).toFixed(1)),
    unload_ms_median: Number(median(unloads).toFixed(1)),
    rss_growth_over_charge_median: Number(median(accuracy).toFixed(3)),
    rss_returned_on_unload_median: Number(median(returned).toFixed(3)),
    lease_overhead_us: Number(leaseMicros.toFixed(2)),
    threads_auto: auto.threads,
    threads_library_default: library.threads,
    tokens30_ms_auto_threads: Number(auto.ms.toFixed(1)),
    tokens30_ms_auto_threads_worst: Number(auto.worst.toFixed(1)),
    tokens30_ms_one_thread: Number(one.ms.toFixed(1)),
    tokens30_ms_library_default_threads: Number(library.ms.toFixed(1)),
    tokens30_ms_library_default_threads_worst: Number(library.worst.toFixed(1)),
    library_default_over_auto_ratio: Number((library.ms / auto.ms).toFixed(2)),
    load_average_1m: Number(loadavg()[0].toFixed(2)),
  });
} finally {
  temp.cleanup();
}
