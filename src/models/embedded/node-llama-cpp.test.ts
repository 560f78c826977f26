import { describe, expect, it } from "vitest";
import { formatBytes } from "./allocator.js";
import { countPhysicalCores, defaultThreadCount, importNodeLlamaCpp } from "./node-llama-cpp.js";
import { quantizationName, resolveQuantization } from "./quantization.js";

const cpu = (physical: number, core: number): string => `processor\t: x\nphysical id\t: ${physical}\ncore id\t\t: ${core}\n`;

describe("thread count", () => {
  it("counts physical cores, not hyper-threads", () => {
    const twoCoresFourThreads = [cpu(0, 0), cpu(0, 1), cpu(0, 0), cpu(0, 1)].join("\n");
    expect(countPhysicalCores(twoCoresFourThreads)).toBe(2);
    expect(countPhysicalCores([cpu(0, 0), cpu(1, 0)].join("\n"))).toBe(2);
    expect(countPhysicalCores("processor : 0\nmodel name : arm\n")).toBeUndefined();
  });

  it("uses the physical cores, less one on small boxes, capped at the CPUs this process may use", () => {
    const eight = Array.from({ length: 8 }, (_, core) => cpu(0, core)).join("\n");
    expect(defaultThreadCount(eight, 16)).toBe(8);
    expect(defaultThreadCount(eight, 2)).toBe(1);
    expect(defaultThreadCount([cpu(0, 0), cpu(0, 1), cpu(0, 0), cpu(0, 1)].join("\n"), 4)).toBe(1);
    expect(defaultThreadCount("", 4)).toBe(3);
    expect(defaultThreadCount("", 1)).toBe(1);
  });
});

describe("quantization", () => {
  it("names GGUF file types and reports a configured name that disagrees with the file", () => {
    expect(quantizationName(15)).toBe("Q4_K_M");
    expect(quantizationName(7)).toBe("Q8_0");
    expect(quantizationName(999)).toBeUndefined();
    expect(resolveQuantization(1, "f16")).toEqual({ quantization: "F16", mismatch: undefined });
    expect(resolveQuantization(undefined, "q4_k_m")).toEqual({ quantization: "Q4_K_M", mismatch: undefined });
    expect(resolveQuantization(7, "Q4_K_M").mismatch).toBe("quantization: Q4_K_M does not match the file, which is Q8_0");
  });
});

describe("importNodeLlamaCpp", () => {
  it("turns a missing package into an install instruction", async () => {
    await expect(importNodeLlamaCpp("node-llama-cpp-not-installed")).rejects.toMatchObject({
      code: "model_error",
      message: "embedded models need node-llama-cpp, an optional dependency that is not installed: run npm install node-llama-cpp@3.21.1",
      details: { kind: "unreachable" },
    });
  });
});

describe("formatBytes", () => {
  it("prints decimal units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1_200_000_000)).toBe("1.20 GB");
    expect(formatBytes(28_005_376)).toBe("28.0 MB");
  });
});
