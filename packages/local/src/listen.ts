import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on loopback (port 0: any free one) and resolves with the base URL. */
export async function listen(server: Server, port = 0, host = "127.0.0.1"): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { address, port: bound } = server.address() as AddressInfo;
  return `http://${address}:${bound}`;
}

/** Stops accepting, drops idle keep-alive connections, resolves when closed. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
