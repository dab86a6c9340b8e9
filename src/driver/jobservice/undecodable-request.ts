// grpc-js answers a request its deserializer throws on with INTERNAL ("Error deserializing
// request"), as if the server were broken. A request that is not a valid proto is the client's
// error: the services here decode through `decodeTolerantly`, which hands the handler an
// UndecodableRequest instead, and the handler answers INVALID_ARGUMENT.
import type * as grpc from "@grpc/grpc-js";

export class UndecodableRequest {
  constructor(
    /** The RPC's method name, e.g. 'Prepare'. */
    readonly method: string,
    /** The decoder's reason. */
    readonly reason: string,
  ) {}

  get message(): string {
    return `the ${this.method} request is not a valid message: ${this.reason}`;
  }
}

/** The definition with every method's request decoder returning an UndecodableRequest rather than throwing. */
export function decodeTolerantly(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const methods = Object.entries(definition).map(([name, method]) => {
    const decode = (bytes: Buffer): unknown => {
      try {
        return method.requestDeserialize(bytes) as unknown;
      } catch (e) {
        return new UndecodableRequest(method.path.split("/").pop() || name, e instanceof Error ? e.message : String(e));
      }
    };
    return [name, { ...method, requestDeserialize: decode }];
  });
  return Object.fromEntries(methods) as grpc.ServiceDefinition;
}
