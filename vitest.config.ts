import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Two cores: end-to-end tests start daemons and servers; keep the machine responsive.
    maxWorkers: 2,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
