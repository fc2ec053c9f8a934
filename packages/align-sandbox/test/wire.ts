/**
 * Test helpers over real HTTP on 127.0.0.1: a caller for the emulator's
 * routes and a webhook receiver that keeps the exact bytes and headers of
 * every delivery it gets.
 */
import { createHmac } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { AlignSandbox } from "../src/index.js";

/** One JSON call to the emulator; `text` is the body exactly as sent. */
export async function call(
  sandbox: AlignSandbox,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const init: RequestInit = { method, headers: { "content-type": "application/json", ...headers } };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const response = await fetch(`${sandbox.url}${path}`, init);
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: (text === "" ? undefined : JSON.parse(text)) as Record<string, unknown>,
  };
}

/** One request a receiver got, its body kept as raw bytes. */
export interface Received {
  body: Buffer;
  headers: IncomingHttpHeaders;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Resolves once `count` requests have arrived in all. */
  waitFor(count: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** A webhook receiver on loopback that answers 200 (or `status`) and keeps everything it got. */
export async function startReceiver(status = 200): Promise<Receiver> {
  const received: Received[] = [];
  let waiters: { count: number; resolve: (all: Received[]) => void }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(status).end();
      const ready = waiters.filter((waiter) => received.length >= waiter.count);
      waiters = waiters.filter((waiter) => received.length < waiter.count);
      for (const waiter of ready) waiter.resolve(received);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    waitFor: (count) =>
      received.length >= count ? Promise.resolve(received) : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Align's signature: hex HMAC-SHA256 of the raw body, keyed with the API key. */
export function sign(key: string, body: Buffer | string): string {
  return createHmac("sha256", key).update(body).digest("hex");
}
