import type * as grpc from "@grpc/grpc-js";

/** Unlimited message sizes: pipelines, bundles and grouped values can be large. */
export const GRPC_UNLIMITED = { "grpc.max_receive_message_length": -1, "grpc.max_send_message_length": -1 };

/** Waits for in-flight calls to finish, but not longer than `graceMs` (a client may hold a stream open). */
export async function shutdownServer(server: grpc.Server, graceMs = 5000): Promise<void> {
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
