/// <reference lib="dom" />
// The job UI's page: a job list (#/) and a job's page (#/jobs/ID) with its stage graph (laid out
// by dagre), per-stage progress, a task timeline, messages, user metrics and the cost estimate.
// A running job's page follows /api/jobs/ID/events (server-sent events); the list polls.
import dagreModule from "@dagrejs/dagre";
import type { AttemptRecord, StageProgress } from "../../progress/job-progress.js";
import type { GraphEdge, JobDetail, JobSummary, Timeline } from "../job-view.js";

/**
 * The part of dagre the page uses. Its bundled declarations import their modules without file
 * extensions, which NodeNext resolution cannot follow, so they arrive untyped.
 */
interface LayoutGraph {
  setGraph(label: { rankdir: string; nodesep: number; ranksep: number; marginx: number; marginy: number }): void;
  setDefaultEdgeLabel(label: () => object): void;
  setNode(id: string, label: { width: number; height: number }): void;
  setEdge(from: string, to: string, label: { label: string; width: number; height: number }, name: string): void;
  graph(): { width?: number; height?: number };
  node(id: string): { x: number; y: number };
  edge(edge: { v: string; w: string; name: string }): { points: { x: number; y: number }[]; x?: number; y?: number };
}
const dagre = dagreModule as unknown as { graphlib: { Graph: new (options: { multigraph: boolean }) => LayoutGraph }; layout(graph: LayoutGraph): void };

const app = document.getElementById("app")!;
let stopFollowing: (() => void) | undefined;

const escape = (text: unknown): string =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const seconds = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`);

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const usd = (n: number): string => (n === 0 ? "$0" : n < 0.01 ? `$${n.toPrecision(3)}` : `$${n.toFixed(4)}`);

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin" });
  const body = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

function route(): void {
  stopFollowing?.();
  stopFollowing = undefined;
  const match = /^#\/jobs\/(.+)$/.exec(location.hash);
  if (match) showJob(decodeURIComponent(match[1]!));
  else showList();
}

// --- The job list ---

function showList(): void {
  const render = async () => {
    try {
      const { jobs } = await getJson<{ jobs: JobSummary[] }>("/api/jobs");
      app.innerHTML = `<h1>Jobs</h1><section>${jobs.length === 0 ? `<p class="muted">No jobs yet.</p>` : listTable(jobs)}</section>`;
    } catch (e) {
      app.innerHTML = `<p class="error">${escape((e as Error).message)}</p>`;
    }
  };
  void render();
  const timer = setInterval(() => void render(), 2000);
  stopFollowing = () => clearInterval(timer);
}

function listTable(jobs: JobSummary[]): string {
  const rows = jobs.map((j) => {
    const end = j.terminal ? j.stateSince : Date.now();
    return `<tr data-job="${escape(j.id)}"><td><a href="#/jobs/${encodeURIComponent(j.id)}">${escape(j.id)}</a></td><td>${escape(j.name)}</td>
      <td class="state state-${escape(j.state)}">${escape(j.state)}</td><td>${new Date(j.createdAt).toLocaleString()}</td>
      <td class="num">${seconds(end - j.createdAt)}</td><td>${escape(j.backend)}</td></tr>`;
  });
  return `<table data-testid="job-list"><thead><tr><th>Job</th><th>Name</th><th>State</th><th>Started</th><th class="num">Duration</th><th>Backend</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

// --- One job ---

function showJob(id: string): void {
  const memory = new URLSearchParams(location.search).get("memory");
  const query = memory ? `?memory=${encodeURIComponent(memory)}` : "";
  const url = `/api/jobs/${encodeURIComponent(id)}`;
  getJson<JobDetail>(url + query).then(
    (detail) => {
      renderJob(detail);
      if (detail.job.terminal) return;
      const events = new EventSource(`${url}/events${query}`);
      events.addEventListener("job", (e) => renderJob(JSON.parse((e as MessageEvent<string>).data) as JobDetail));
      // The server ends the stream when the job ends; do not reconnect.
      events.onerror = () => events.close();
      stopFollowing = () => events.close();
    },
    (e: Error) => (app.innerHTML = `<p class="error">${escape(e.message)}</p>`),
  );
}

function renderJob(d: JobDetail): void {
  const { job, progress } = d;
  const end = job.terminal ? job.stateSince : Date.now();
  const t = progress.totals;
  app.innerHTML = `
    <h1>${escape(job.name)} <span class="muted">${escape(job.id)}</span>
      <span class="state state-${escape(job.state)}" data-testid="job-state">${escape(job.state)}</span></h1>
    <section data-testid="summary">
      <span data-testid="stages-done">${t.stagesDone}</span>/<span data-testid="stages-total">${t.stages}</span> stages ·
      <span data-testid="tasks-done">${t.tasksDone}</span>/<span data-testid="tasks-total">${t.tasks}</span> tasks ·
      ${t.running} running · ${t.failed} failed and ${t.lost} lost attempts · ${seconds(end - job.createdAt)} · backend ${escape(job.backend)}
    </section>
    <section class="graph"><h2>Stage graph</h2>${graphSvg(d)}</section>
    <section class="stages"><h2>Stages</h2>${stageTable(progress.stages)}</section>
    <section class="timeline"><h2>Task timeline</h2>${timelineSvg(d.timeline, end)}</section>
    <div class="grid">
      <section><h2>Estimated AWS cost</h2>${costTable(d)}</section>
      <section><h2>User metrics</h2>${metricsTable(d)}</section>
    </div>
    <section><h2>Messages</h2><div class="messages" data-testid="messages">${d.messages
      .map((m) => `<div>${escape(m.time)} ${escape(m.importance)} ${escape(m.text)}</div>`)
      .join("")}</div></section>`;
}

const NODE_WIDTH = 250;
const NODE_HEIGHT = 74;

function graphSvg({ graph, progress }: JobDetail): string {
  const byId = new Map(progress.stages.map((s) => [s.id, s]));
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 70, marginx: 10, marginy: 10 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  graph.edges.forEach((e, i) => g.setEdge(e.from, e.to, { label: e.label, width: e.label ? e.label.length * 6 : 0, height: e.label ? 14 : 0 }, `e${i}`));
  dagre.layout(g);
  const { width = 0, height = 0 } = g.graph();
  const edges = graph.edges.map((e: GraphEdge, i) => {
    const layout = g.edge({ v: e.from, w: e.to, name: `e${i}` });
    const path = layout.points.map((p, j) => `${j === 0 ? "M" : "L"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
    const label = e.label && layout.x !== undefined ? `<text x="${layout.x}" y="${layout.y! + 4}" text-anchor="middle">${escape(e.label)}</text>` : "";
    return `<g class="edge ${e.kind}" data-from="${escape(e.from)}" data-to="${escape(e.to)}" data-kind="${e.kind}"><title>${escape(e.pcollection)}</title><path d="${path}" marker-end="url(#arrow)"/>${label}</g>`;
  });
  const nodes = graph.nodes.map((n) => {
    const { x, y } = g.node(n.id);
    const s = byId.get(n.id)!;
    const left = x - NODE_WIDTH / 2;
    const top = y - NODE_HEIGHT / 2;
    const tasks = s.tasks ?? 0;
    const share = tasks === 0 ? 0 : Math.min(1, s.done / tasks);
    const name = n.name.length > 38 ? `${n.name.slice(0, 37)}…` : n.name;
    return `<g class="node ${s.state}" data-stage="${escape(n.id)}" data-tasks="${s.tasks ?? ""}" data-done="${s.done}">
      <title>${escape(n.transforms.join("\n") || n.name)}</title>
      <rect x="${left}" y="${top}" width="${NODE_WIDTH}" height="${NODE_HEIGHT}"/>
      <text class="title" x="${left + 8}" y="${top + 16}">${escape(n.id)} · ${escape(name)}</text>
      <text x="${left + 8}" y="${top + 32}">${n.runnerOnly ? "runner copy · " : ""}${n.transforms.length} transforms · ${s.state}</text>
      <text x="${left + 8}" y="${top + 48}">tasks ${s.done}/${s.tasks ?? "?"}${s.running ? ` · ${s.running} running` : ""}${s.failed + s.lost ? ` · ${s.failed + s.lost} failed` : ""}</text>
      <rect class="bar-bg" x="${left + 8}" y="${top + 57}" width="${NODE_WIDTH - 16}" height="7"/>
      <rect class="bar" x="${left + 8}" y="${top + 57}" width="${((NODE_WIDTH - 16) * share).toFixed(1)}" height="7"/>
    </g>`;
  });
  return `<svg data-testid="stage-graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a93a6"/></marker></defs>
    ${edges.join("")}${nodes.join("")}</svg>`;
}

function stageTable(stages: StageProgress[]): string {
  const rows = stages.map((s) => {
    const pending = s.tasks === undefined ? "" : Math.max(0, s.tasks - s.done - s.running);
    return `<tr data-stage="${escape(s.id)}"><td>${escape(s.id)}</td><td title="${escape(s.name)}">${escape(s.name.length > 60 ? `${s.name.slice(0, 59)}…` : s.name)}</td>
      <td class="state">${s.state}</td><td class="num" data-col="tasks">${s.tasks ?? ""}</td><td class="num">${pending}</td><td class="num">${s.running}</td>
      <td class="num" data-col="done">${s.done}</td><td class="num">${s.failed}</td><td class="num">${s.lost}</td><td class="num">${s.retried}</td><td class="num">${s.speculative}</td>
      <td class="num" data-col="elements-in">${s.elementsIn}</td><td class="num">${bytes(s.bytesIn)}</td>
      <td class="num" data-col="elements-out">${s.elementsOut}</td><td class="num">${bytes(s.bytesOut)}</td><td class="num">${bytes(s.bytesShuffled)}</td>
      <td class="num">${s.mergeTasks} (${s.mergedObjects})</td>
      <td class="num">${s.startedAt ? seconds((s.endedAt ?? Date.now()) - s.startedAt) : ""}</td></tr>`;
  });
  return `<table data-testid="stage-table"><thead><tr><th>Stage</th><th>Transforms</th><th>State</th><th class="num">Tasks</th><th class="num">Pending</th>
    <th class="num">Running</th><th class="num">Done</th><th class="num">Failed</th><th class="num">Lost</th><th class="num">Retried</th><th class="num">Speculative</th>
    <th class="num">Elements in</th><th class="num">Bytes in</th><th class="num">Elements out</th><th class="num">Bytes out</th><th class="num">Bytes shuffled</th><th class="num">Merges (objects)</th><th class="num">Time</th></tr></thead>
    <tbody>${rows.join("")}</tbody></table>`;
}

/** The server sends the attempts of the first tasks only (job-view.ts's TIMELINE_TASKS), in row order. */
function timelineSvg({ startedAt: start, tasks, attempts }: Timeline, end: number): string {
  if (start === undefined) return `<p class="muted">No task has started yet.</p>`;
  const rowKey = (a: AttemptRecord) => `${a.stageId}/${a.task}/${a.taskIndex}`;
  const shown = [...new Set(attempts.map(rowKey))];
  const rowOf = new Map(shown.map((r, i) => [r, i]));
  const span = Math.max(1, end - start);
  const [labelWidth, width, rowHeight] = [120, 900, shown.length > 100 ? 5 : 12];
  const x = (t: number) => labelWidth + ((t - start) / span) * (width - labelWidth);
  const bars = attempts.map((a) => {
    const row = rowOf.get(rowKey(a))!;
    const y = 20 + row * (rowHeight + 2);
    const outcome = a.outcome ?? "running";
    const title = `${a.stageId} ${a.task} ${a.taskIndex} attempt ${a.attempt}${a.speculative ? " (speculative)" : ""}: ${outcome}${a.startedAt ? `, ${seconds((a.endedAt ?? end) - a.startedAt)}` : ""}${a.error ? ` — ${a.error}` : ""}`;
    const queued = a.startedAt && a.startedAt > a.launchedAt ? `<rect class="attempt queued" x="${x(a.launchedAt)}" y="${y}" width="${Math.max(0.5, x(a.startedAt) - x(a.launchedAt))}" height="${rowHeight}"/>` : "";
    const from = a.startedAt ?? a.launchedAt;
    return `${queued}<rect class="attempt ${outcome}${a.speculative ? " speculative" : ""}" data-outcome="${outcome}" x="${x(from).toFixed(1)}" y="${y}" width="${Math.max(1, x(a.endedAt ?? end) - x(from)).toFixed(1)}" height="${rowHeight}"><title>${escape(title)}</title></rect>`;
  });
  const labels =
    rowHeight >= 10
      ? shown.map((r, i) => {
          const [stage, kind, index] = r.split("/");
          return `<text x="0" y="${20 + i * (rowHeight + 2) + rowHeight - 2}" font-size="10">${escape(stage)} ${kind === "merge" ? "merge " : ""}${index}</text>`;
        })
      : [];
  const height = 24 + shown.length * (rowHeight + 2);
  const more = tasks > shown.length ? `<p class="muted">${tasks - shown.length} more tasks not drawn.</p>` : "";
  const legend = ["committed", "running", "failed", "lost", "superseded", "queued"].map((o) => `<span><i class="${o}"></i>${o}</span>`);
  return `<div class="legend">${legend.join("")}</div>
    <svg data-testid="timeline" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
    <text x="${labelWidth}" y="12" font-size="10">0 s</text><text x="${width}" y="12" font-size="10" text-anchor="end">${seconds(span)}</text>
    ${labels.join("")}${bars.join("")}</svg>${more}`;
}

function costTable({ cost, job }: JobDetail): string {
  const memory = [128, 512, 1024, 1769, 3008, 10240]
    .map((mb) => `<option value="${mb}"${mb === cost.memoryMb ? " selected" : ""}>${mb} MB</option>`)
    .join("");
  const lines = cost.lines
    .filter((l) => l.quantity > 0)
    .map((l) => `<tr><td>${escape(l.item)}</td><td class="num">${l.quantity.toPrecision(4)} ${escape(l.unit)}</td><td class="num">${usd(l.usd)}</td></tr>`);
  const where = job.backend === "aws" ? "This job on Lambda" : `On Lambda (${cost.architecture}), this ${job.terminal ? "run" : "run so far"}`;
  return `<p>${where} with <select data-testid="memory" onchange="location.search='?memory='+this.value">${memory}</select> would cost
    <span class="cost-total" data-testid="cost-total">${usd(cost.totalUsd)}</span></p>
    <table><tbody>${lines.join("")}</tbody></table>
    <p class="muted">AWS on-demand prices, us-east-1, free tiers left out; every attempt billed for its run time here. See docs/ui.md.</p>`;
}

function metricsTable({ metrics }: JobDetail): string {
  if (metrics.length === 0) return `<p class="muted">None reported.</p>`;
  const rows = metrics.map((m) => `<tr><td>${escape(m.step)}</td><td>${escape(m.namespace)}:${escape(m.name)}</td><td class="num">${escape(m.value)}</td></tr>`);
  return `<table data-testid="metrics"><thead><tr><th>Step</th><th>Metric</th><th class="num">Value</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

window.addEventListener("hashchange", route);
document.getElementById("where")!.textContent = location.host;
route();
