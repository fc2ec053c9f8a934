/**
 * The transport's time budget, Retry-After ceiling, per-attempt timeout, abort
 * and cleanup pinned branch by branch (issue 17, mutation testing). The fetch
 * is the network boundary and is injected wherever timing must be controlled;
 * boundaries are hit exactly by freezing `Date.now`, while timers stay real.
 */
import { getEventListeners } from "node:events";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { FetchLike } from "../src/http-fetch.js";
import {
  AlignAbortError,
  AlignConnectionError,
  AlignError,
  AlignRateLimitError,
  AlignServerError,
  AlignTimeoutError,
  alignRequestId,
  parseRetryAfter,
} from "../src/index.js";
import { MAX_RETRY_AFTER_MS } from "../src/retry.js";
import type { ApiRequest } from "../src/transport.js";
import { WireNegotiator } from "../src/wire.js";
import { type Received, type Scripted, startScriptedAlign, testTransport } from "./support/scripted-align.js";

let align: Awaited<ReturnType<typeof startScriptedAlign>>;
let base = "";
let script: Scripted[] = [];
let received: Received[] = [];

beforeAll(async () => {
  align = await startScriptedAlign((request) => {
    received.push(request);
    return script.shift() ?? { status: 200, body: "{}" };
  });
  base = align.base;
});
afterAll(() => align.close());
beforeEach(() => {
  script = [];
  received = [];
});
afterEach(() => {
  vi.restoreAllMocks();
});

type Init = Parameters<FetchLike>[1];

function transport(overrides: { fetch?: FetchLike; maxRetries?: number; timeoutMs?: number; wire?: WireNegotiator }) {
  return testTransport({ ...overrides, baseUrl: base });
}
const get: ApiRequest = { method: "GET", path: "/customers/c1" };
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error as AlignError,
  );
const headersOf = (values: Record<string, string>) => ({ get: (name: string) => values[name] ?? null });

/** A fetch that answers from `answers` in turn and records every init it was given. */
function scriptedFetch(answers: { status: number; headers?: Record<string, string> }[]) {
  const inits: Init[] = [];
  const fetch: FetchLike = async (_url, init) => {
    inits.push(init);
    const next = answers.shift() ?? { status: 200 };
    return { status: next.status, headers: headersOf(next.headers ?? {}), text: async () => "{}" };
  };
  return { fetch, inits };
}

/** A fetch that never answers; when its signal aborts it rejects with `rejection`. */
function stalledFetch(rejection: unknown) {
  const inits: Init[] = [];
  const fetch: FetchLike = (_url, init) => {
    inits.push(init);
    return new Promise((_resolve, reject) => {
      init.signal.addEventListener("abort", () => reject(rejection), { once: true });
    });
  };
  return { fetch, inits };
}

/** Freezes `Date.now` (timers stay real) so budget comparisons land exactly on their boundary. */
function freezeNow(): number {
  const now = 1_800_000_000_000;
  vi.spyOn(Date, "now").mockReturnValue(now);
  return now;
}

describe("alignRequestId", () => {
  it("gives undefined for undefined and functions, without reading them as objects", () => {
    expect(alignRequestId(undefined)).toBeUndefined();
    expect(alignRequestId(42)).toBeUndefined();
    expect(alignRequestId(Object.assign(() => undefined, { _request_id: "fn-id" }))).toBeUndefined();
  });
});

describe("what reaches fetch", () => {
  it("a request without a body passes no body key at all; with one, its JSON", async () => {
    const { fetch, inits } = scriptedFetch([{ status: 200 }, { status: 200 }]);
    await transport({ fetch }).request(get);
    expect(Object.keys(inits[0] ?? {}).sort()).toEqual(["headers", "method", "signal"]);
    await transport({ fetch }).request({ method: "POST", path: "/customers", body: { a: 1 } });
    expect(inits[1]?.body).toBe('{"a":1}');
  });

  it("a status below 200 is an error, not an answer", async () => {
    for (const status of [0, 101, 199]) {
      const { fetch } = scriptedFetch([{ status }]);
      const error = await failure(transport({ fetch, maxRetries: 0 }).request(get));
      expect(error.constructor).toBe(AlignError);
      expect(error.status).toBe(status);
    }
  });
});

describe("the total budget", () => {
  it("caps the attempt timeout: a stalled Align fails after the budget, not after timeoutMs", async () => {
    freezeNow();
    const { fetch, inits } = stalledFetch(new Error("socket closed by timeout"));
    const started = performance.now();
    const error = await failure(transport({ fetch, timeoutMs: 2_000 }).request(get, { totalTimeoutMs: 100 }));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error.constructor).toBe(AlignTimeoutError);
    expect(error.message).toBe("Align request timed out after 100 ms");
    expect((error as AlignTimeoutError).timeoutMs).toBe(100);
    // No retry fits the budget that is left.
    expect(inits).toHaveLength(1);
  });

  it("a 401 is renegotiated when exactly MIN_ATTEMPT_MS (100 ms) is left, not with 1 ms less", async () => {
    freezeNow();
    const fits = scriptedFetch([{ status: 401 }, { status: 200 }]);
    const answer = await transport({ fetch: fits.fetch, wire: new WireNegotiator() }).request(get, {
      totalTimeoutMs: 100,
    });
    expect(answer.status).toBe(200);
    expect(fits.inits.map((init) => [init.headers["api-key"], init.headers.authorization])).toEqual([
      [undefined, "test-key"],
      ["test-key", undefined],
    ]);

    const short = scriptedFetch([{ status: 401 }, { status: 200 }]);
    const error = await failure(
      transport({ fetch: short.fetch, wire: new WireNegotiator() }).request(get, { totalTimeoutMs: 99 }),
    );
    expect(error.status).toBe(401);
    expect(short.inits).toHaveLength(1);
  });

  it("a retry whose wait plus MIN_ATTEMPT_MS exactly fills the budget is made", async () => {
    freezeNow();
    const { fetch, inits } = scriptedFetch([{ status: 503, headers: { "retry-after-ms": "50" } }, { status: 200 }]);
    const answer = await transport({ fetch }).request(get, { totalTimeoutMs: 150 });
    expect(answer.status).toBe(200);
    expect(inits).toHaveLength(2);
  });

  it("a retry whose wait plus MIN_ATTEMPT_MS passes the budget by 1 ms is not: the error, after one request", async () => {
    freezeNow();
    const { fetch, inits } = scriptedFetch([{ status: 503, headers: { "retry-after-ms": "50" } }, { status: 200 }]);
    const error = await failure(transport({ fetch }).request(get, { totalTimeoutMs: 149 }));
    expect(error).toBeInstanceOf(AlignServerError);
    expect(error.retryAfterMs).toBe(50);
    expect(inits).toHaveLength(1);
  });
});

describe("the Retry-After ceiling", () => {
  it(`exactly ${MAX_RETRY_AFTER_MS} ms is waited out (here until the caller aborts)`, async () => {
    expect(MAX_RETRY_AFTER_MS).toBe(60_000);
    const { fetch, inits } = scriptedFetch([{ status: 429, headers: { "retry-after-ms": "60000" } }]);
    const controller = new AbortController();
    const reason = new Error("caller gave up");
    setTimeout(() => controller.abort(reason), 50);
    const error = await failure(transport({ fetch }).request(get, { signal: controller.signal }));
    expect(error).toBeInstanceOf(AlignAbortError);
    expect(error.cause).toBe(reason);
    expect(inits).toHaveLength(1);
  });

  it("1 ms more is not waited for: the rate-limit error surfaces at once", async () => {
    const { fetch, inits } = scriptedFetch([{ status: 429, headers: { "retry-after-ms": "60001" } }]);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("caller gave up")), 500);
    const error = await failure(transport({ fetch }).request(get, { signal: controller.signal }));
    clearTimeout(timer);
    expect(error).toBeInstanceOf(AlignRateLimitError);
    expect(error.retryAfterMs).toBe(60_001);
    expect(inits).toHaveLength(1);
  });
});

describe("abort and timeout of one attempt", () => {
  it("an already aborted signal: AlignAbortError whose cause is the signal's reason, nothing sent", async () => {
    const { fetch, inits } = scriptedFetch([]);
    const controller = new AbortController();
    const reason = new Error("cancelled before start");
    controller.abort(reason);
    const error = await failure(transport({ fetch }).request(get, { signal: controller.signal }));
    expect(error).toBeInstanceOf(AlignAbortError);
    expect(error.cause).toBe(reason);
    expect(inits).toHaveLength(0);
  });

  it("an abort mid-flight reaches fetch with its reason and is never retried: the cause is what fetch threw", async () => {
    for (const maxRetries of [0, 2]) {
      const thrownByFetch = new Error("fetch saw the abort");
      const { fetch, inits } = stalledFetch(thrownByFetch);
      const controller = new AbortController();
      const reason = new Error("user left");
      setTimeout(() => controller.abort(reason), 20);
      const error = await failure(transport({ fetch, maxRetries }).request(get, { signal: controller.signal }));
      expect(error.constructor).toBe(AlignAbortError);
      expect(error.cause).toBe(thrownByFetch);
      expect(inits).toHaveLength(1);
      expect(inits[0]?.signal.reason).toBe(reason);
    }
  });

  it("a timeout is an AlignTimeoutError with the attempt's timeout and fetch's error as cause", async () => {
    const thrownByFetch = new Error("fetch saw the timeout");
    const { fetch } = stalledFetch(thrownByFetch);
    const controller = new AbortController();
    const error = await failure(
      transport({ fetch, timeoutMs: 50, maxRetries: 0 }).request(get, { signal: controller.signal }),
    );
    expect(error.constructor).toBe(AlignTimeoutError);
    expect(error.message).toBe("Align request timed out after 50 ms");
    expect(error.cause).toBe(thrownByFetch);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("any other fetch failure is a connection error naming it, with it as cause", async () => {
    const thrownByFetch = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    const fetch: FetchLike = async () => {
      throw thrownByFetch;
    };
    const error = await failure(transport({ fetch, maxRetries: 0 }).request(get));
    expect(error.constructor).toBe(AlignConnectionError);
    expect(error.message).toBe("Could not reach Align: ECONNRESET");
    expect(error.cause).toBe(thrownByFetch);
  });
});

describe("after an attempt completes", () => {
  it("its timer is cleared: the signal fetch got is never aborted later", async () => {
    const { fetch, inits } = scriptedFetch([{ status: 200 }]);
    await transport({ fetch, timeoutMs: 50 }).request(get);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(inits[0]?.signal.aborted).toBe(false);
  });

  it("the caller's signal has no listener left, and aborting it no longer reaches fetch's signal", async () => {
    const { fetch, inits } = scriptedFetch([{ status: 503 }, { status: 200 }]);
    const controller = new AbortController();
    const answer = await transport({ fetch, maxRetries: 0 })
      .request(get, { signal: controller.signal })
      .catch((error: unknown) => error);
    expect(answer).toBeInstanceOf(AlignServerError);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    await transport({ fetch }).request(get, { signal: controller.signal });
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    controller.abort(new Error("too late"));
    expect(inits.map((init) => init.signal.aborted)).toEqual([false, false]);
  });

  it("the same holds over real HTTP", async () => {
    script = [{ status: 200, body: "{}" }];
    const controller = new AbortController();
    await transport({}).request(get, { signal: controller.signal });
    expect(received).toHaveLength(1);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });
});

describe("parseRetryAfter trims what a FetchLike may leave untrimmed", () => {
  it("retry-after-ms with spaces", () => {
    expect(parseRetryAfter(headersOf({ "retry-after-ms": " 1500 " }))).toBe(1_500);
    expect(parseRetryAfter(headersOf({ "retry-after-ms": "\t12.5 " }))).toBe(13);
  });

  it("retry-after seconds with spaces", () => {
    expect(parseRetryAfter(headersOf({ "retry-after": " 2 " }))).toBe(2_000);
  });

  it("an empty or blank retry-after gives undefined", () => {
    expect(parseRetryAfter(headersOf({ "retry-after": "" }))).toBeUndefined();
    expect(parseRetryAfter(headersOf({ "retry-after": "   " }))).toBeUndefined();
    expect(parseRetryAfter(headersOf({}))).toBeUndefined();
  });
});
