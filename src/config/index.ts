export { defaultConfigDir, defaultDataDir, loadConfig, resolveSecret, type ConfigOptions, type ResolvedConfig } from "./config.js";
export { configFileSchema, type ConfigFile } from "./schema.js";
