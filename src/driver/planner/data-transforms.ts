// The Fn API's data-plane endpoints the planner adds to a bundle descriptor: a data source the
// worker feeds the stage's input through, and a data sink per output it collects.
import { RemoteGrpcPort } from "apache-beam/proto/beam_fn_api";
import type { PTransform } from "apache-beam/proto/beam_runner_api";

/** Placeholder address of the data and state services; the worker fills in its own. */
export const WORKER_ENDPOINT_PLACEHOLDER = "worker-endpoint-placeholder";

/** A data source or sink (`urn`) whose elements travel encoded with `coderId`. */
export function dataTransform(id: string, urn: string, coderId: string, inputs: Record<string, string>, outputs: Record<string, string>): PTransform {
  const port = RemoteGrpcPort.toBinary({ apiServiceDescriptor: { url: WORKER_ENDPOINT_PLACEHOLDER }, coderId });
  return {
    uniqueName: id,
    spec: { urn, payload: port },
    subtransforms: [],
    inputs,
    outputs,
    displayData: [],
    environmentId: "",
    annotations: {},
  };
}
