// The layer order of docs/architecture.md, checked by dependency-cruiser (`npm run lint`; npm test
// runs it). A module may import from its own layer and the layers below it, never above:
//   cli → driver → backends → actors → worker → shuffle, store → codec → common
// and src/ never imports the CDK app, tests, benchmarks or a devDependency (what the images ship
// is `npm ci --omit=dev`).
const LAYERS = ["common", "codec", "shuffle|store", "worker", "actors", "backends", "driver", "cli"];

/** For each layer, a rule forbidding imports from every layer above it. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.replace("|", "-")}`,
  comment: `src/${layer} is below ${LAYERS.slice(i + 1).join(", ")}: it must not import them`,
  severity: "error",
  from: { path: `^src/(${layer})/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join("|")})/` },
}));

module.exports = {
  forbidden: [
    { name: "no-circular", severity: "error", comment: "import cycles, type-only imports included", from: {}, to: { circular: true } },
    ...layerRules,
    {
      name: "src-not-outside",
      severity: "error",
      comment: "src/ is what ships: it never imports the CDK app, tests or benchmarks",
      from: { path: "^src/" },
      to: { path: "^(cdk|test|bench|localstack|moto)/" },
    },
    {
      name: "src-no-dev-dependencies",
      severity: "error",
      comment: "the images install dependencies only (npm ci --omit=dev)",
      from: { path: "^src/" },
      to: { dependencyTypes: ["npm-dev"] },
    },
    { name: "not-to-unresolvable", severity: "error", from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/shuffle/wasm/" },
    // Type-only imports count: a type cycle is still a cycle in the design.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
  },
};
