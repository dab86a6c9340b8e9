// The job UI in a real browser: Playwright drives Debian's Chromium (scripts/setup-browser.sh)
// against `beam-lambda job-server --ui-port 0` while a real Beam Python pipeline runs
// (test/cli/gated_pipeline.py, held mid-run until the test lets it go) and after it ends. The
// page's stage graph and task counts must match what the job server reports on its own path:
// the job's closing message ("ran N stages as M tasks"). Screenshots go to test-results/ui/.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";
import type { JobDetail, JobSummary } from "../../src/driver/ui/job-view.js";
import { startJobServerProcess } from "../driver/job-api.js";
import { until } from "./until.js";

const PIPELINE = new URL("../cli/gated_pipeline.py", import.meta.url).pathname;
const SCREENSHOTS = new URL("../../test-results/ui/", import.meta.url).pathname;

/** Debian's Chromium; missing, the test fails saying how to install it (never skips). */
function chromiumPath(): string {
  try {
    return execFileSync("bash", [new URL("../../scripts/setup-browser.sh", import.meta.url).pathname], { encoding: "utf8" }).trim();
  } catch (e) {
    throw new Error(`no Chromium for the UI test: run scripts/setup-browser.sh as root (${(e as Error).message})`, { cause: e });
  }
}

describe("the job UI in Chromium", () => {
  let server: Awaited<ReturnType<typeof startJobServerProcess>>;
  let ui: string;
  let browser: Browser;
  let client: ChildProcess | undefined;
  const workdir = mkdtempSync(join(tmpdir(), "ui-test-"));

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const executablePath = chromiumPath();
    server = await startJobServerProcess(["--workers", "2", "--ui-port", "0"]);
    ui = /job UI: (\S+)\)/.exec(server.line)![1]!;
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
  });

  afterAll(async () => {
    client?.kill("SIGKILL");
    await browser?.close();
    server?.child.kill("SIGTERM");
  });

  const api = async <T>(path: string): Promise<T> => (await fetch(`${ui}${path}`)).json() as Promise<T>;

  /** Numbers the page shows in its summary and graph. */
  async function shown(page: Page) {
    const text = async (id: string) => Number(await page.getByTestId(id).textContent());
    const nodes = page.locator("[data-testid=stage-graph] g.node");
    const nodeDone = await nodes.evaluateAll((gs) => gs.map((g) => Number(g.getAttribute("data-done"))));
    return {
      stagesDone: await text("stages-done"),
      stagesTotal: await text("stages-total"),
      tasksDone: await text("tasks-done"),
      tasksTotal: await text("tasks-total"),
      nodes: await nodes.count(),
      edges: await page.locator("[data-testid=stage-graph] g.edge").count(),
      sideEdges: await page.locator("[data-testid=stage-graph] g.edge.side").count(),
      groupByKeyEdges: await page.locator("[data-testid=stage-graph] g.edge", { hasText: "GroupByKey" }).count(),
      nodeDoneSum: nodeDone.reduce((a, b) => a + b, 0),
      bars: await page.locator("[data-testid=timeline] rect.attempt:not(.queued)").count(),
    };
  }

  it("shows a running job live, then its end: graph, task counts, timeline, metrics and cost", async () => {
    const gate = join(workdir, "gate");
    client = spawn(
      defaultPython(),
      [PIPELINE, "--output", join(workdir, "out"), "--gate", gate, "--runner=PortableRunner", `--job_endpoint=${server.address}`, "--job_name=ui-watched"],
      { stdio: "ignore" },
    );
    const clientExit = new Promise<number | null>((resolve) => client!.on("exit", resolve));
    const job = await until("the job to run", async () => (await api<{ jobs: JobSummary[] }>("/api/jobs")).jobs.find((j) => j.name === "ui-watched" && j.state === "RUNNING"));
    // The gated stage has started: some task of it is running.
    await until("a running task", async () => ((await api<JobDetail>(`/api/jobs/${job.id}`)).progress.totals.running > 0 ? true : undefined));

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(`${ui}/#/jobs/${job.id}`);
    await expect.poll(() => page.getByTestId("job-state").textContent()).toBe("RUNNING");
    const running = await shown(page);
    const detail = await api<JobDetail>(`/api/jobs/${job.id}`);
    // The graph is the plan's: a node per fused stage, an edge per stage read, GroupByKeys and the side input marked.
    expect(running.nodes).toBe(detail.graph.nodes.length);
    expect(running.edges).toBe(detail.graph.edges.length);
    expect(running.sideEdges).toBe(detail.graph.edges.filter((e) => e.kind === "side").length);
    expect(running.groupByKeyEdges).toBe(detail.graph.edges.filter((e) => e.label === "GroupByKey").length);
    // The pipeline has a side input (its total) and groups twice (Sum, Total) before the write's own.
    expect(running.sideEdges).toBeGreaterThanOrEqual(1);
    expect(running.groupByKeyEdges).toBeGreaterThanOrEqual(2);
    expect(running.stagesTotal).toBe(running.nodes);
    expect(running.stagesDone).toBeLessThan(running.stagesTotal);
    expect(running.tasksDone).toBeLessThan(running.tasksTotal);
    expect(await page.locator("[data-testid=stage-graph] g.node.running").count()).toBeGreaterThan(0);
    expect(await page.locator("[data-testid=timeline] rect.attempt.running").count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, "job-running.png"), fullPage: true });

    // Let it go: the page follows the job to its end without a reload (server-sent events).
    writeFileSync(gate, "");
    await expect.poll(() => page.getByTestId("job-state").textContent(), { timeout: 120_000 }).toBe("DONE");
    expect(await clientExit).toBe(0);
    const final = await until("the final counts", async () => {
      const s = await shown(page);
      return s.stagesDone === s.stagesTotal ? s : undefined;
    });
    // What the job server itself said at the end, on its own path (the scheduler's commit count).
    const messages = (await api<JobDetail>(`/api/jobs/${job.id}`)).messages;
    const ran = messages.map((m) => /ran (\d+) stages as (\d+) tasks/.exec(m.text)).find(Boolean)!;
    expect(ran, JSON.stringify(messages)).toBeTruthy();
    const [stages, tasks] = [Number(ran[1]), Number(ran[2])];
    expect(final).toMatchObject({ stagesDone: stages, stagesTotal: stages, tasksDone: tasks, tasksTotal: tasks, nodes: stages, nodeDoneSum: tasks });
    // Nothing failed, so each task has one bar on the timeline, committed.
    expect(final.bars).toBe(tasks);
    expect(await page.locator("[data-testid=timeline] rect.attempt[data-outcome=committed]").count()).toBe(tasks);
    // The pipeline's counter, and the stage table's elements: the Create stage wrote all 5000 elements.
    await expect.poll(() => page.getByTestId("metrics").textContent()).toContain("gated:elements");
    expect(await page.getByTestId("metrics").locator("tr", { hasText: "gated:elements" }).locator("td").last().textContent()).toBe("5000");
    const elementsOut = await page.locator("[data-testid=stage-table] td[data-col=elements-out]").allTextContents();
    expect(elementsOut.map(Number)).toContain(5000);
    // ...and the stage reading them took in all 5000.
    const elementsIn = await page.locator("[data-testid=stage-table] td[data-col=elements-in]").allTextContents();
    expect(elementsIn.map(Number)).toContain(5000);
    expect(await page.getByTestId("cost-total").textContent()).toMatch(/^\$\d/);
    await page.screenshot({ path: join(SCREENSHOTS, "job-done.png"), fullPage: true });

    // Another memory size: the page asks the server again, and the Lambda part of the cost scales with it.
    const atDefault = await api<JobDetail>(`/api/jobs/${job.id}`);
    const atHalf = await api<JobDetail>(`/api/jobs/${job.id}?memory=${atDefault.cost.memoryMb / 2}`);
    const lambdaUsd = (d: JobDetail) => d.cost.lines.filter((l) => l.item.startsWith("Lambda duration")).reduce((s, l) => s + l.usd, 0);
    expect(lambdaUsd(atHalf)).toBeCloseTo(lambdaUsd(atDefault) / 2, 12);
    await page.getByTestId("memory").selectOption("1024");
    await expect.poll(() => page.url()).toContain("memory=1024");

    // The job list.
    await page.goto(`${ui}/#/`);
    const row = page.getByTestId("job-list").locator(`tr[data-job="${job.id}"]`);
    await expect.poll(() => row.textContent()).toContain("DONE");
    expect(await row.textContent()).toContain("ui-watched");
    await page.screenshot({ path: join(SCREENSHOTS, "job-list.png"), fullPage: true });
    await page.close();
  });
});
