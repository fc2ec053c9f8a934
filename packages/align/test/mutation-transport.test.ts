/**
 * The transport's rules pinned branch by branch (issue 17, mutation testing),
 * against a scripted HTTP server on 127.0.0.1 that records what it received.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FetchLike } from "../src/http-fetch.js";
import {
  AlignAbortError,
  AlignAuthenticationError,
  AlignConflictError,
  AlignConnectionError,
  AlignError,
  AlignNotFoundError,
  AlignPermissionDeniedError,
  AlignRateLimitError,
  AlignServerError,
  AlignValidationError,
  alignRequestId,
  httpFetch,
} from "../src/index.js";
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

function transport(
  overrides: { fetch?: FetchLike; baseUrl?: string; maxRetries?: number; wire?: WireNegotiator } = {},
) {
  return testTransport({ ...overrides, baseUrl: overrides.baseUrl ?? base });
}
const get: ApiRequest = { method: "GET", path: "/customers/c1" };
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error as AlignError,
  );

describe("what is sent", () => {
  it("GET: the URL under /v0 (trailing slashes of the base dropped), query encoded, accept and user agent, no body", async () => {
    await transport({ baseUrl: `${base}//` }).request({ ...get, query: { email: "a+b@example.com" } });
    const [sent] = received;
    expect(sent?.url).toBe("/v0/customers/c1?email=a%2Bb%40example.com");
    expect(sent?.method).toBe("GET");
    expect(sent?.headers.accept).toBe("application/json");
    expect(sent?.headers["user-agent"]).toBe(`align-onboarding/0.1.0 node/${process.versions.node}`);
    expect(sent?.headers["content-type"]).toBeUndefined();
    expect(sent?.headers["api-key"]).toBe("test-key");
    expect(sent?.body).toBe("");
  });

  it("POST with a body: JSON with its content type; without a query no '?'", async () => {
    await transport().request({ method: "POST", path: "/customers", body: { a: 1 } });
    const [sent] = received;
    expect(sent?.url).toBe("/v0/customers");
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(sent?.body).toBe('{"a":1}');
  });
});

describe("answers", () => {
  it("resolves any 2xx (an empty body as ''), and a 300 is an error", async () => {
    script = [{ status: 299, body: "" }];
    const ok = await transport().request(get);
    expect(ok.status).toBe(299);
    expect(ok.body).toBe("");
    script = [{ status: 200, body: "plain text" }];
    expect((await transport().request(get)).body).toBe("plain text");
    script = [{ status: 300, body: "{}" }];
    const error = await failure(transport().request(get));
    expect(error).toBeInstanceOf(AlignError);
    expect(error.status).toBe(300);
    expect(error).not.toBeInstanceOf(AlignServerError);
  });

  it("maps each status to its error, with Align's message, code and request id", async () => {
    const cases: [number, new (...args: never[]) => AlignError][] = [
      [403, AlignPermissionDeniedError],
      [404, AlignNotFoundError],
      [409, AlignConflictError],
      [429, AlignRateLimitError],
      [500, AlignServerError],
    ];
    for (const [status, kind] of cases) {
      script = [{ status, body: JSON.stringify({ message: "nope", code: "c_x" }), headers: { "x-request-id": "rq" } }];
      const error = await failure(transport({ maxRetries: 0 }).request({ method: "POST", path: "/x", body: {} }));
      expect(error).toBeInstanceOf(kind);
      expect(error.message).toBe(`Align answered ${status}: nope`);
      expect(error.code).toBe("c_x");
      expect(error.requestId).toBe("rq");
    }
    script = [{ status: 418, body: JSON.stringify({ error: "teapot" }) }];
    const other = await failure(transport().request(get));
    expect(other.constructor).toBe(AlignError);
    expect(other.message).toBe("Align answered 418: teapot");
    expect(other.code).toBe("http_418");
    script = [{ status: 418, body: JSON.stringify({ message: 5 }) }];
    expect((await failure(transport().request(get))).message).toBe("Align answered 418");
  });

  it("400 and 422 are validation errors carrying Align's field errors in every spelling", async () => {
    for (const status of [400, 422]) {
      script = [
        {
          status,
          body: JSON.stringify({
            errors: [
              { message: "bad email", path: ["customer", 0] },
              { message: "bad name", field: "name.first" },
              { message: "whole request" },
              { path: ["ignored"] },
            ],
          }),
        },
      ];
      const error = await failure(transport().request(get));
      expect(error).toBeInstanceOf(AlignValidationError);
      expect((error as AlignValidationError).errors).toEqual([
        { path: ["customer", "0"], message: "bad email" },
        { path: ["name", "first"], message: "bad name" },
        { path: [], message: "whole request" },
      ]);
    }
    script = [{ status: 400, body: JSON.stringify({ errors: "not a list" }) }];
    expect(((await failure(transport().request(get))) as AlignValidationError).errors).toEqual([]);
  });

  it("a Retry-After beyond 60 s is not waited out: the error surfaces after one request", async () => {
    script = [{ status: 503, headers: { "retry-after": "61" } }];
    const error = await failure(transport().request(get));
    expect(error.status).toBe(503);
    expect(error.retryAfterMs).toBe(61_000);
    expect(received).toHaveLength(1);
  });

  it("a retried GET obeys the server's Retry-After, then succeeds", async () => {
    script = [
      { status: 503, headers: { "retry-after-ms": "50" } },
      { status: 200, body: "{}" },
    ];
    const started = Date.now();
    expect((await transport().request(get)).status).toBe(200);
    expect(received).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});

describe("request ids", () => {
  it("alignRequestId reads only a string id from an object", () => {
    expect(alignRequestId(null)).toBeUndefined();
    expect(alignRequestId("text")).toBeUndefined();
    expect(alignRequestId({ _request_id: 5 })).toBeUndefined();
    expect(alignRequestId({ _request_id: "req-7" })).toBe("req-7");
  });
});

describe("failures without an answer", () => {
  const failing =
    (error: unknown): FetchLike =>
    async () => {
      throw error;
    };
  const codeError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

  it("a connection never made (each code, anywhere in the cause chain) is retried even for a POST", async () => {
    for (const code of ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]) {
      let calls = 0;
      const fetch: FetchLike = async (...args) => {
        calls += 1;
        if (calls === 1) throw new TypeError("fetch failed", { cause: codeError(code) });
        return httpFetch(...args);
      };
      const answer = await transport({ fetch }).request({ method: "POST", path: "/customers", body: {} });
      expect(answer.status).toBe(200);
      expect(calls).toBe(2);
    }
  });

  it("a reset connection may have reached Align: a POST is not retried, and the error names the last code", async () => {
    const error = await failure(
      transport({ fetch: failing(new TypeError("fetch failed", { cause: codeError("ECONNRESET") })) }).request({
        method: "POST",
        path: "/customers",
        body: {},
      }),
    );
    expect(error).toBeInstanceOf(AlignConnectionError);
    expect((error as AlignConnectionError).mayHaveReachedServer).toBe(true);
    expect(error.message).toBe("Could not reach Align: ECONNRESET");
  });

  it("finds codes inside an AggregateError, and falls back to the message without any code", async () => {
    const aggregate = new AggregateError([new Error("v6"), codeError("ECONNREFUSED")], "all failed");
    const refused = await failure(transport({ fetch: failing(aggregate), maxRetries: 0 }).request(get));
    expect((refused as AlignConnectionError).mayHaveReachedServer).toBe(false);
    expect(refused.message).toBe("Could not reach Align: ECONNREFUSED");
    const plain = await failure(
      transport({ fetch: failing(new Error("socket vanished")), maxRetries: 0 }).request(get),
    );
    expect(plain.message).toBe("Could not reach Align: socket vanished");
    const odd = await failure(transport({ fetch: failing("just a string"), maxRetries: 0 }).request(get));
    expect(odd.message).toBe("Could not reach Align: just a string");
  });

  it("a cause chain that loops is walked once", async () => {
    const a: Error & { cause?: unknown } = new Error("a");
    const b = Object.assign(new Error("b"), { cause: a, code: "EPIPE" });
    a.cause = b;
    const error = await failure(transport({ fetch: failing(a), maxRetries: 0 }).request(get));
    expect(error.message).toBe("Could not reach Align: EPIPE");
  });

  it("whatever fetch itself throws is a connection failure", async () => {
    const bug = new RangeError("programming error");
    const fetch: FetchLike = async () => {
      throw bug;
    };
    expect(await failure(transport({ fetch, maxRetries: 0 }).request(get))).toBeInstanceOf(AlignConnectionError);
  });

  it("an aborted signal stops before sending, and during a wait between retries", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    const early = await failure(transport().request(get, { signal: controller.signal }));
    expect(early).toBeInstanceOf(AlignAbortError);
    expect(received).toHaveLength(0);

    script = [{ status: 503, headers: { "retry-after": "5" } }];
    const waiting = new AbortController();
    setTimeout(() => waiting.abort(new Error("user left")), 100);
    const started = Date.now();
    const during = await failure(transport().request(get, { signal: waiting.signal }));
    expect(during).toBeInstanceOf(AlignAbortError);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(received).toHaveLength(1);
  });
});

describe("auth negotiation", () => {
  const learning = () => {
    const learned: { variant: string; tried: number }[] = [];
    const wire = new WireNegotiator({
      onLearned: (event) => learned.push({ variant: event.variant, tried: event.tried }),
    });
    return { wire, learned };
  };

  it("an answer that judged the request proves the key form; 401, 403, 408, 429, 5xx, 3xx and an auth 400 do not", async () => {
    for (const status of [200, 299, 400, 404, 409, 422, 499]) {
      const { wire, learned } = learning();
      script = [{ status, body: "{}" }];
      await transport({ wire, maxRetries: 0 })
        .request(get)
        .catch(() => undefined);
      expect(learned, `status ${status}`).toEqual([{ variant: "authorization", tried: 1 }]);
    }
    for (const status of [300, 302, 408, 429, 500, 503]) {
      const { wire, learned } = learning();
      script = [{ status, body: "{}" }];
      await transport({ wire, maxRetries: 0 })
        .request(get)
        .catch(() => undefined);
      expect(learned, `status ${status}`).toEqual([]);
    }
    // A refusal of the key proves nothing, even when the next form's answer is not one either.
    for (const refusal of [
      { status: 401 },
      { status: 403 },
      { status: 400, body: '{"message":"Missing Authentication Token"}' },
    ]) {
      const { wire, learned } = learning();
      script = [refusal, { status: 503 }];
      await transport({ wire, maxRetries: 0 })
        .request(get)
        .catch(() => undefined);
      expect(learned, `status ${refusal.status}`).toEqual([]);
    }
  });

  it("a refused key is retried with the next form, outside maxRetries, and the accepted form is learned", async () => {
    const { wire, learned } = learning();
    script = [{ status: 401 }, { status: 503 }, { status: 200, body: "{}" }];
    const answer = await transport({ wire, maxRetries: 1 }).request(get);
    expect(answer.status).toBe(200);
    expect(received.map((r) => [r.headers["api-key"], r.headers.authorization])).toEqual([
      [undefined, "test-key"],
      ["test-key", undefined],
      ["test-key", undefined],
    ]);
    expect(learned).toEqual([{ variant: "api-key", tried: 2 }]);
  });

  it("403 and a 400 speaking of authentication move on too; a 400 about anything else does not", async () => {
    const { wire, learned } = learning();
    script = [
      { status: 403, body: '{"message":"Forbidden"}' },
      { status: 400, body: '{"message":"Missing Authentication Token"}' },
      { status: 200, body: "{}" },
    ];
    expect((await transport({ wire, maxRetries: 0 }).request(get)).status).toBe(200);
    expect(received.map((r) => [r.headers["api-key"], r.headers.authorization])).toEqual([
      [undefined, "test-key"],
      ["test-key", undefined],
      [undefined, "Bearer test-key"],
    ]);
    expect(learned).toEqual([{ variant: "bearer", tried: 3 }]);

    received.length = 0;
    const other = learning();
    script = [{ status: 400, body: '{"message":"email is required"}' }];
    const error = await failure(transport({ wire: other.wire, maxRetries: 0 }).request(get));
    expect(error).toBeInstanceOf(AlignValidationError);
    expect(received).toHaveLength(1);
    expect(other.learned).toEqual([{ variant: "authorization", tried: 1 }]);
  });

  it("after every form is refused in one call the last refusal is the error; the next call starts from the form after it", async () => {
    const { wire } = learning();
    script = [
      { status: 401 },
      { status: 403 },
      { status: 400, headers: { "x-amzn-errortype": "MissingAuthenticationTokenException" } },
    ];
    const error = await failure(transport({ wire }).request(get));
    // A gateway's 400 refusing the key is an authentication error, not a judgement of the request.
    expect(error).toBeInstanceOf(AlignAuthenticationError);
    expect(error.status).toBe(400);
    expect(received).toHaveLength(3);
    script = [{ status: 200, body: "{}" }];
    await transport({ wire }).request(get);
    expect(received[3]?.headers.authorization).toBe("test-key");
  });

  it("a pinned form, or no time left in the budget, is not renegotiated", async () => {
    script = [{ status: 401 }];
    expect((await failure(transport().request(get))).status).toBe(401);
    expect(received).toHaveLength(1);
    received = [];
    script = [{ status: 401 }];
    const { wire } = learning();
    expect((await failure(transport({ wire }).request(get, { totalTimeoutMs: 50 }))).status).toBe(401);
    expect(received).toHaveLength(1);
  });
});
