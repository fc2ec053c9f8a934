import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";

/** The part of `fetch` the client uses; the global `fetch` satisfies it. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/**
 * Keep-alive sockets are dropped after 4 s idle, before a typical server
 * closes them (Node's default is 5 s), so a request is not sent on a socket
 * the server is closing: for a POST that would be an unknown outcome.
 */
const agentOptions = { keepAlive: true, timeout: 4_000 };
const agents = { "http:": new HttpAgent(agentOptions), "https:": new HttpsAgent(agentOptions) };

function bodyOf(response: IncomingMessage): Promise<string> {
  const text = new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    response.on("error", reject);
    response.on("aborted", () => reject(Object.assign(new Error("response aborted"), { code: "ECONNRESET" })));
  });
  text.catch(() => undefined); // read later by the caller; never an unhandled rejection meanwhile
  return text;
}

/**
 * The default transport: `node:http(s)` with keep-alive. It does what the
 * client needs of `fetch` without loading undici, which costs about 30 ms
 * on a Lambda cold start. Errors keep Node's codes (`ECONNREFUSED`, ...).
 */
export const httpFetch: FetchLike = (url, init) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const agent = target.protocol === "https:" ? agents["https:"] : agents["http:"];
    const request = send(
      target,
      { method: init.method, headers: init.headers, agent, signal: init.signal },
      (response) => {
        const text = bodyOf(response);
        resolve({
          status: response.statusCode ?? 0,
          headers: {
            get: (name) => {
              const value = response.headers[name.toLowerCase()];
              return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
            },
          },
          text: () => text,
        });
      },
    );
    request.on("error", reject);
    request.end(init.body);
  });
