/** llama.cpp's `llama_ftype` (GGUF `general.file_type`) by number, as the quantization name users know. */
const FILE_TYPES: Readonly<Record<number, string>> = {
  0: "F32",
  1: "F16",
  2: "Q4_0",
  3: "Q4_1",
  7: "Q8_0",
  8: "Q5_0",
  9: "Q5_1",
  10: "Q2_K",
  11: "Q3_K_S",
  12: "Q3_K_M",
  13: "Q3_K_L",
  14: "Q4_K_S",
  15: "Q4_K_M",
  16: "Q5_K_S",
  17: "Q5_K_M",
  18: "Q6_K",
  19: "IQ2_XXS",
  20: "IQ2_XS",
  21: "Q2_K_S",
  22: "IQ3_XS",
  23: "IQ3_XXS",
  24: "IQ1_S",
  25: "IQ4_NL",
  26: "IQ3_S",
  27: "IQ3_M",
  28: "IQ2_S",
  29: "IQ2_M",
  30: "IQ4_XS",
  31: "IQ1_M",
  32: "BF16",
  36: "TQ1_0",
  37: "TQ2_0",
  38: "MXFP4_MOE",
};

/** The quantization name of a GGUF `general.file_type` (`Q4_K_M`, `F16`, …); undefined when absent or unknown. */
export function quantizationName(fileType: number | undefined): string | undefined {
  return fileType === undefined ? undefined : FILE_TYPES[fileType];
}

/**
 * The precision a model runs at: what the GGUF file says. A `quantization:` field that disagrees is reported
 * (the file wins: llama.cpp cannot change a file's precision at load time), so a mislabeled entry is noticed.
 */
export function resolveQuantization(
  fileType: number | undefined,
  configured: string | undefined,
): { quantization: string | undefined; mismatch: string | undefined } {
  const fromFile = quantizationName(fileType);
  if (configured === undefined) return { quantization: fromFile, mismatch: undefined };
  if (fromFile === undefined || fromFile.toUpperCase() === configured.toUpperCase()) {
    return { quantization: fromFile ?? configured.toUpperCase(), mismatch: undefined };
  }
  return { quantization: fromFile, mismatch: `quantization: ${configured} does not match the file, which is ${fromFile}` };
}
