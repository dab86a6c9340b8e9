import { fileURLToPath } from "node:url";
import { LocalObjectStore } from "./local-object-store.js";
import type { ObjectStore } from "./object-store.js";

/** Opens a store from its URL (`file:///path`, or a plain path). */
export function openObjectStore(url: string): ObjectStore {
  if (url.startsWith("file://")) return new LocalObjectStore(fileURLToPath(url));
  if (url.includes("://")) throw new Error(`unsupported object store URL '${url}'`);
  return new LocalObjectStore(url);
}
