/**
 * A relay on 127.0.0.1 between our functions and the Align emulator, real
 * sockets both ways, that can hold an answer after Align made the change and
 * before it reaches us: the order of two races is then decided by the test,
 * not by timing (a webhook overtaking our own write, a read answered late).
 */
import { createServer, request as httpRequest, type Server } from "node:http";
import { close, listen } from "../../packages/local/src/listen.js";

export interface Held {
  /** Resolves once the request is held: at the relay (`request`), or answered by Align (`answer`). */
  reached: Promise<void>;
  /** Lets it through. */
  release(): void;
}

/** Where a request is held: before Align sees it, or after Align answered (the change made). */
export type HoldPoint = "request" | "answer";

export interface AlignRelay {
  url: string;
  /** Holds the next request whose `METHOD path` matches, at `point` (default `answer`). */
  holdNext(pattern: RegExp, point?: HoldPoint): Held;
  close(): Promise<void>;
}

export async function startAlignRelay(target: string): Promise<AlignRelay> {
  const holds: { pattern: RegExp; point: HoldPoint; reached: () => void; released: Promise<void> }[] = [];
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const line = `${req.method} ${req.url}`;
      const index = holds.findIndex((hold) => hold.pattern.test(line));
      const hold = index >= 0 ? holds.splice(index, 1)[0] : undefined;
      if (hold?.point === "request") {
        hold.reached();
        await hold.released;
      }
      const forwarded = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: upstream.host },
        },
        (answer) => {
          const body: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => body.push(chunk));
          answer.on("end", async () => {
            if (hold?.point === "answer") {
              hold.reached();
              await hold.released;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      forwarded.on("error", () => res.destroy());
      forwarded.end(Buffer.concat(chunks));
    });
  });
  const url = await listen(server, 0, "127.0.0.1");
  return {
    url,
    holdNext(pattern, point = "answer") {
      let reached!: () => void;
      let release!: () => void;
      const reachedPromise = new Promise<void>((resolve) => {
        reached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.push({ pattern, point, reached, released });
      return { reached: reachedPromise, release };
    },
    close: () => {
      server.closeAllConnections();
      return close(server);
    },
  };
}
