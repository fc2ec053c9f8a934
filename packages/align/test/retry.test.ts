import { describe, expect, it } from "vitest";
import { isRetryableNetworkFailure, isRetryableStatus, parseRetryAfter } from "../src/index.js";
import { retryDelayMs } from "../src/retry.js";

describe("which failures retry", () => {
  it("GET retries 408, 429 and 5xx but not other 4xx", () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(isRetryableStatus("GET", status)).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 422]) expect(isRetryableStatus("GET", status)).toBe(false);
  });

  it("POST retries only 429", () => {
    expect(isRetryableStatus("POST", 429)).toBe(true);
    for (const status of [408, 500, 502, 503, 504]) expect(isRetryableStatus("POST", status)).toBe(false);
  });

  it("POST retries a network failure only when the request cannot have reached Align", () => {
    expect(isRetryableNetworkFailure("POST", false)).toBe(true);
    expect(isRetryableNetworkFailure("POST", true)).toBe(false);
    expect(isRetryableNetworkFailure("GET", true)).toBe(true);
  });
});

describe("Retry-After", () => {
  const headers = (init: Record<string, string>) => new Headers(init);

  it("reads delta-seconds, HTTP dates and retry-after-ms", () => {
    expect(parseRetryAfter(headers({ "retry-after": "3" }))).toBe(3000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter(headers({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }), now)).toBe(5000);
    expect(parseRetryAfter(headers({ "retry-after-ms": "250", "retry-after": "9" }))).toBe(250);
  });

  it("ignores absent or garbage values", () => {
    expect(parseRetryAfter(headers({}))).toBeUndefined();
    expect(parseRetryAfter(headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(parseRetryAfter(headers({ "retry-after": "-1" }))).toBeUndefined();
  });
});

describe("backoff", () => {
  it("grows exponentially within jitter bounds and is capped", () => {
    expect(retryDelayMs(0, undefined, () => 0)).toBe(250);
    expect(retryDelayMs(0, undefined, () => 1)).toBe(500);
    expect(retryDelayMs(3, undefined, () => 0)).toBe(2000);
    expect(retryDelayMs(20, undefined, () => 1)).toBe(8000);
  });

  it("uses the server's Retry-After when given", () => {
    expect(retryDelayMs(0, 1234)).toBe(1234);
  });
});
