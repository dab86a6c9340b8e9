// The State API as one task sees it: side inputs (read-only, loaded from the object store on
// first use), user state (user-state.ts: bag, multimap and ordered-list protocols), kept for the
// whole task so that timer bundles see the state their elements wrote, and the runner's pages of
// huge groups.
import { UnknownFieldHandler } from "@protobuf-ts/runtime";
import type { StateRequest, StateResponse } from "apache-beam/proto/beam_fn_api";
import { ByteReader } from "../codec/byte-io.js";
import { type CoderTree, splitKv, splitWindowedValue } from "../codec/coders.js";
import type { SideInputSpec } from "../common/task-spec.js";
import type { ObjectStore } from "../store/index.js";
import { type ReadOptions, readElements } from "../shuffle/edge-reader.js";
import { orderedListStateKeyOf } from "./ordered-list-state-key.js";
import { UserState } from "./user-state.js";

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

interface SideInputIndex {
  /** Values by window, in input order (iterable access). */
  values: Map<string, Uint8Array[]>;
  /** Values by window then key (multimap access). */
  byKey: Map<string, Map<string, { key: Uint8Array; values: Uint8Array[] }>>;
}

export class TaskStateStore {
  private readonly sideInputs = new Map<string, Promise<SideInputIndex>>();
  private readonly userState = new UserState();

  constructor(
    private readonly store: ObjectStore,
    private readonly specs: SideInputSpec[],
    private readonly coders: (id: string) => CoderTree,
    /** Huge groups' values (StateKey.Runner) come from `overflow`; side inputs keep every value inline. */
    private readonly readOptions: ReadOptions,
  ) {}

  handle = async (request: StateRequest): Promise<StateResponse["response"]> => {
    const key = request.stateKey?.type;
    const op = request.request;
    switch (key?.oneofKind) {
      case "iterableSideInput": {
        const k = key.iterableSideInput;
        const index = await this.sideInput(k.transformId, k.sideInputId);
        return get(op, concat(index.values.get(latin1(k.window)) ?? []));
      }
      case "multimapSideInput": {
        const k = key.multimapSideInput;
        const index = await this.sideInput(k.transformId, k.sideInputId);
        return get(op, concat(index.byKey.get(latin1(k.window))?.get(latin1(k.key))?.values ?? []));
      }
      case "multimapKeysSideInput": {
        const k = key.multimapKeysSideInput;
        const index = await this.sideInput(k.transformId, k.sideInputId);
        return get(op, concat([...(index.byKey.get(latin1(k.window))?.values() ?? [])].map((e) => e.key)));
      }
      case "bagUserState":
        return this.userState.bag(key.bagUserState, op);
      case "multimapKeysUserState":
        return this.userState.multimapKeys(key.multimapKeysUserState, op);
      case "multimapUserState":
        return this.userState.multimap(key.multimapUserState, op);
      case "runner": {
        const overflow = this.readOptions.overflow;
        if (!overflow || op.oneofKind !== "get") throw new Error(`this task serves no runner state for '${op.oneofKind}'`);
        return { oneofKind: "get", get: overflow.read(key.runner.key, op.get.continuationToken) };
      }
      case undefined: {
        // A key newer than our protos arrives as an unknown field of the StateKey: ordered-list
        // state (field 9) is served; multimap_keys_values_side_input (8), Java's
        // multimap_entries_user_state (10) and anything newer are not.
        const orderedList = request.stateKey && orderedListStateKeyOf(request.stateKey);
        if (orderedList) return this.userState.orderedList(orderedList, op);
        const fields = request.stateKey ? UnknownFieldHandler.list(request.stateKey).map((f) => f.no) : [];
        throw new Error(`this runner does not serve the state key it was sent (StateKey field(s) ${fields.join(", ") || "none"})`);
      }
      default:
        // Every kind our protos know is handled above; this is for the day they know more.
        throw new Error(`this runner does not serve state keys of type '${(key as { oneofKind: string }).oneofKind}'`);
    }
  };

  private sideInput(transformId: string, tag: string): Promise<SideInputIndex> {
    const id = `${transformId}\0${tag}`;
    let index = this.sideInputs.get(id);
    if (!index) {
      const spec = this.specs.find((s) => s.transformId === transformId && s.tag === tag);
      if (!spec) return Promise.reject(new Error(`no side input '${tag}' for transform '${transformId}'`));
      index = this.loadSideInput(spec);
      this.sideInputs.set(id, index);
    }
    return index;
  }

  private async loadSideInput(spec: SideInputSpec): Promise<SideInputIndex> {
    const wire = this.coders(spec.input.wireCoderId);
    const elements = await readElements(this.store, spec.input, this.coders, this.readOptions);
    const index: SideInputIndex = { values: new Map(), byKey: new Map() };
    for (const element of elements) {
      const wv = splitWindowedValue(wire, new ByteReader(element));
      for (const window of wv.windows) {
        const w = latin1(window);
        if (spec.accessPattern === "iterable") {
          const list = index.values.get(w) ?? [];
          list.push(wv.value);
          index.values.set(w, list);
        } else {
          const { key, value } = splitKv(wire.components[0]!, wv.value);
          const keys = index.byKey.get(w) ?? new Map<string, { key: Uint8Array; values: Uint8Array[] }>();
          index.byKey.set(w, keys);
          const slot = keys.get(latin1(key)) ?? { key, values: [] };
          slot.values.push(value);
          keys.set(latin1(key), slot);
        }
      }
    }
    return index;
  }
}

function get(op: StateRequest["request"], data: Uint8Array): StateResponse["response"] {
  if (op.oneofKind !== "get") throw new Error(`side inputs are read-only; got '${op.oneofKind}'`);
  return { oneofKind: "get", get: { data, continuationToken: new Uint8Array() } };
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
