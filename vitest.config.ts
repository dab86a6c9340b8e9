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
    // Job servers and workers the tests start log only warnings and errors: a line per task
    // attempt, over every test, would bury the summary. Tests of the logs ask for more.
    env: { BEAM_LAMBDA_LOG_LEVEL: "warn" },
  },
});
