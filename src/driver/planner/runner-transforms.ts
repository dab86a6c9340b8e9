import { Transforms } from "../../common/urns.js";

/**
 * Transforms the runner executes itself rather than handing to an SDK. Reshuffle is a
 * composite in the SDKs (random keys + GroupByKey); the runner does it without either.
 */
export const RUNNER_TRANSFORMS = new Set<string>([Transforms.impulse, Transforms.groupByKey, Transforms.flatten, Transforms.reshuffle]);
