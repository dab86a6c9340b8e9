import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CONFIG, type ConfigKey, readSetting } from "../../src/common/config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("the configuration table", () => {
  it("declares each variable once, every one a BEAM_LAMBDA_ name with a reader, a meaning and a default", () => {
    const names = Object.values(CONFIG).map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const variable of Object.values(CONFIG)) {
      expect(variable.name).toMatch(/^BEAM_LAMBDA_[A-Z0-9_]+$/);
      expect(["driver", "worker", "both"]).toContain(variable.readBy);
      expect(variable.meaning.length, variable.name).toBeGreaterThan(10);
      expect(variable.type.length, variable.name).toBeGreaterThan(0);
      expect(variable.defaultText.length, variable.name).toBeGreaterThan(0);
    }
  });
});

describe("readSetting", () => {
  it("when a variable is unset, it gives the default", () => {
    const python = join(root, ".venv", "bin", "python");
    const defaults: Partial<Record<ConfigKey, unknown>> = {
      storeUrl: undefined,
      python: existsSync(python) ? python : "python3",
      verbose: false,
      harnessLogs: false,
      shuffleMemoryMb: 256,
      bufferPoolMb: 512,
      groupingWasm: join(root, "build", "wasm", "grouping.wasm"),
      awsConfig: undefined,
      concurrency: 100,
      taskTimeoutSeconds: 900,
      pollWaitSeconds: 20,
      timeoutGraceSeconds: 30,
      executorCluster: undefined,
      executorContainer: "executor",
      executorSubnets: undefined,
    };
    for (const [key, value] of Object.entries(defaults)) expect(readSetting(key as ConfigKey, {}), key).toEqual(value);
  });

  it("reads the environment it is given, and the process's at the time of the call", () => {
    expect(readSetting("storeUrl", { BEAM_LAMBDA_STORE: "s3://b/p" })).toBe("s3://b/p");
    const before = process.env.BEAM_LAMBDA_SHUFFLE_MEMORY_MB;
    process.env.BEAM_LAMBDA_SHUFFLE_MEMORY_MB = "64";
    try {
      expect(readSetting("shuffleMemoryMb")).toBe(64);
    } finally {
      if (before === undefined) delete process.env.BEAM_LAMBDA_SHUFFLE_MEMORY_MB;
      else process.env.BEAM_LAMBDA_SHUFFLE_MEMORY_MB = before;
    }
  });

  it("parses numbers as Number() does, flags as set-and-not-empty, lists at commas", () => {
    expect(readSetting("shuffleMemoryMb", { BEAM_LAMBDA_SHUFFLE_MEMORY_MB: "0.5" })).toBe(0.5);
    expect(readSetting("bufferPoolMb", { BEAM_LAMBDA_BUFFER_POOL_MB: "0" })).toBe(0);
    expect(readSetting("concurrency", { BEAM_LAMBDA_CONCURRENCY: "1e3" })).toBe(1000);
    expect(readSetting("pollWaitSeconds", { BEAM_LAMBDA_POLL_WAIT_SECONDS: "0" })).toBe(0);
    expect(readSetting("verbose", { BEAM_LAMBDA_VERBOSE: "1" })).toBe(true);
    expect(readSetting("verbose", { BEAM_LAMBDA_VERBOSE: "0" })).toBe(true);
    expect(readSetting("verbose", { BEAM_LAMBDA_VERBOSE: "" })).toBe(false);
    expect(readSetting("executorSubnets", { BEAM_LAMBDA_EXECUTOR_SUBNETS: "subnet-a,subnet-b" })).toEqual(["subnet-a", "subnet-b"]);
    expect(readSetting("executorSubnets", { BEAM_LAMBDA_EXECUTOR_SUBNETS: "" })).toBeUndefined();
  });

  it("keeps text as given, an empty value included", () => {
    expect(readSetting("python", { BEAM_LAMBDA_PYTHON: "/opt/beam/bin/python" })).toBe("/opt/beam/bin/python");
    expect(readSetting("executorContainer", { BEAM_LAMBDA_EXECUTOR_CONTAINER: "" })).toBe("");
  });

  it.each<[ConfigKey, string, string]>([
    ["shuffleMemoryMb", "x", "BEAM_LAMBDA_SHUFFLE_MEMORY_MB must be a positive number, got 'x'"],
    ["shuffleMemoryMb", "0", "BEAM_LAMBDA_SHUFFLE_MEMORY_MB must be a positive number, got '0'"],
    ["shuffleMemoryMb", "", "BEAM_LAMBDA_SHUFFLE_MEMORY_MB must be a positive number, got ''"],
    ["bufferPoolMb", "-1", "BEAM_LAMBDA_BUFFER_POOL_MB must be a non-negative number, got '-1'"],
    ["concurrency", "2.5", "BEAM_LAMBDA_CONCURRENCY must be an integer of at least 1, got '2.5'"],
    ["timeoutGraceSeconds", "soon", "BEAM_LAMBDA_TIMEOUT_GRACE_SECONDS must be an integer of at least 0, got 'soon'"],
  ])("refuses %s = '%s', naming the variable, what it takes and what it got", (key, raw, message) => {
    expect(() => readSetting(key, { [CONFIG[key].name]: raw })).toThrow(message);
  });

  it("names the value as its caller labels it (a flag or a file field, for aws-config.ts)", () => {
    expect(() => CONFIG.concurrency.parse("0", "concurrency")).toThrow("concurrency must be an integer of at least 1, got '0'");
  });
});
