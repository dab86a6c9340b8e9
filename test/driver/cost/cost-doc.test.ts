// docs/cost.md's tables are the model's, rendered: `npm run cost:model -- --write` rewrites them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { costTablesIn, renderCostTables, withCostTables } from "../../../src/driver/cost/index.js";

const DOC = new URL("../../../docs/cost.md", import.meta.url);

describe("docs/cost.md", () => {
  it("holds the tables the cost model renders today", () => {
    expect(costTablesIn(readFileSync(DOC, "utf8")), "run `npm run cost:model -- --write`").toBe(renderCostTables());
  });

  it("keeps the text around the tables when they are rewritten", () => {
    const doc = "intro\n<!-- BEGIN cost tables (generated: npm run cost:model -- --write) -->\nold\n<!-- END cost tables -->\noutro\n";
    const rewritten = withCostTables(doc, "new");
    expect(rewritten).toBe("intro\n<!-- BEGIN cost tables (generated: npm run cost:model -- --write) -->\nnew\n<!-- END cost tables -->\noutro\n");
    expect(costTablesIn(rewritten)).toBe("new");
  });
});
