/**
 * The transport's answer handling pinned branch by branch (issue 17, mutation
 * testing): Align's request id on a parsed result, bodies that are not
 * objects, the cause chain that decides whether a request may have reached
 * Align, and the abort and listener discipline of the retry wait. The fetch is
 * injected (it is the network boundary); the Transport is the code under test.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import type { FetchLike } from "../src/http-fetch.js";
import {
  AlignAbortError,
  AlignConnectionError,
  AlignServerError,
  AlignUnexpectedResponseError,
  alignRequestId,
} from "../src/index.js";
import { type ApiResponse, errorFromResponse, parseResponse } from "../src/transport.js";
import { testTransport } from "./support/scripted-align.js";

const headers = (values: Record<string, string> = {}) => ({
  get: (name: string) => values[name.toLowerCase()] ?? null,
});
const answer = (body: unknown, requestId?: string): ApiResponse => ({
  status: 200,
  headers: headers(),
  body,
  requestId,
});
const transport = (fetch: FetchLike, maxRetries = 2) =>
  testTransport({ baseUrl: "http://127.0.0.1:9", timeoutMs: 1_000, maxRetries, fetch });
const get = { method: "GET", path: "/customers" } as const;

describe("parseResponse: Align's request id travels with an object result, invisibly", () => {
  it("an object result carries it, not enumerable, so JSON and spreads do not show it", () => {
    const result = parseResponse(z.object({ id: z.string() }), answer({ id: "c1" }, "req_1"));
    expect(alignRequestId(result)).toBe("req_1");
    expect(Object.getOwnPropertyDescriptor(result, "_request_id")).toMatchObject({
      value: "req_1",
      enumerable: false,
    });
    expect(JSON.stringify(result)).toBe('{"id":"c1"}');
    expect({ ...result }).toEqual({ id: "c1" });
  });

  it("without a request id nothing is attached", () => {
    const result = parseResponse(z.object({ id: z.string() }), answer({ id: "c1" }));
    expect(Object.getOwnPropertyDescriptor(result, "_request_id")).toBeUndefined();
    expect(alignRequestId(result)).toBeUndefined();
  });

  it("a string or null result is returned as it is, with nothing attached (and no TypeError)", () => {
    expect(parseResponse(z.string(), answer("ok", "req_2"))).toBe("ok");
    expect(parseResponse(z.null(), answer(null, "req_3"))).toBeNull();
  });

  it("a body off the documented shape is an AlignUnexpectedResponseError saying so, with the status and id", () => {
    let caught: unknown;
    try {
      parseResponse(z.object({ id: z.string() }), { ...answer({ id: 7 }, "req_4"), status: 201 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AlignUnexpectedResponseError);
    expect(caught).toMatchObject({
      message: "Align answered 201 with a body that does not match the documented shape",
      status: 201,
      code: "unexpected_response",
      requestId: "req_4",
    });
  });
});

describe("errorFromResponse over a body that is not an object", () => {
  it("a JSON null body gives the status's error with the plain message, not a TypeError", () => {
    const error = errorFromResponse({ status: 500, headers: headers(), body: null, requestId: undefined });
    expect(error).toBeInstanceOf(AlignServerError);
    expect(error.message).toBe("Align answered 500");
    expect(error.code).toBe("http_500");
  });
});

/** An error whose cause chain is `depth` deep, the last one with `code`. */
function chain(depth: number, code: string): Error {
  let error: Error = Object.assign(new Error("innermost"), { code });
  for (let i = 1; i < depth; i++) error = new Error(`level ${depth - i}`, { cause: error });
  return error;
}
const refusedWith =
  (cause: unknown): FetchLike =>
  () =>
    Promise.reject(cause);

describe("a connection failure's cause chain: read 20 deep, AggregateErrors included", () => {
  it("a refusal found 20 causes deep means the request never ran: named, and a POST is retried", async () => {
    let calls = 0;
    const error = await transport(() => {
      calls += 1;
      return Promise.reject(chain(20, "ECONNREFUSED"));
    }, 1)
      .request({ method: "POST", path: "/customers", body: {} })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AlignConnectionError);
    expect(error).toMatchObject({ mayHaveReachedServer: false, message: "Could not reach Align: ECONNREFUSED" });
    expect(calls).toBe(2);
  });

  it("one cause deeper (21) is not read: the request may have run, and a POST is not retried", async () => {
    let calls = 0;
    const error = await transport(() => {
      calls += 1;
      return Promise.reject(chain(21, "ECONNREFUSED"));
    }, 1)
      .request({ method: "POST", path: "/customers", body: {} })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ mayHaveReachedServer: true, message: "Could not reach Align: level 1" });
    expect(calls).toBe(1);
  });

  it("a null cause ends the chain (no TypeError): the failure is still a connection error", async () => {
    const error = await transport(refusedWith(new Error("socket hang up", { cause: null })), 0)
      .request(get)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AlignConnectionError);
    expect(error).toMatchObject({ mayHaveReachedServer: true, message: "Could not reach Align: socket hang up" });
  });

  it("a refusal inside an AggregateError (Node's happy eyeballs) counts as never connected", async () => {
    const aggregate = new AggregateError([Object.assign(new Error("connect"), { code: "ECONNREFUSED" })], "all failed");
    const error = await transport(refusedWith(aggregate), 0)
      .request(get)
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ mayHaveReachedServer: false, message: "Could not reach Align: ECONNREFUSED" });
  });
});

describe("the wait before a retry", () => {
  it("a signal aborted by the time the wait starts fails at once, with the signal's reason as cause", async () => {
    const controller = new AbortController();
    const reason = new Error("user left");
    const started = Date.now();
    const error = await transport(async () => {
      controller.abort(reason);
      return { status: 503, headers: headers({ "retry-after-ms": "800" }), text: async () => "" };
    })
      .request(get, { signal: controller.signal })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AlignAbortError);
    expect((error as Error).cause).toBe(reason);
    expect(Date.now() - started).toBeLessThan(600);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("an abort during the wait fails with the reason as cause and leaves no listener behind", async () => {
    const controller = new AbortController();
    const reason = new Error("screen closed");
    const pending = transport(async () => ({
      status: 503,
      headers: headers({ "retry-after-ms": "5000" }),
      text: async () => "",
    }))
      .request(get, { signal: controller.signal })
      .catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    controller.abort(reason);
    const error = await pending;
    expect(error).toBeInstanceOf(AlignAbortError);
    expect((error as Error).cause).toBe(reason);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("a wait that ends normally removes its abort listener", async () => {
    const controller = new AbortController();
    let calls = 0;
    const result = await transport(async () => {
      calls += 1;
      return calls === 1
        ? { status: 503, headers: headers({ "retry-after-ms": "20" }), text: async () => "" }
        : { status: 200, headers: headers(), text: async () => "{}" };
    }).request(get, { signal: controller.signal });
    expect(result.status).toBe(200);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});
