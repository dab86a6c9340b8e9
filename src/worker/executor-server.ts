// The worker handler as a long-lived executor actor (`beam-lambda executor`): the same handler
// a Lambda invocation runs, served over HTTP for tasks that must not run on Lambda (a stage whose
// min_ram hint is over the function's memory). POST /invoke takes a TaskPayload and answers its
// TaskResult; GET /health answers 200. Tasks run one at a time, as in an execution environment.
import { type Server, createServer } from "node:http";
import type { TaskPayload } from "../common/task-payload.js";
import { handler, shutdown } from "./handler.js";

export interface ExecutorServer {
  readonly address: string;
  close(): Promise<void>;
}

export async function startExecutorServer(host: string, port: number): Promise<ExecutorServer> {
  let queue: Promise<unknown> = Promise.resolve();
  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health") return void res.writeHead(200, { "Content-Type": "application/json" }).end('{"ok":true}');
    if (req.method !== "POST" || req.url !== "/invoke") return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const run = queue.then(async () => {
        let body: string;
        try {
          body = JSON.stringify(await handler(JSON.parse(Buffer.concat(chunks).toString("utf8")) as TaskPayload));
        } catch (e) {
          body = JSON.stringify({ ok: false, retryable: true, workerPid: process.pid, error: `the executor failed: ${(e as Error).message}` });
        }
        res.writeHead(200, { "Content-Type": "application/json" }).end(body);
      });
      queue = run.catch(() => undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = server.address() as { port: number };
  return {
    address: `${host}:${bound.port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await shutdown();
    },
  };
}
