import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // End-to-end tests start job servers with worker processes and Python harnesses; on a
    // 2-core machine they are steadier one file at a time.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ["default"],
  },
});
