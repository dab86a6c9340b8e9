import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { groupingKernel } from "../../src/shuffle/wasm-grouping.js";

describe("the grouping kernel's file", () => {
  const before = process.env.BEAM_LAMBDA_GROUPING_WASM;
  afterEach(() => {
    if (before === undefined) delete process.env.BEAM_LAMBDA_GROUPING_WASM;
    else process.env.BEAM_LAMBDA_GROUPING_WASM = before;
  });

  it("is BEAM_LAMBDA_GROUPING_WASM as set after the module loaded, read on first use and kept", () => {
    // This file's module is fresh (vitest isolates test files): nothing has asked for the kernel yet.
    const missing = join(tmpdir(), "no-such-dir", "grouping.wasm");
    process.env.BEAM_LAMBDA_GROUPING_WASM = missing;
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);

    expect(groupingKernel()).toBeUndefined();
    process.env.BEAM_LAMBDA_GROUPING_WASM = "/elsewhere/grouping.wasm";
    expect(groupingKernel()).toBeUndefined();

    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toContain(missing);
    warn.mockRestore();
  });
});
