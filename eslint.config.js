// ESLint (flat config): typescript-eslint's type-aware recommended rules over the TypeScript
// sources, tests, benchmarks and the CDK app. `npm run lint` runs it with the dependency rules
// (.dependency-cruiser.cjs); npm test runs both first.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "build/", ".cache/", "cdk.out/", "**/*.js", "**/*.cjs", "**/*.mjs", "src/shuffle/wasm/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ["vitest.config.ts"] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An async method without await is how a synchronous implementation meets an async interface
      // (backends, actor hosts, fakes in tests): the rule would have us wrap them in Promise.resolve.
      "@typescript-eslint/require-await": "off",
      // `_`-prefixed names and rest siblings say "deliberately unused" (`const { replyTo: _, ...task }`).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
);
