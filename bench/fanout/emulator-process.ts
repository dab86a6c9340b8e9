// The Lambda service emulator in front of the synthetic function, in a process of its own so
// that bench/fanout.ts can tell its CPU from the driver's. Prints one JSON line with its endpoint
// once it listens; on SIGTERM prints its counts and exits.
//   tsx bench/fanout/emulator-process.ts --store S3URL --results-queue-url URL --sleep-ms MS --bytes N
import { parseArgs } from "node:util";
import { LambdaServiceEmulator } from "../../src/backends/lambda-emulator/lambda-service.js";
import { openObjectStore } from "../../src/store/index.js";
import { FUNCTION_NAME, SyntheticFunction } from "./synthetic-function.js";

const { values } = parseArgs({
  options: {
    store: { type: "string" },
    "results-queue-url": { type: "string" },
    "sleep-ms": { type: "string", default: "1000" },
    bytes: { type: "string", default: "4096" },
  },
});
const fn = new SyntheticFunction(openObjectStore(values.store!), { sleepMs: Number(values["sleep-ms"]), bytes: Number(values.bytes) });
const service = await LambdaServiceEmulator.startWith(fn, {
  functionName: FUNCTION_NAME,
  // As the CDK stack configures the function: the driver retries, failures go to the results queue.
  maximumRetryAttempts: 0,
  onFailureQueueUrl: values["results-queue-url"],
});
process.stdout.write(`${JSON.stringify({ endpoint: service.endpoint })}\n`);
process.once("SIGTERM", () => {
  process.stdout.write(`${JSON.stringify({ service: service.stats, function: fn.stats })}\n`);
  void service.close().finally(() => process.exit(0));
});
