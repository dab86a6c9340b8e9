// `beam-lambda run`'s progress display: in a pseudo-terminal one line redrawn in place, in a pipe
// plain lines, one per finished stage; the pipeline's own output passes through either way.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";

const BIN = new URL("../../bin/beam-lambda.js", import.meta.url).pathname;
const PIPELINE = new URL("./gated_pipeline.py", import.meta.url).pathname;

/** Runs argv in a pseudo-terminal (Python's pty module) and returns everything the terminal got. */
const IN_PTY = `
import os, pty, sys
status = pty.spawn(sys.argv[1:])
print(f"\\nEXIT {os.waitstatus_to_exitcode(status)}")
`;

function runArgs(name: string, extra: string[] = []): { argv: string[]; outputDir: string } {
  const outputDir = mkdtempSync(join(tmpdir(), "run-progress-"));
  return { argv: [BIN, "run", "--workers", "2", ...extra, PIPELINE, "--output", join(outputDir, "out"), `--job_name=${name}`], outputDir };
}

function writtenLines(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), "utf8").trim().split("\n"));
}

describe("beam-lambda run's progress", () => {
  it("redraws one line in a terminal: stages and tasks done of total, elapsed; then the job's end", async () => {
    const { argv, outputDir } = runArgs("in-a-terminal");
    const { stdout } = await promisify(execFile)(defaultPython(), ["-c", IN_PTY, process.execPath, ...argv], { encoding: "utf8", timeout: 180_000, maxBuffer: 64 << 20 });
    expect(stdout).toMatch(/EXIT 0\s*$/);
    // Redrawn in place: carriage return and erase-line before each drawing.
    const drawings = stdout.split("\r\x1b[2K").slice(1);
    const running = drawings.filter((d) => /^job in-a-terminal RUNNING · stages \d+\/\d+ · tasks \d+\/\d+/.test(d));
    expect(running.length).toBeGreaterThan(0);
    expect(stdout).toMatch(/job in-a-terminal DONE · stages (\d+)\/\1 · tasks (\d+)\/\2 · [\d.]+s\r?\n/);
    // No per-stage lines on a terminal: the one line says it all.
    expect(stdout).not.toMatch(/^stage s\d+ \[/m);
    expect(writtenLines(outputDir)).toHaveLength(10);
  });

  it("prints a plain line per finished stage when not on a terminal, and nothing with --no-progress", async () => {
    const { argv } = runArgs("in-a-pipe");
    const { stderr } = await promisify(execFile)(process.execPath, argv, { encoding: "utf8", timeout: 180_000 });
    expect(stderr).not.toContain("\x1b[");
    const stageLines = stderr.split("\n").filter((l) => /^stage s\d+ \[.*\] done: \d+ tasks, \d+ elements out, [\d.]+s · job in-a-pipe RUNNING/.test(l));
    // The stage that expands Create's elements wrote all 5000 of them.
    expect(stderr).toMatch(/^stage s\d+ \[Numbers\/FlatMap.*\] done: 1 tasks, 5000 elements out/m);
    const end = /^job in-a-pipe DONE · stages (\d+)\/\1 · tasks (\d+)\/\2 · [\d.]+s$/m.exec(stderr);
    expect(end, stderr).not.toBeNull();
    expect(stageLines).toHaveLength(Number(end![1]));

    const quiet = runArgs("quiet", ["--no-progress"]);
    const silent = await promisify(execFile)(process.execPath, quiet.argv, { encoding: "utf8", timeout: 180_000 });
    expect(silent.stderr).not.toMatch(/^(stage s\d+|job quiet)/m);
    expect(writtenLines(quiet.outputDir)).toHaveLength(10);
  });
});
