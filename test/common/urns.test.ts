// Our URN constants must be Beam's: checked against the Python SDK's common_urns.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { defaultPython } from "../../src/driver/index.js";
import {
  Coders,
  Environments,
  MonitoringInfos,
  Requirements,
  ResourceHints,
  SideInputAccess,
  Transforms,
  UserStateProtocols,
  WindowFns,
} from "../../src/common/urns.js";

const beamUrns = JSON.parse(
  execFileSync(
    defaultPython(),
    [
      "-c",
      `
import json
from apache_beam.portability import common_urns
urns = set()
for group in vars(common_urns).values():
    for member in vars(group).values() if hasattr(group, "__dict__") else []:
        for value in vars(member).values() if hasattr(member, "__dict__") else []:
            urn = getattr(value, "urn", None) or getattr(getattr(value, "spec", None), "urn", None)
            if isinstance(urn, str): urns.add(urn)
print(json.dumps(sorted(urns)))
`,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  ),
) as string[];

/** URNs the Fn API defines outside common_urns (runner-side data ports). */
const NOT_IN_COMMON_URNS = new Set(["beam:runner:source:v1", "beam:runner:sink:v1"]);

describe("urns", () => {
  it("found Beam's URN list", () => {
    expect(beamUrns.length).toBeGreaterThan(100);
  });

  it.each(Object.entries({ Transforms, Coders, WindowFns, SideInputAccess, UserStateProtocols, Environments, Requirements, MonitoringInfos, ResourceHints }))(
    "%s are all Beam URNs",
    (_, group) => {
      const unknown = Object.values(group).filter((urn) => !NOT_IN_COMMON_URNS.has(urn) && !beamUrns.includes(urn));
      expect(unknown).toEqual([]);
    },
  );

  it("UserStateProtocols name every user-state protocol Beam defines (the planner must decide on each)", () => {
    const beamProtocols = beamUrns.filter((urn) => urn.startsWith("beam:user_state:"));
    expect(Object.values(UserStateProtocols).sort()).toEqual(beamProtocols.sort());
  });
});
