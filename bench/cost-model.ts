// Prints docs/cost.md's tables from the cost model (src/driver/cost/); with --write, puts them
// into docs/cost.md between its markers (test/driver/cost/cost-doc.test.ts checks they agree).
//
//   npm run cost:model [-- --write]
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { COST_DOC_BEGIN, COST_DOC_END, renderCostTables, withCostTables } from "../src/driver/cost/index.js";

const tables = renderCostTables();
if (process.argv.includes("--write")) {
  const doc = fileURLToPath(new URL("../docs/cost.md", import.meta.url));
  writeFileSync(doc, withCostTables(readFileSync(doc, "utf8"), tables));
  console.log(`wrote the tables between ${COST_DOC_BEGIN} and ${COST_DOC_END} in ${doc}`);
} else {
  console.log(tables);
}
