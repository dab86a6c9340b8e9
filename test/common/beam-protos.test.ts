// Our Beam protos (npm apache-beam 2.49.0) are older than the SDKs that talk to the runner (2.77),
// so every message must keep the fields it does not know, as protobuf does. The package's
// generated readers threw a ReferenceError instead (`wireType is not defined`) until
// patches/apache-beam+2.49.0.patch, applied by `npm ci`'s postinstall, fixed all of them.
import { execFileSync } from "node:child_process";
import { BinaryWriter, type IMessageType, UnknownFieldHandler, WireType } from "@protobuf-ts/runtime";
import * as artifactApi from "apache-beam/proto/beam_artifact_api";
import * as fnApi from "apache-beam/proto/beam_fn_api";
import * as jobApi from "apache-beam/proto/beam_job_api";
import * as provisionApi from "apache-beam/proto/beam_provision_api";
import * as runnerApi from "apache-beam/proto/beam_runner_api";
import * as metrics from "apache-beam/proto/metrics";
import { describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";

const modules = { artifactApi, fnApi, jobApi, provisionApi, runnerApi, metrics };

/** Every message type a module exports (protobuf-ts exports one MessageType instance per message). */
function messageTypes(module: object): Array<IMessageType<object>> {
  return Object.values(module).filter(
    (v): v is IMessageType<object> => typeof v === "object" && v !== null && "typeName" in v && typeof (v as { fromBinary?: unknown }).fromBinary === "function",
  );
}

/** A field number no Beam message uses, so that every reader meets it as unknown. */
const UNKNOWN_FIELD = 4242;

describe("the Beam protos' generated readers", () => {
  it.each(Object.entries(modules))("in %s keep an unknown field and write it back", (_, module) => {
    // protobuf-ts generates no reader for a message without fields: it drops whatever it is
    // sent (the next test checks that Beam 2.77 gives none of them a field).
    const types = messageTypes(module).filter((type) => type.fields.length > 0);
    const bytes = new BinaryWriter().tag(UNKNOWN_FIELD, WireType.LengthDelimited).string("from a newer SDK").finish();
    expect(types.length).toBeGreaterThan(0);

    const failures = types.flatMap((type) => {
      try {
        const message = type.fromBinary(bytes);
        const kept = UnknownFieldHandler.list(message).map((f) => f.no);
        if (kept.join() !== String(UNKNOWN_FIELD)) return [`${type.typeName}: kept fields [${kept.join(", ")}]`];
        if (Buffer.compare(Buffer.from(type.toBinary(message)), Buffer.from(bytes)) !== 0) return [`${type.typeName}: re-encoded differently`];
        return [];
      } catch (e) {
        return [`${type.typeName}: ${(e as Error).message}`];
      }
    });

    expect(failures).toEqual([]);
  });

  it("have no message without fields to which the Python SDK's protos (2.77) give fields", () => {
    const empty = Object.values(modules).flatMap((m) => messageTypes(m).filter((type) => type.fields.length === 0).map((type) => type.typeName));
    expect(empty.length).toBeGreaterThan(0);

    const gained = JSON.parse(
      execFileSync(
        defaultPython(),
        [
          "-c",
          `
import json, sys
from google.protobuf import descriptor_pool
from apache_beam.portability.api import beam_artifact_api_pb2, beam_fn_api_pb2, beam_job_api_pb2, beam_provision_api_pb2, beam_runner_api_pb2, metrics_pb2
pool = descriptor_pool.Default()
print(json.dumps([n for n in json.loads(sys.argv[1]) if pool.FindMessageTypeByName(n).fields]))
`,
          JSON.stringify(empty),
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
      ),
    ) as string[];

    expect(gained).toEqual([]);
  });
});
