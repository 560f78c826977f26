import type { Logger } from "../../logger/index.js";
import { formatBytes, ModelAllocator } from "./allocator.js";

/** The daemon's allocator: `memory_limit` as the budget, `allocator.weights`, loads and unloads logged. */
export function createEmbeddedAllocator(
  config: { memoryLimitBytes: number | undefined; allocatorWeights: Record<string, number> | undefined },
  logger?: Logger,
): ModelAllocator {
  return new ModelAllocator({
    ...(config.memoryLimitBytes !== undefined ? { budgetBytes: config.memoryLimitBytes } : {}),
    ...(config.allocatorWeights ? { weights: config.allocatorWeights } : {}),
    onEvent: (event) => {
      if (event.type === "model-loaded") {
        logger?.info(
          {
            model: event.name,
            modelBytes: event.footprint.modelBytes,
            contextBytes: event.footprint.contextBytes,
            used: formatBytes(event.usedBytes),
          },
          "model loaded into the memory budget",
        );
      } else {
        logger?.info({ model: event.name, reason: event.reason, freed: formatBytes(event.freedBytes) }, "model unloaded");
      }
    },
  });
}
