import { describe, expect, it } from "vitest";
import { readSetting } from "../../src/common/config.js";
import { readWorkerEnv, userCodeEnv, workerEnv } from "../../src/common/worker-env.js";

describe("the worker's environment", () => {
  it("when a launcher builds it, the worker reads back the same settings", () => {
    const settings = { storeUrl: "s3://bucket/prefix?spread=8", python: "/opt/venv/bin/python" };

    const worker = readWorkerEnv(workerEnv(settings));

    expect(worker).toMatchObject(settings);
  });

  it("carries the store and the interpreter under their declared names, and the launcher's log settings when it has them", () => {
    const saved = { format: process.env.BEAM_LAMBDA_LOG_FORMAT, level: process.env.BEAM_LAMBDA_LOG_LEVEL };
    try {
      delete process.env.BEAM_LAMBDA_LOG_FORMAT;
      delete process.env.BEAM_LAMBDA_LOG_LEVEL;
      expect(workerEnv({ storeUrl: "/tmp/store", python: "python3.11" })).toEqual({ BEAM_LAMBDA_STORE: "/tmp/store", BEAM_LAMBDA_PYTHON: "python3.11" });
      process.env.BEAM_LAMBDA_LOG_FORMAT = "json";
      process.env.BEAM_LAMBDA_LOG_LEVEL = "debug";
      expect(workerEnv({ storeUrl: "/tmp/store" })).toEqual({ BEAM_LAMBDA_STORE: "/tmp/store", BEAM_LAMBDA_LOG_FORMAT: "json", BEAM_LAMBDA_LOG_LEVEL: "debug" });
    } finally {
      for (const [name, value] of [["BEAM_LAMBDA_LOG_FORMAT", saved.format], ["BEAM_LAMBDA_LOG_LEVEL", saved.level]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("when the launcher leaves the interpreter out, the worker uses the default the driver would", () => {
    const env = workerEnv({ storeUrl: "/tmp/store" });

    expect(env).not.toHaveProperty("BEAM_LAMBDA_PYTHON");
    expect(readWorkerEnv(env).python).toBe(readSetting("python", {}));
  });

  it("laid over an inherited environment, the launcher's settings win and the rest is read as given", () => {
    const inherited = { BEAM_LAMBDA_STORE: "/old", BEAM_LAMBDA_SHUFFLE_MEMORY_MB: "64" };

    const worker = readWorkerEnv({ ...inherited, ...workerEnv({ storeUrl: "/new", python: "py" }) });

    expect(worker).toEqual({ storeUrl: "/new", python: "py", shuffleMemoryBytes: 64 * 2 ** 20, noProgressTimeoutMs: 600_000, spareInterpreter: true });
  });

  it("keeps a spare interpreter unless BEAM_LAMBDA_NO_SPARE_INTERPRETER is set", () => {
    expect(readWorkerEnv({ BEAM_LAMBDA_STORE: "/s", BEAM_LAMBDA_NO_SPARE_INTERPRETER: "1" }).spareInterpreter).toBe(false);
  });

  it("gives the shuffle memory's default in bytes", () => {
    expect(readWorkerEnv({ BEAM_LAMBDA_STORE: "/s" }).shuffleMemoryBytes).toBe(256 * 2 ** 20);
  });

  it("refuses to start without a store, or with an unusable setting, naming the variable", () => {
    expect(() => readWorkerEnv({})).toThrow("the worker needs BEAM_LAMBDA_STORE in its environment");
    expect(() => readWorkerEnv({ BEAM_LAMBDA_STORE: "" })).toThrow("the worker needs BEAM_LAMBDA_STORE in its environment");
    expect(() => readWorkerEnv({ BEAM_LAMBDA_STORE: "/s", BEAM_LAMBDA_SHUFFLE_MEMORY_MB: "lots" })).toThrow(
      "BEAM_LAMBDA_SHUFFLE_MEMORY_MB must be a positive number, got 'lots'",
    );
  });
});

describe("the environment user code gets", () => {
  const server = {
    PATH: "/usr/bin",
    HOME: "/home/beam",
    BEAM_LAMBDA_STORE: "/tmp/store",
    BEAM_LAMBDA_AUTH_TOKEN_FILE: "/etc/beam/tokens",
    AWS_ACCESS_KEY_ID: "AKID",
    AWS_SECRET_ACCESS_KEY: "secret",
    AWS_SESSION_TOKEN: "session",
    GITHUB_TOKEN: "ghp_x",
    DB_PASSWORD: "hunter2",
    CLIENT_SECRET_VALUE: "s",
    OPENAI_API_KEY: "sk-x",
    HF_TOKEN: "hf_x",
  };

  it("drops the job server's own settings and secret-looking variables, and keeps AWS credentials and the rest", () => {
    expect(userCodeEnv(server)).toEqual({
      PATH: "/usr/bin",
      HOME: "/home/beam",
      BEAM_LAMBDA_STORE: "/tmp/store",
      AWS_ACCESS_KEY_ID: "AKID",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "session",
    });
  });

  it("keeps the secret-looking variables BEAM_LAMBDA_HARNESS_ENV_KEEP names, but never the server's own", () => {
    const env = userCodeEnv({ ...server, BEAM_LAMBDA_HARNESS_ENV_KEEP: "HF_TOKEN,BEAM_LAMBDA_AUTH_TOKEN_FILE" });

    expect(env).toHaveProperty("HF_TOKEN", "hf_x");
    expect(env).not.toHaveProperty("GITHUB_TOKEN");
    expect(env).not.toHaveProperty("BEAM_LAMBDA_AUTH_TOKEN_FILE");
  });
});
