// docs/configuration.md's table is src/common/config.ts's, rendered; and no BEAM_LAMBDA_ name
// appears in src/ or cdk/ that the table does not declare. UPDATE_CONFIG_DOCS=1 rewrites the table.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CONFIG } from "../../src/common/config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const DOC = join(root, "docs", "configuration.md");
const CONFIG_MODULE = join(root, "src", "common", "config.ts");
const BEGIN = "<!-- BEGIN config table (generated from src/common/config.ts) -->";
const END = "<!-- END config table -->";

function renderTable(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = Object.values(CONFIG).map((v) => `| \`${v.name}\` | ${v.readBy} | ${cell(v.type)} | ${cell(v.defaultText)} | ${cell(v.meaning)} |`);
  return ["| variable | read by | values | default | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

/** The doc's table (the text between the markers), and the doc with `table` in its place. */
function splitDoc(doc: string): { table: string; withTable(table: string): string } {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${DOC} lost its table markers (${BEGIN} ... ${END})`);
  const head = doc.slice(0, start + BEGIN.length);
  return { table: doc.slice(head.length, end).trim(), withTable: (table) => `${head}\n${table}\n${doc.slice(end)}` };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe("docs/configuration.md", () => {
  it("has the config module's table, one row per variable", () => {
    const expected = renderTable();
    const doc = splitDoc(readFileSync(DOC, "utf8"));
    if (process.env.UPDATE_CONFIG_DOCS && doc.table !== expected) writeFileSync(DOC, doc.withTable(expected));

    expect(splitDoc(readFileSync(DOC, "utf8")).table, "run UPDATE_CONFIG_DOCS=1 npx vitest run test/common/config-docs.test.ts").toBe(expected);
  });
});

describe("BEAM_LAMBDA_ names outside the config module", () => {
  const sources = [...filesUnder(join(root, "src")), ...filesUnder(join(root, "cdk"))].filter((f) => f !== CONFIG_MODULE && !f.includes("node_modules"));
  const declared: string[] = Object.values(CONFIG).map((v) => v.name);

  it("are all declared there (a name ending in _ stands for a family: EXECUTOR_*)", () => {
    const undeclared: string[] = [];
    for (const file of sources) {
      for (const [name] of readFileSync(file, "utf8").matchAll(/BEAM_LAMBDA_[A-Z0-9_]*/g)) {
        const known = name.endsWith("_") ? declared.some((d) => d.startsWith(name)) : declared.includes(name);
        if (!known) undeclared.push(`${relative(root, file)}: ${name}`);
      }
    }

    expect(undeclared).toEqual([]);
  });

  it("are never read from the environment directly in src/", () => {
    const direct = /env(\.|\[\s*["'`])BEAM_LAMBDA_/;
    const readers = sources.filter((f) => f.startsWith(join(root, "src")) && direct.test(readFileSync(f, "utf8")));

    expect(readers.map((f) => relative(root, f))).toEqual([]);
  });
});
