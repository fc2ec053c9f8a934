import type { IncomingMessage, ServerResponse } from "node:http";

/** A JSON answer (no body when `body` is undefined). */
export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** `false` leaves out `x-request-id` (an answer from something in front of Align). Default true. */
  withRequestId?: boolean;
}

export const MAX_BODY_BYTES = 1024 * 1024;
const BODY_TIMEOUT_MS = 10_000;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors?: { path: string[]; message: string }[],
  ) {
    super(message);
  }

  toReply(): Reply {
    return {
      status: this.status,
      body: { message: this.message, code: this.code, ...(this.errors ? { errors: this.errors } : {}) },
    };
  }
}

/** Reads the whole body, bounded in size and time. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(
      () => fail(new HttpError(408, "request_timeout", "Request body took too long")),
      BODY_TIMEOUT_MS,
    );
    const fail = (error: Error) => {
      clearTimeout(timer);
      req.removeAllListeners("data");
      reject(error);
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) return fail(new HttpError(413, "payload_too_large", "Request body is too large"));
      chunks.push(chunk);
    });
    req.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on("error", fail);
    req.on("aborted", () => fail(new Error("client aborted")));
  });
}

/** Parses a JSON body; `undefined` for an empty one. */
export function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    throw new HttpError(400, "invalid_json", "Request body is not valid JSON");
  }
}

/** Requires a JSON object body. */
export function jsonObject(raw: Buffer): Record<string, unknown> {
  const value = parseJson(raw);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "invalid_body", "Request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

export function send(res: ServerResponse, reply: Reply, requestId: string): void {
  if (res.headersSent || res.destroyed) return;
  const id = reply.withRequestId === false ? {} : { "x-request-id": requestId };
  if (reply.body === undefined) {
    // No body at all (204): no content type either.
    res.writeHead(reply.status, { ...id, ...reply.headers });
    res.end();
    return;
  }
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...id,
    ...reply.headers,
  });
  res.end(body);
}
