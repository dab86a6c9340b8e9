// Small TCP helpers shared by process managers (emulated Lambda environments, local actors).
import { Socket, createServer } from "node:net";

/** A port free on 127.0.0.1 at the time of asking. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => res(port));
    });
  });
}

/** Whether something accepts TCP connections on host:port now. */
export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise<boolean>((res) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      res(true);
    });
    socket.once("error", () => res(false));
    socket.connect(port, host);
  });
}
