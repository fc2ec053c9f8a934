/**
 * The local API Gateway emulator: the events it builds (payload format 2.0)
 * and the answers it gives itself, checked with a recording handler.
 */
import { connect } from "node:net";
import type { ApiEvent, ApiResult } from "@align-onboarding/core";
import { type ApiGateway, LocalDefaults, signToken, startApiGateway } from "@align-onboarding/local";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let gateway: ApiGateway;
const seen: { event: ApiEvent; context: Context }[] = [];
const jwt = LocalDefaults.jwt;

beforeAll(async () => {
  gateway = await startApiGateway({
    routes: [
      { method: "POST", path: "/things/{thing_id}", function: "record", auth: "jwt" },
      { method: "GET", path: "/open", function: "record", auth: "none" },
      { method: "GET", path: "/slow", function: "slow", auth: "none" },
    ],
    jwt,
    timeoutSeconds: (name) => (name === "slow" ? 0.2 : 30),
    loadHandler: async (name) => {
      if (name === "slow") return () => new Promise<ApiResult>(() => undefined);
      return async (event, context) => {
        seen.push({ event, context });
        return { statusCode: 202, headers: { "x-handled": "yes" }, body: "handled" };
      };
    },
  });
});
afterAll(() => gateway.close());

describe("events", () => {
  it("builds a payload 2.0 event with path parameters, query, lower-cased headers and string claims", async () => {
    const token = signToken(jwt, "user-1", 3600, { groups: ["a", "b"], level: 3 });
    const response = await fetch(`${gateway.url}/things/caf%C3%A9?x=1&x=2&y=3`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", "X-Custom": "v" },
      body: '{"a":1}',
    });
    expect(response.status).toBe(202);
    expect(response.headers.get("x-handled")).toBe("yes");
    expect(await response.text()).toBe("handled");
    const { event, context } = seen.at(-1) ?? { event: undefined, context: undefined };
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "POST /things/{thing_id}",
      rawPath: "/things/caf%C3%A9",
      rawQueryString: "x=1&x=2&y=3",
      queryStringParameters: { x: "1,2", y: "3" },
      pathParameters: { thing_id: "café" },
      body: '{"a":1}',
      isBase64Encoded: false,
      headers: { "content-type": "application/json", "x-custom": "v" },
    });
    expect(event?.requestContext.authorizer.jwt.claims).toMatchObject({ sub: "user-1", groups: "[a b]", level: "3" });
    expect(context?.getRemainingTimeInMillis()).toBeGreaterThan(29_000);
  });

  it("base64-encodes a body that is not text", async () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    await fetch(`${gateway.url}/things/x`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken(jwt, "u")}`, "content-type": "application/octet-stream" },
      body: bytes,
    });
    const event = seen.at(-1)?.event;
    expect(event?.isBase64Encoded).toBe(true);
    expect(Buffer.from(event?.body ?? "", "base64")).toEqual(bytes);
  });

  it("passes no authorizer on a route without auth", async () => {
    await fetch(`${gateway.url}/open`);
    expect(seen.at(-1)?.event.requestContext.authorizer).toBeUndefined();
  });
});

describe("the gateway's own answers", () => {
  it("404 for an unknown route or method, 401 for a bad token, 500 when the function times out", async () => {
    expect((await fetch(`${gateway.url}/nothing`)).status).toBe(404);
    expect((await fetch(`${gateway.url}/open`, { method: "DELETE" })).status).toBe(404);
    const unauthorized = await fetch(`${gateway.url}/things/x`, { method: "POST" });
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toEqual({ message: "Unauthorized" });
    const slow = await fetch(`${gateway.url}/slow`);
    expect(slow.status).toBe(500);
    expect(await slow.json()).toEqual({ message: "Internal Server Error" });
  });
});

/**
 * Sends raw bytes and reads the whole answer. Resolves with what came back and
 * whether the socket was reset (an `error`) rather than closed after an answer.
 */
function raw(request: string | Buffer): Promise<{ status: number; body: string; reset: boolean }> {
  const { port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), "127.0.0.1");
    const chunks: Buffer[] = [];
    let reset = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no answer within 5 s"));
    }, 5_000);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {
      reset = true;
    });
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4), reset });
    });
    // The server may answer and close before all of an oversized request is written.
    socket.write(request, () => undefined);
  });
}

describe("requests API Gateway refuses before routing: answered, never a reset connection", () => {
  const get = (target: string, headers = "") => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`;

  it("414 for a request line over the 10240-byte quota", async () => {
    for (const length of [10_300, 80_000]) {
      const answer = await raw(get(`/open?q=${"a".repeat(length)}`));
      expect(answer, `URL of ${length} bytes`).toMatchObject({ status: 414, reset: false });
      expect(JSON.parse(answer.body)).toEqual({ message: "Request-URI Too Long" });
    }
  });

  it("431 for request line plus headers over the quota, within and beyond the parser's own limit", async () => {
    for (const length of [11_000, 80_000, 2 * 1024 * 1024]) {
      const answer = await raw(get("/open", `X-Big: ${"b".repeat(length)}\r\n`));
      expect(answer, `header of ${length} bytes`).toMatchObject({ status: 431, reset: false });
      expect(JSON.parse(answer.body)).toEqual({ message: "Request Header Fields Too Large" });
    }
    // Many small headers count together, as the quota says.
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${"c".repeat(30)}\r\n`).join("");
    expect(await raw(get("/open", many))).toMatchObject({ status: 431, reset: false });
    // Just under the quota still reaches the function.
    expect((await raw(get("/open", `X-Fits: ${"d".repeat(9_000)}\r\nConnection: close\r\n`))).status).toBe(202);
  });

  it("404 for a method no route has, even one Node's parser does not know", async () => {
    for (const method of ["FOO", "BREW", "PURGE"]) {
      const answer = await raw(`${method} /open HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
      expect(answer, method).toMatchObject({ status: 404, reset: false });
      expect(JSON.parse(answer.body)).toEqual({ message: "Not Found" });
    }
  });

  it("400 for an invalid character in a header name or value, or in the method", async () => {
    for (const request of [
      "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n",
      "GET /open HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Ctl: a\x01b\r\n\r\n",
      "G(T /open HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ]) {
      const answer = await raw(request);
      expect(answer, JSON.stringify(request)).toMatchObject({ status: 400, reset: false });
      expect(JSON.parse(answer.body)).toEqual({ message: "Bad Request" });
    }
  });

  it("404 for CONNECT (no route can have it): answered, not dropped", async () => {
    for (const target of ["example.com:443", "127.0.0.1:22"]) {
      const answer = await raw(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
      expect(answer, target).toMatchObject({ status: 404, reset: false });
      expect(JSON.parse(answer.body)).toEqual({ message: "Not Found" });
    }
  });

  it("keeps serving after all of that", async () => {
    expect((await fetch(`${gateway.url}/open`)).status).toBe(202);
  });
});

describe("JWT claims, as API Gateway's authorizer checks and passes them", () => {
  /** Signs claims as given (signToken fills iss, aud, iat and exp first). */
  const call = (claims: Record<string, unknown>) =>
    fetch(`${gateway.url}/things/x`, {
      method: "POST",
      headers: { authorization: `Bearer ${signToken(jwt, "placeholder", 3600, claims)}` },
    });

  it("refuses a sub that is not a string (null, a number, a boolean, an array, an object) before any function runs", async () => {
    const before = seen.length;
    for (const sub of [null, 123, 0, true, false, ["a"], { id: "a" }]) {
      const answer = await call({ sub });
      expect(answer.status, JSON.stringify(sub)).toBe(401);
      expect(await answer.json()).toEqual({ message: "Unauthorized" });
    }
    expect(seen.length).toBe(before);
  });

  it("passes an empty or blank string sub on, as API Gateway does: the function refuses it (test/auth-principal.test.ts)", async () => {
    for (const sub of ["", "   "]) {
      expect((await call({ sub })).status).toBe(202);
      const claims = (seen.at(-1)?.event.requestContext.authorizer.jwt.claims ?? {}) as Record<string, string>;
      expect(claims.sub).toBe(sub);
    }
  });

  it("refuses a token issued in the future (iat), as API Gateway does", async () => {
    expect((await call({ iat: Math.floor(Date.now() / 1000) + 600 })).status).toBe(401);
  });

  it("passes a string sub as is, other claims as text, and leaves null claims out", async () => {
    const answer = await call({ sub: "user-9", email_verified: true, tenant: null, roles: ["a", "b"] });
    expect(answer.status).toBe(202);
    const claims = seen.at(-1)?.event.requestContext.authorizer.jwt.claims as Record<string, string>;
    expect(claims).toMatchObject({ sub: "user-9", email_verified: "true", roles: "[a b]" });
    expect(claims).not.toHaveProperty("tenant");
    for (const value of Object.values(claims)) expect(typeof value).toBe("string");
  });
});

describe("a request that trickles in is cut off with a status in bounded time", () => {
  /** API Gateway's bound is 30 s; the emulator's is a setting, shortened here so the test takes a second. */
  const BOUND_MS = 600;
  let slow: ApiGateway;
  const reached: string[] = [];
  beforeAll(async () => {
    slow = await startApiGateway({
      routes: [{ method: "POST", path: "/open", function: "record", auth: "none" }],
      jwt,
      requestTimeoutMs: BOUND_MS,
      loadHandler: async () => async (event) => {
        reached.push(event.routeKey);
        return { statusCode: 202, headers: {}, body: "handled" };
      },
    });
  });
  afterAll(() => slow.close());

  /** Writes `head` at once, then `drip` one byte every 100 ms; the answer and how long it took. */
  function trickle(head: string, drip: string) {
    const { port } = new URL(slow.url);
    const started = performance.now();
    return new Promise<{ status: number; body: string; reset: boolean; ms: number }>((resolve) => {
      const socket = connect(Number(port), "127.0.0.1");
      const chunks: Buffer[] = [];
      let reset = false;
      let sent = 0;
      const dripper = setInterval(() => {
        if (sent < drip.length && socket.writable) socket.write(drip[sent++] ?? "");
      }, 100);
      const giveUp = setTimeout(() => socket.destroy(), 10_000);
      socket.on("data", (chunk) => chunks.push(chunk));
      socket.on("error", () => {
        reset = true;
      });
      socket.on("close", () => {
        clearInterval(dripper);
        clearTimeout(giveUp);
        const text = Buffer.concat(chunks).toString("latin1");
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(text)?.[1] ?? 0);
        resolve({ status, body: text.slice(text.indexOf("\r\n\r\n") + 4), reset, ms: performance.now() - started });
      });
      socket.write(head);
    });
  }

  it("408 when the headers trickle in", async () => {
    const answer = await trickle(
      "POST /open HTTP/1.1\r\nHost: 127.0.0.1\r\n",
      "X-Slow: abcdefghijklmnopqrstuvwxyz\r\n",
    );
    expect(answer).toMatchObject({ status: 408, reset: false });
    expect(JSON.parse(answer.body)).toEqual({ message: "Request Timeout" });
    expect(answer.ms).toBeGreaterThan(BOUND_MS * 0.9);
    expect(answer.ms).toBeLessThan(BOUND_MS + 1_000);
  });

  it("408 when the body trickles in, and the function never runs", async () => {
    const body = "x".repeat(100);
    const answer = await trickle(
      `POST /open HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    );
    expect(answer).toMatchObject({ status: 408, reset: false });
    expect(JSON.parse(answer.body)).toEqual({ message: "Request Timeout" });
    expect(answer.ms).toBeGreaterThan(BOUND_MS * 0.9);
    expect(answer.ms).toBeLessThan(BOUND_MS + 1_000);
    expect(reached).toEqual([]);
  });

  it("a request sent whole in time is served", async () => {
    const answer = await fetch(`${slow.url}/open`, { method: "POST", body: "ok" });
    expect(answer.status).toBe(202);
    expect(reached).toEqual(["POST /open"]);
  });
});
