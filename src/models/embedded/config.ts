import { z } from "zod";

/** A `models:` entry run in-process: `{ provider: embedded, path: ./m.gguf, … }`. Branch `models` puts it in the provider union. */
export const embeddedModelEntrySchema = z
  .object({
    provider: z.literal("embedded"),
    path: z.string().min(1).describe("The GGUF file (relative to the config directory)"),
    quantization: z
      .string()
      .optional()
      .describe("Expected precision (Q4_K_M, Q8_0, F16, …); the file's general.file_type is what runs, a mismatch is reported"),
    context_size: z.number().int().positive().optional().describe("Context window in tokens (default: the model's, at most 4096)"),
    gpu: z
      .union([z.literal("auto"), z.boolean(), z.number().int().min(0)])
      .optional()
      .describe("auto (default) offloads to a GPU when present; false: CPU only; a number: at most that many layers on the GPU"),
    threads: z
      .union([z.literal("auto"), z.number().int().positive()])
      .optional()
      .describe("Evaluation threads; auto (default) is the physical cores this process may use"),
  })
  .strict();

/** `allocator:` in config.yaml: how task types share `memory_limit`. */
export const allocatorConfigSchema = z
  .object({
    weights: z
      .record(z.string(), z.number().min(0))
      .optional()
      .describe("Share of memory_limit per task type when models compete (default code_gen 0.4, image_proc 0.3, general 0.3)"),
  })
  .strict();
