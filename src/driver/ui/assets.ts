// The page's files: index.html and app.css as they are, app.ts bundled by esbuild (with dagre
// for the graph layout) the first time the UI is asked for it, and kept.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export interface UiAssets {
  html: string;
  css: string;
  script: string;
}

const PAGE = new URL("./page/", import.meta.url);

let assets: Promise<UiAssets> | undefined;

export function uiAssets(): Promise<UiAssets> {
  assets ??= build().catch((e: unknown) => {
    assets = undefined;
    throw e;
  });
  return assets;
}

async function build(): Promise<UiAssets> {
  const { build: bundle } = await import("esbuild");
  const result = await bundle({
    entryPoints: [fileURLToPath(new URL("app.ts", PAGE))],
    bundle: true,
    write: false,
    format: "iife",
    target: "es2022",
    minify: true,
    legalComments: "none",
  });
  const [html, css] = await Promise.all([readFile(new URL("index.html", PAGE), "utf8"), readFile(new URL("app.css", PAGE), "utf8")]);
  return { html, css, script: result.outputFiles[0]!.text };
}
