// Cold start of an emulated Lambda execution environment. Each round starts a job server on one
// fresh emulated environment (--backend lambda-emulator: RIE + aws-lambda-ric running the bundled
// worker) and runs a one-element Python job twice: the first job's time from Run to DONE
// includes everything a fresh environment pays before its first task has its first element
// (runtime and bundle start, store and descriptor reads, the Python harness start); the second
// pays the harness start again (harnesses are kept per job) but not the environment's. Their
// difference is the environment's own cold start; the first job's time is the cold path a user
// waits for. Run with: npx tsx bench/cold-start.ts [--rounds N]
import { execFile } from "node:child_process";
import { parseArgs, promisify } from "node:util";
import { JobState_Enum } from "apache-beam/proto/beam_job_api";
import { JobServer, defaultPython } from "../src/driver/index.js";

const run = promisify(execFile);
const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" } } });

/** A one-element job. */
const job = (endpoint: string, name: string) =>
  [
    "import apache_beam as beam",
    "from apache_beam.options.pipeline_options import PipelineOptions",
    `p = beam.Pipeline(options=PipelineOptions(['--runner=PortableRunner', '--job_endpoint=${endpoint}', '--job_name=${name}']))`,
    "_ = p | beam.Create([0]) | beam.Map(lambda x: x + 1)",
    "p.run().wait_until_finish()",
  ].join("\n");

/** The job's time from Run to DONE, as the job server reports it in its last message. */
async function runToDoneMs(server: JobServer, name: string): Promise<number> {
  await run(defaultPython(), ["-c", job(server.address, name)], { maxBuffer: 16 << 20 });
  const j = [...server.registry.jobs.values()].find((x) => x.pipelineOptions["beam:option:job_name:v1"] === name)!;
  if (j.state !== JobState_Enum.DONE) throw new Error(`${name} ended ${JobState_Enum[j.state]}`);
  const ran = / ran .* in (\d+) ms/.exec(j.messages.map((m) => m.messageText).find((m) => / ran .* in \d+ ms/.test(m)) ?? "");
  if (!ran) throw new Error(`${name}: no 'ran ... in N ms' message`);
  return Number(ran[1]);
}

const rows: string[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const started = Date.now();
  const server = await JobServer.start({ port: 0, workers: 1, backend: "lambda-emulator" });
  const serverUpMs = Date.now() - started;
  try {
    const cold = await runToDoneMs(server, `cold_${round}`);
    const warm = await runToDoneMs(server, `warm_${round}`);
    rows.push(`| ${round + 1} | ${serverUpMs} | ${cold} | ${warm} | ${cold - warm} |`);
  } finally {
    await server.stop();
  }
}
console.log("| round | job server + environment up (ms) | first job, fresh environment: run to done (ms) | second job, warm environment (ms) | cold-start cost (ms) |");
console.log("| ---: | ---: | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
