// The runner's log lines: text and JSON forms, levels, and the ids a child logger carries.
import { afterEach, describe, expect, it } from "vitest";
import { Logger, configureLogging } from "../../src/common/log.js";

const lines: string[] = [];
afterEach(() => {
  lines.length = 0;
});

function capture(format: "text" | "json", level: "debug" | "info" | "warn" | "error"): void {
  configureLogging({ format, level, write: (line) => lines.push(line) });
}

describe("Logger", () => {
  it("writes one JSON object per line, with the child's ids as fields", () => {
    capture("json", "info");
    const attempt = new Logger({ component: "driver" }).child({ job: "j-1" }).child({ stage: "s2", task: 3, attempt: 0 });
    attempt.info("attempt succeeded", { worker: 42, skipped: undefined });
    attempt.debug("not written at info");
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith("\n")).toBe(true);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string, level: "info", component: "driver", job: "j-1", stage: "s2", task: 3, attempt: 0, worker: 42, msg: "attempt succeeded" });
  });

  it("writes text as time, level, key=value ids and the message; values with spaces are quoted", () => {
    capture("text", "debug");
    new Logger({ job: "j-1", stage: "s2" }).warn("attempt failed: boom", { cause: "user", name: "my job" });
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z WARN {2}job=j-1 stage=s2 cause=user name="my job" attempt failed: boom\n$/);
  });

  it("drops lines below the level", () => {
    capture("text", "warn");
    const logger = new Logger();
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(lines.map((l) => l.trim().split(" ").at(-1))).toEqual(["w", "e"]);
    expect(logger.enabled("info")).toBe(false);
  });
});
