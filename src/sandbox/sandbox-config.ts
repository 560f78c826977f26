import { z } from "zod";
import { isByteSize, isDuration, parseByteSize, parseDuration } from "../duration/index.js";
import type { SandboxLimits, SandboxMode } from "./types.js";

const sizeSchema = z.union([z.string(), z.number()]).refine(isByteSize, { message: "not a size (examples: 512m, 1g, 65536)" });
const secondsSchema = z.union([z.string(), z.number()]).refine(isDuration, { message: "not a duration (examples: 30s, 5m, 1h)" });

/** `limits:` as written, in a step or under `sandbox:` in config.yaml. */
export const limitsSchema = z
  .object({
    memory: sizeSchema.optional().describe("Memory for the whole step (cgroup; RLIMIT_AS where no cgroup), e.g. 512m"),
    cpu_time: secondsSchema.optional().describe("CPU time per process (RLIMIT_CPU; SIGXCPU when exceeded), e.g. 60s"),
    processes: z.number().int().positive().optional().describe("Processes and threads at once (pids cgroup), e.g. 64"),
    file_size: sizeSchema.optional().describe("Largest file a process may write (RLIMIT_FSIZE; SIGXFSZ when exceeded)"),
    open_files: z.number().int().positive().optional().describe("Open file descriptors per process (RLIMIT_NOFILE)"),
  })
  .strict();

export type LimitsInput = z.infer<typeof limitsSchema>;

export const sandboxModeSchema = z.enum(["required", "preferred", "off"]);

/** The `sandbox:` section of config.yaml. */
export const sandboxConfigSchema = z
  .object({
    mode: sandboxModeSchema.optional().describe("Default for shell steps without sandbox: (default preferred)"),
    bwrap: z.string().optional().describe("Path of the bubblewrap binary (default /usr/bin/bwrap, else found on PATH)"),
    limits: limitsSchema
      .optional()
      .describe("Default limits for sandboxed steps (default memory 1g, processes 256, open_files 1024, file_size 1g)"),
    read_only: z.array(z.string()).optional().describe("Host paths every sandboxed step may read (default [/var/log]; [] for none)"),
    writable: z.array(z.string()).optional().describe("Host paths every sandboxed step may write besides its workspace (e.g. /backups)"),
  })
  .strict();

export type SandboxConfigInput = z.infer<typeof sandboxConfigSchema>;

/** Fields every shell step accepts (merged into the shell step's config shape); `network:` is a field of every step (src/workflow). */
export const sandboxStepShape = {
  sandbox: sandboxModeSchema.optional().describe("required: refuse to run unsandboxed; preferred (default): fall back with a warning; off"),
  limits: limitsSchema.optional().describe("Limits for this step, over the sandbox: defaults"),
};

/** Defaults applied where neither the step nor config.yaml sets a limit. */
export const DEFAULT_LIMITS: LimitsInput = { memory: "1g", processes: 256, open_files: 1024, file_size: "1g" };

/** Visible read-only unless `sandbox.read_only` says otherwise: logs are what agents read most (the seed's log monitor). */
export const DEFAULT_READ_ONLY = ["/var/log"];

/** The resolved `sandbox:` section. */
export interface ResolvedSandboxConfig {
  mode: SandboxMode;
  bwrap: string | undefined;
  limits: LimitsInput;
  readOnly: string[];
  writable: string[];
}

/** Validates the raw `sandbox:` section (already checked by the config loader) and applies defaults. */
export function resolveSandboxConfig(raw: unknown): ResolvedSandboxConfig {
  const parsed = sandboxConfigSchema.parse(raw ?? {});
  return {
    mode: parsed.mode ?? "preferred",
    bwrap: parsed.bwrap,
    limits: { ...DEFAULT_LIMITS, ...parsed.limits },
    readOnly: parsed.read_only ?? DEFAULT_READ_ONLY,
    writable: parsed.writable ?? [],
  };
}

/** Step limits over config limits, parsed into numbers. */
export function resolveLimits(defaults: LimitsInput, step: LimitsInput | undefined): SandboxLimits {
  const merged = { ...defaults, ...step };
  const limits: SandboxLimits = {};
  if (merged.memory !== undefined) limits.memoryBytes = parseByteSize(merged.memory);
  if (merged.cpu_time !== undefined) limits.cpuSeconds = Math.max(1, Math.ceil(parseDuration(merged.cpu_time) / 1000));
  if (merged.processes !== undefined) limits.processes = merged.processes;
  if (merged.file_size !== undefined) limits.fileSizeBytes = parseByteSize(merged.file_size);
  if (merged.open_files !== undefined) limits.openFiles = merged.open_files;
  return limits;
}

/** `512m`-style text for profiles and messages. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ["g", 1024 ** 3],
    ["m", 1024 ** 2],
    ["k", 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
