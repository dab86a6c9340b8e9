import { describe, expect, it } from "vitest";
import { WorkerPoolGoneError } from "../../src/driver/scheduler/errors.js";
import { WorkerPoolLiveness } from "../../src/driver/scheduler/worker-pool-liveness.js";

describe("WorkerPoolLiveness", () => {
  it("calls a pool gone once no attempt has reached it for the timeout, counted from the first failure", () => {
    const pools = new WorkerPoolLiveness(5000);

    expect(pools.unreachable("localhost:1", 1000)).toBeUndefined();
    expect(pools.unreachable("localhost:1", 5999)).toBeUndefined();
    const gone = pools.unreachable("localhost:1", 6000);

    expect(gone).toBeInstanceOf(WorkerPoolGoneError);
    expect(gone?.message).toMatch(/^the SDK worker pool at localhost:1 is gone: no attempt could reach it for 5 s \(.*LOOPBACK.*\)/);
  });

  it("starts counting again once an attempt reached the pool, and counts each pool apart", () => {
    const pools = new WorkerPoolLiveness(5000);
    pools.unreachable("localhost:1", 0);
    pools.unreachable("localhost:2", 0);

    pools.reached("localhost:1");

    expect(pools.unreachable("localhost:1", 6000)).toBeUndefined();
    expect(pools.unreachable("localhost:1", 10_999)).toBeUndefined();
    expect(pools.unreachable("localhost:1", 11_000)).toBeInstanceOf(WorkerPoolGoneError);
    expect(pools.unreachable("localhost:2", 6000)).toBeInstanceOf(WorkerPoolGoneError);
  });
});
