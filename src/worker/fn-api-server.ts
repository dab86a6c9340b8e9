// One gRPC server per worker process serving every Fn API service an SDK harness talks to:
// control, data, state, logging and provision, all on one port. Harnesses identify themselves
// with `worker_id` call metadata; each gets a HarnessConnection that the worker drives.
import * as grpc from "@grpc/grpc-js";
import {
  type Elements,
  type InstructionRequest,
  type InstructionResponse,
  type LogEntry_List,
  type StateRequest,
  type StateResponse,
  LogEntry_Severity_Enum,
} from "apache-beam/proto/beam_fn_api";
import {
  beamFnControlDefinition,
  beamFnDataDefinition,
  beamFnLoggingDefinition,
  beamFnStateDefinition,
} from "apache-beam/proto/beam_fn_api.grpc-server";
import { provisionServiceDefinition } from "apache-beam/proto/beam_provision_api.grpc-server";
import type { ProvisionInfo } from "apache-beam/proto/beam_provision_api";
import { GRPC_UNLIMITED, shutdownServer } from "../common/grpc.js";
import { HarnessConnection } from "./harness-connection.js";


export class FnApiServer {
  private readonly connections = new Map<string, HarnessConnection>();
  private readonly provisionInfo = new Map<string, ProvisionInfo>();

  private constructor(
    private readonly server: grpc.Server,
    /** host:port the harnesses dial. */
    readonly address: string,
  ) {}

  static async start(host = "127.0.0.1"): Promise<FnApiServer> {
    const server = new grpc.Server(GRPC_UNLIMITED);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const self = new FnApiServer(server, `${host}:${port}`);
    self.register();
    return self;
  }

  /** The connection state for a harness we are about to start; it fills in as its streams arrive. */
  connectionFor(workerId: string): HarnessConnection {
    let c = this.connections.get(workerId);
    if (!c) {
      c = new HarnessConnection(workerId);
      this.connections.set(workerId, c);
    }
    return c;
  }

  forget(workerId: string): void {
    this.connections.get(workerId)?.close(new Error(`harness ${workerId} was stopped`));
    this.connections.delete(workerId);
    this.provisionInfo.delete(workerId);
  }

  setProvisionInfo(workerId: string, info: ProvisionInfo): void {
    this.provisionInfo.set(workerId, info);
  }

  async stop(): Promise<void> {
    for (const id of [...this.connections.keys()]) this.forget(id);
    await shutdownServer(this.server, 1000);
  }

  private workerIdOf(call: { metadata: grpc.Metadata }): string {
    const id = call.metadata.get("worker_id")[0];
    return typeof id === "string" ? id : (id?.toString() ?? "");
  }

  private register(): void {
    this.server.addService(beamFnControlDefinition, {
      control: (call: grpc.ServerDuplexStream<InstructionResponse, InstructionRequest>) => {
        this.connectionFor(this.workerIdOf(call)).attachControl(call);
      },
      getProcessBundleDescriptor: (
        call: grpc.ServerUnaryCall<{ processBundleDescriptorId: string }, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        const descriptor = this.connectionFor(this.workerIdOf(call)).descriptor(call.request.processBundleDescriptorId);
        if (descriptor) callback(null, descriptor);
        else callback({ code: grpc.status.NOT_FOUND, details: `no descriptor '${call.request.processBundleDescriptorId}'` });
      },
    });
    this.server.addService(beamFnDataDefinition, {
      data: (call: grpc.ServerDuplexStream<Elements, Elements>) => this.connectionFor(this.workerIdOf(call)).attachData(call),
    });
    this.server.addService(beamFnStateDefinition, {
      state: (call: grpc.ServerDuplexStream<StateRequest, StateResponse>) => this.connectionFor(this.workerIdOf(call)).attachState(call),
    });
    this.server.addService(beamFnLoggingDefinition, {
      logging: (call: grpc.ServerDuplexStream<LogEntry_List, unknown>) => {
        const connection = this.connectionFor(this.workerIdOf(call));
        call.on("data", (list: LogEntry_List) => {
          for (const entry of list.logEntries) connection.onLog(entry);
        });
        call.on("error", () => undefined);
        call.on("end", () => call.end());
      },
    });
    this.server.addService(provisionServiceDefinition, {
      getProvisionInfo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const info = this.provisionInfo.get(this.workerIdOf(call));
        if (info) callback(null, { info });
        else callback({ code: grpc.status.NOT_FOUND, details: "no provision info for this worker" });
      },
    });
  }
}

export { LogEntry_Severity_Enum };
