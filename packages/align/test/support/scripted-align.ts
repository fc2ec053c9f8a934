/**
 * What the transport's tests share: a scripted HTTP server on 127.0.0.1 that
 * answers each request as told and reports what it received, and a Transport
 * with test defaults.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { type FetchLike, httpFetch } from "../../src/http-fetch.js";
import { Transport } from "../../src/transport.js";
import { WireNegotiator } from "../../src/wire.js";

export interface Scripted {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Starts the server; `answer` is told each request (body read whole) and says what to send back. */
export async function startScriptedAlign(
  answer: (request: Received) => Scripted,
): Promise<{ base: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const next = answer({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(next.status, { "content-type": "application/json", ...next.headers });
      res.end(next.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface TestTransportOptions {
  baseUrl: string;
  fetch?: FetchLike;
  maxRetries?: number;
  timeoutMs?: number;
  wire?: WireNegotiator;
}

/** A Transport with the tests' defaults: 2 retries, 2 s per attempt, the `api-key` header, real HTTP. */
export function testTransport(options: TestTransportOptions): Transport {
  return new Transport({
    baseUrl: options.baseUrl,
    apiKey: "test-key",
    timeoutMs: options.timeoutMs ?? 2_000,
    maxRetries: options.maxRetries ?? 2,
    fetch: options.fetch ?? httpFetch,
    wire: options.wire ?? new WireNegotiator({ authHeader: "api-key" }),
  });
}
