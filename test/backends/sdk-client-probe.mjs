// Preloaded (node --import) into a process under test: when it exits, it writes which of the AWS
// SDK's client packages it loaded to $SDK_CLIENT_PROBE_FILE. The clients are CommonJS (no
// "exports" map: Node resolves their "main"), so even when imported from ESM they are in
// require's cache.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
process.on("exit", () => {
  const clients = new Set();
  for (const path of Object.keys(require.cache)) {
    const match = /[\\/]@aws-sdk[\\/](client-[^\\/]+)[\\/]/.exec(path);
    if (match) clients.add(match[1]);
  }
  writeFileSync(process.env.SDK_CLIENT_PROBE_FILE, JSON.stringify([...clients].sort()));
});
