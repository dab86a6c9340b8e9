// A map task killed while writing its output must leave nothing a reducer could read.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalObjectStore } from "../../src/store/index.js";

const helper = new URL("./helpers/write-object.ts", import.meta.url).pathname;
const SIZE_MB = 256;

async function killWhileWriting(root: string, key: string, delayMs: number): Promise<boolean> {
  const child = spawn("node", ["--import", "tsx", helper, root, key, String(SIZE_MB)], { stdio: ["ignore", "pipe", "inherit"] });
  // Listen for the exit from the start: a fast disk can finish the write before the kill.
  const exited = new Promise((r) => child.on("exit", r));
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("writing")) resolve();
    });
    void exited.then(() => reject(new Error(`the writer exited before it started writing: ${out}`)));
  });
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill("SIGKILL");
  await exited;
  return out.includes("written");
}

describe("the local object store under a writer that dies", () => {
  it("shows either the whole object or none of it, never a part", async () => {
    const root = mkdtempSync(join(tmpdir(), "atomic-"));
    const store = new LocalObjectStore(root);
    let interrupted = 0;
    for (const [i, delay] of [0, 5, 20, 60, 150].entries()) {
      const finished = await killWhileWriting(root, `map-${i}`, delay);
      const visible = await store.list(`map-${i}`);
      if (visible.length === 0) {
        interrupted++;
        await expect(store.get(`map-${i}`)).rejects.toThrow(/does not exist/);
      } else {
        expect((await store.get(`map-${i}`)).length).toBe(SIZE_MB << 20);
      }
      if (!finished && visible.length > 0) expect((await store.get(`map-${i}`)).length).toBe(SIZE_MB << 20);
    }
    // At least the kill right after the write began must have caught it halfway.
    expect(interrupted).toBeGreaterThan(0);
  });
});
