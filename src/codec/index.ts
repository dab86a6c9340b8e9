export * from "./byte-io.js";
export * from "./coders.js";
export * from "./windows.js";
export * from "./skippers.js";
export * from "./merge-windows.js";
