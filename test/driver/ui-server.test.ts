// The job UI's HTTP side: with bearer tokens on, its API answers only a request that carries one
// (header, or the cookie /?token= sets) and shows only that token's jobs; the page's files are served.
// Jobs are prepared through the CLI's own Job API client, with its token file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobServiceClient } from "apache-beam/proto/beam_job_api.grpc-client";
import { Pipeline } from "apache-beam/proto/beam_runner_api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobServiceClient, listJobs } from "../../src/cli/job-client.js";
import { JobServer } from "../../src/driver/index.js";
import { unary } from "./job-api.js";

const [ALICE, BOB] = ["alice-token-0123456789", "bob-token-0123456789ab"];
let server: JobServer;

function clientFor(token: string): JobServiceClient {
  return jobServiceClient({ endpoint: server.address, authTokenFile: tokenFile(token) });
}

function tokenFile(token: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "ui-token-")), "token");
  writeFileSync(file, `${token}\n`);
  return file;
}

beforeAll(async () => {
  server = await JobServer.start({ port: 0, workers: 1, authTokens: [ALICE, BOB], ui: { port: 0 } });
});

afterAll(async () => {
  await server?.stop();
});

describe("the job UI's server", () => {
  it("serves the page, its script (bundled) and its style", async () => {
    const page = await fetch(`${server.uiUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/app.js"></script>');
    const script = await fetch(`${server.uiUrl}/app.js`);
    expect(script.headers.get("content-type")).toContain("javascript");
    // dagre is bundled into it: the page needs nothing from elsewhere.
    expect((await script.text()).length).toBeGreaterThan(20_000);
    expect((await fetch(`${server.uiUrl}/app.css`)).status).toBe(200);
  });

  it("answers its API only with a token, and shows each token only its own jobs", async () => {
    const pipeline = Pipeline.fromBinary(readFileSync(new URL("../fixtures/windowing.pb", import.meta.url)));
    const alice = clientFor(ALICE);
    const prepared = await unary(alice.prepare.bind(alice), { pipeline, jobName: "alices" });
    alice.close();

    const anonymous = await fetch(`${server.uiUrl}/api/jobs`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toContain("/?token=");
    const wrong = await fetch(`${server.uiUrl}/api/jobs`, { headers: { authorization: "Bearer not-a-token-of-this-server" } });
    expect(wrong.status).toBe(401);

    const asAlice = (await (await fetch(`${server.uiUrl}/api/jobs`, { headers: { authorization: `Bearer ${ALICE}` } })).json()) as { jobs: { id: string }[] };
    expect(asAlice.jobs.map((j) => j.id)).toEqual([prepared.preparationId]);
    // /?token= puts the token in a cookie the browser sends back (and takes it out of the address).
    const login = await fetch(`${server.uiUrl}/?token=${BOB}`, { redirect: "manual" });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/");
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    expect(login.headers.get("set-cookie")).toContain("HttpOnly");
    const asBob = (await (await fetch(`${server.uiUrl}/api/jobs`, { headers: { cookie } })).json()) as { jobs: unknown[] };
    expect(asBob.jobs).toEqual([]);
    const bobPeeks = await fetch(`${server.uiUrl}/api/jobs/${prepared.preparationId}`, { headers: { cookie } });
    expect(bobPeeks.status).toBe(404);
    const detail = await fetch(`${server.uiUrl}/api/jobs/${prepared.preparationId}`, { headers: { authorization: `Bearer ${ALICE}` } });
    expect(detail.status).toBe(200);
    const body = (await detail.json()) as { graph: { nodes: unknown[] }; job: { state: string } };
    expect(body.job.state).toBe("STOPPED");
    expect(body.graph.nodes.length).toBeGreaterThan(0);
  });

  it("refuses to start on a port that is taken when the port was asked for", async () => {
    const port = Number(new URL(server.uiUrl!).port);
    await expect(JobServer.start({ port: 0, workers: 1, ui: { port } })).rejects.toThrow(`the job UI cannot serve 127.0.0.1:${port}`);
    const optional = await JobServer.start({ port: 0, workers: 1, ui: { port, optional: true } });
    expect(optional.uiUrl).toBeUndefined();
    await optional.stop();
  });
});

describe("the job UI and the CLI's client over TLS", () => {
  it("serves HTTPS with the job server's certificate, and the client commands connect with --tls-ca", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ui-tls-"));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
    const secure = await JobServer.start({ port: 0, workers: 1, authTokens: [ALICE], tls: { certFile: cert, keyFile: key }, ui: { port: 0 } });
    try {
      expect(secure.uiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${secure.uiUrl}/api/jobs`, { ca: readFileSync(cert), headers: { authorization: `Bearer ${ALICE}` } }, (res) => {
            let text = "";
            res.on("data", (d: Buffer) => (text += d.toString()));
            res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))));
          })
          .on("error", reject);
      });
      expect(JSON.parse(body)).toEqual({ jobs: [] });
      const client = jobServiceClient({ endpoint: `localhost:${secure.address.split(":").at(-1)}`, tlsCa: cert, authTokenFile: tokenFile(ALICE) });
      try {
        expect(await listJobs(client, false)).toBe("no jobs");
      } finally {
        client.close();
      }
    } finally {
      await secure.stop();
    }
  });
});
