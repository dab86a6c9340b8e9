// The Go SDK's own state tests (Beam's go/test/integration/primitives, v2.77.0, from the Go
// module proxy) on our job endpoint: value, bag and combining state over bag StateKeys,
// state.Map / state.Set over multimap StateKeys and state.OrderedList over ordered-list StateKeys,
// each checked in-pipeline by passert (a failed assertion fails the job, and so the Go test).
// Then ours in go-ordered-list/: ordered-list state of element coders that are not length-prefixed
// on their own. Go is on every machine of this project, so a missing `go` fails these tests
// rather than skipping them; the first build of the test binaries takes a few minutes.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JobServer } from "../../src/driver/index.js";

const run = promisify(execFile);
const BEAM = "github.com/apache/beam/sdks/v2";
const PRIMITIVES = `${BEAM}/go/test/integration/primitives`;
const SERVED = [
  "TestValueState",
  "TestValueStateWindowed",
  "TestValueStateClear",
  "TestBagState",
  "TestBagStateClear",
  "TestBagStateBlindWrite",
  "TestCombiningState",
  "TestMapState",
  "TestMapStateClear",
  "TestSetState",
  "TestSetStateClear",
  "TestOrderedListState",
];

/** One Go test run: its verdict per test and its whole output. */
interface GoTestRun {
  verdicts: Record<string, "PASS" | "FAIL" | "SKIP">;
  output: string;
}

async function goTest(binary: string, pattern: string, endpoint: string): Promise<GoTestRun> {
  const args = ["-test.run", pattern, "-test.v", "--runner=universal", `--endpoint=${endpoint}`, "--environment_type=LOOPBACK"];
  // A failing test exits non-zero; its verdicts are in the output all the same.
  const output = await run(binary, args, { maxBuffer: 64 << 20 }).then(
    (r) => r.stdout + r.stderr,
    (e: { stdout?: string; stderr?: string }) => (e.stdout ?? "") + (e.stderr ?? ""),
  );
  const verdicts: GoTestRun["verdicts"] = {};
  for (const m of output.matchAll(/^--- (PASS|FAIL|SKIP): (\w+)/gm)) verdicts[m[2]!] = m[1] as "PASS" | "FAIL" | "SKIP";
  return { verdicts, output };
}

/** A Go module in a fresh temporary folder, and `go` run in it. */
function goModule(prefix: string): { dir: string; go: (...args: string[]) => Promise<unknown> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, go: (...args: string[]) => run("go", args, { cwd: dir, maxBuffer: 64 << 20 }) };
}

describe("the Go SDK's state tests on our job endpoint", () => {
  let server: JobServer;
  let primitives: string;
  let orderedList: string;

  beforeAll(async () => {
    await run("go", ["version"]).catch((cause: unknown) => {
      throw new Error("these tests need the Go toolchain (`go` on PATH), which every machine of this project has", { cause });
    });
    const beam = goModule("beam-go-state-");
    await beam.go("mod", "init", "beamlambda.test/gostate");
    await beam.go("get", "-t", `${PRIMITIVES}@v2.77.0`);
    primitives = join(beam.dir, "primitives.test");
    await beam.go("test", "-c", "-o", primitives, PRIMITIVES);

    const ours = goModule("beam-go-ordered-list-");
    copyFileSync(new URL("./go-ordered-list/ordered_list_test.go", import.meta.url), join(ours.dir, "ordered_list_test.go"));
    await ours.go("mod", "init", "beamlambda.test/orderedlist");
    await ours.go("get", "-t", `${BEAM}@v2.77.0`);
    await ours.go("mod", "tidy");
    orderedList = join(ours.dir, "orderedlist.test");
    await ours.go("test", "-c", "-o", orderedList, ".");

    server = await JobServer.start({ port: 0, workers: 2, partitions: 5 });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("passes value, bag, combining, map, set and ordered-list state", async () => {
    const { verdicts, output } = await goTest(primitives, `^(${SERVED.join("|")})$`, server.address);
    expect(verdicts, output).toEqual(Object.fromEntries(SERVED.map((t) => [t, "PASS"])));
  });

  it("passes ordered-list state of int64, float64 and bool values, read, read by range and cleared by range", async () => {
    const { verdicts, output } = await goTest(orderedList, "^TestOrderedListStateCoders$", server.address);
    expect(verdicts, output).toEqual({ TestOrderedListStateCoders: "PASS" });
  });
});
