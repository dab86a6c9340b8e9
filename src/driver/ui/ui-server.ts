// The job UI: an HTTP server beside the job endpoint (--ui-port, default 8098) with a page that
// lists the jobs and shows one: its stage graph, progress, task timeline, messages, metrics and
// estimated AWS cost. The page reads JSON from /api/jobs and /api/jobs/ID, and follows a running
// job through server-sent events (/api/jobs/ID/events), so it is live while the job runs.
//
// It sees what the Job API sees: with bearer tokens on, a request carries one (Authorization
// header, or the cookie `/?token=...` sets) and sees only that token's jobs.
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { LambdaArchitecture } from "../../common/aws-cost.js";
import type { Job } from "../job.js";
import type { CallerAuth, JobOwner } from "../jobservice/caller-auth.js";
import type { JobRegistry } from "../jobservice/job-registry.js";
import { uiAssets } from "./assets.js";
import { jobDetail, jobSummary } from "./job-view.js";

export interface UiServerOptions {
  host: string;
  port: number;
  registry: JobRegistry;
  auth: CallerAuth;
  /** The backend's name, shown with each job. */
  backend: string;
  /** Serve HTTPS with the job server's certificate. */
  tls?: { certFile: string; keyFile: string };
}

const TOKEN_COOKIE = "beam_lambda_token";
/** Live updates of a running job at most this often. */
const EVENT_INTERVAL_MS = 250;

export class UiServer {
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(options: UiServerOptions): Promise<UiServer> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      handle(options, req, res).catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, "text/plain", `the UI failed: ${(e as Error).message}`);
        else res.end();
      });
    };
    const server = options.tls
      ? https.createServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, handler)
      : http.createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(":") ? `[${options.host}]` : options.host;
    return new UiServer(server, `${options.tls ? "https" : "http"}://${host}:${port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function handle(options: UiServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://ui");
  if (req.method !== "GET") return send(res, 405, "text/plain", "the UI only answers GET");
  // `/?token=...` once: the token goes into a cookie, and out of the address bar.
  const queryToken = url.searchParams.get("token");
  if (queryToken !== null) {
    res.writeHead(303, { location: "/", "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(queryToken)}; HttpOnly; SameSite=Strict; Path=/` });
    return void res.end();
  }
  const assets = await uiAssets();
  if (url.pathname === "/" || url.pathname === "/index.html") return send(res, 200, "text/html; charset=utf-8", assets.html);
  if (url.pathname === "/app.js") return send(res, 200, "text/javascript; charset=utf-8", assets.script);
  if (url.pathname === "/app.css") return send(res, 200, "text/css; charset=utf-8", assets.css);
  if (!url.pathname.startsWith("/api/")) return send(res, 404, "text/plain", "not found");

  let owner: JobOwner;
  try {
    owner = options.auth.ownerOfToken(tokenOf(req));
  } catch (e) {
    return sendJson(res, 401, { error: `${(e as Error).message}: open the UI as /?token=YOUR_TOKEN once` });
  }
  if (url.pathname === "/api/jobs") {
    const jobs = options.registry.visibleTo(owner).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
    return sendJson(res, 200, { jobs: jobs.map((j) => jobSummary(j, options.backend)) });
  }
  const match = /^\/api\/jobs\/([^/]+)(\/events)?$/.exec(url.pathname);
  if (!match) return sendJson(res, 404, { error: "no such API" });
  let job: Job;
  try {
    job = options.registry.get(decodeURIComponent(match[1]!), owner);
  } catch (e) {
    return sendJson(res, 404, { error: (e as Error).message });
  }
  const lambda = lambdaOptions(url);
  if (!match[2]) return sendJson(res, 200, jobDetail(job, options.backend, lambda));
  streamJob(job, options.backend, lambda, req, res);
}

/** ?memory=MB&arch=arm64: the Lambda size the cost is estimated at. */
function lambdaOptions(url: URL): { memoryMb?: number; architecture?: LambdaArchitecture } {
  const memory = Number(url.searchParams.get("memory"));
  const arch = url.searchParams.get("arch");
  return {
    ...(Number.isInteger(memory) && memory >= 128 && memory <= 10240 && { memoryMb: memory }),
    ...((arch === "arm64" || arch === "x86_64") && { architecture: arch }),
  };
}

/** Server-sent events: the job's detail now, then again after each change (at most every EVENT_INTERVAL_MS) until it ends. */
function streamJob(job: Job, backend: string, lambda: ReturnType<typeof lambdaOptions>, req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  let timer: NodeJS.Timeout | undefined;
  const push = () => {
    timer = undefined;
    res.write(`event: job\ndata: ${JSON.stringify(jobDetail(job, backend, lambda))}\n\n`);
    if (job.terminal) stop();
  };
  const schedule = () => {
    timer ??= setTimeout(push, EVENT_INTERVAL_MS);
  };
  const unsubscribeProgress = job.progress.subscribe(schedule);
  const unsubscribeJob = job.subscribe(schedule);
  // A running task's bar grows with time, not only with events.
  const tick = setInterval(schedule, 1000);
  const stop = () => {
    clearTimeout(timer);
    clearInterval(tick);
    unsubscribeProgress();
    unsubscribeJob();
    res.end();
  };
  req.on("close", stop);
  push();
}

function tokenOf(req: http.IncomingMessage): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (bearer) return bearer;
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [name, value] = part.trim().split("=", 2);
    if (name === TOKEN_COOKIE && value) return decodeURIComponent(value);
  }
  return undefined;
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json", JSON.stringify(body));
}
