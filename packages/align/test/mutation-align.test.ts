/**
 * The Align client's retry rules and webhook signature check, pinned branch
 * by branch (issue 17, mutation testing).
 */
import { describe, expect, it } from "vitest";
import { isRetryableNetworkFailure, isRetryableStatus, parseRetryAfter } from "../src/index.js";
import { SIGNATURE_HEADER, signPayload, verifySignature } from "../src/webhook-signature.js";

const headers = (values: Record<string, string>) => new Headers(values);
const NOW = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");

describe("idempotent methods retry a 5xx and a dropped connection; POST does not", () => {
  it("names every idempotent method", () => {
    for (const method of ["GET", "HEAD", "OPTIONS", "DELETE", "PUT"]) {
      expect(isRetryableStatus(method, 503)).toBe(true);
      expect(isRetryableStatus(method, 408)).toBe(true);
      expect(isRetryableNetworkFailure(method, true)).toBe(true);
    }
    for (const method of ["POST", "PATCH", ""]) {
      expect(isRetryableStatus(method, 503)).toBe(false);
      expect(isRetryableNetworkFailure(method, true)).toBe(false);
    }
  });
});

describe("Retry-After", () => {
  it("retry-after-ms: whole or decimal milliseconds, trimmed and rounded up; anything else ignored", () => {
    expect(parseRetryAfter(headers({ "retry-after-ms": "1500" }))).toBe(1500);
    expect(parseRetryAfter(headers({ "retry-after-ms": "12.25" }))).toBe(13);
    expect(parseRetryAfter(headers({ "retry-after-ms": " 250 " }))).toBe(250);
    for (const bad of ["1.5x", "x1.5", "1.", "1.a", "-5", "1e3"]) {
      expect(parseRetryAfter(headers({ "retry-after-ms": bad }))).toBeUndefined();
    }
    // A bad retry-after-ms falls back to Retry-After.
    expect(parseRetryAfter(headers({ "retry-after-ms": "soon", "retry-after": "2" }))).toBe(2000);
  });

  it("delta-seconds: digits only, trimmed", () => {
    expect(parseRetryAfter(headers({ "retry-after": " 3 " }))).toBe(3000);
    expect(parseRetryAfter(headers({ "retry-after": "3x" }))).toBeUndefined();
    expect(parseRetryAfter(headers({ "retry-after": "-1" }))).toBeUndefined();
    expect(parseRetryAfter(headers({}))).toBeUndefined();
  });

  it("an HTTP-date: the time until it (0 once past); a malformed or unanchored one is ignored, never NaN", () => {
    expect(parseRetryAfter(headers({ "retry-after": "Wed, 21 Oct 2015 07:28:05 GMT" }), NOW)).toBe(5000);
    expect(parseRetryAfter(headers({ "retry-after": "Wed, 21 Oct 2015 07:27:00 GMT" }), NOW)).toBe(0);
    expect(parseRetryAfter(headers({ "retry-after": "Wed, 99 Foo 2015 07:28:00 GMT" }), NOW)).toBeUndefined();
    expect(parseRetryAfter(headers({ "retry-after": "x Wed, 21 Oct 2015 07:28:05 GMT" }), NOW)).toBeUndefined();
  });
});

describe("webhook signatures", () => {
  const body = '{"event_type":"customer.kycs.updated"}';
  const good = signPayload(body, "key-1");

  it("is read from x-hmac-signature", () => {
    expect(SIGNATURE_HEADER).toBe("x-hmac-signature");
  });

  it("accepts the exact hex HMAC, trimmed, in either case, under any of the secrets", () => {
    expect(good).toMatch(/^[0-9a-f]{64}$/);
    expect(verifySignature(body, good, "key-1")).toBe(true);
    expect(verifySignature(body, ` ${good.toUpperCase()} `, "key-1")).toBe(true);
    expect(verifySignature(body, good, ["old-key", "key-1"])).toBe(true);
    expect(verifySignature(body, good, ["key-1", "old-key"])).toBe(true);
  });

  it("refuses a well-formed signature made with another key, or for other bytes", () => {
    expect(verifySignature(body, signPayload(body, "other"), ["key-1", "key-2"])).toBe(false);
    expect(verifySignature(`${body} `, good, "key-1")).toBe(false);
  });

  it("refuses, without throwing, a missing, non-hex or wrongly sized signature", () => {
    expect(verifySignature(body, undefined, "key-1")).toBe(false);
    expect(verifySignature(body, null, "key-1")).toBe(false);
    expect(verifySignature(body, "z".repeat(64), "key-1")).toBe(false);
    expect(verifySignature(body, `${good}0`, "key-1")).toBe(false);
    expect(verifySignature(body, `0${good}`, "key-1")).toBe(false);
    expect(verifySignature(body, good.slice(0, 62), "key-1")).toBe(false);
  });

  it("never checks against an empty secret", () => {
    expect(verifySignature(body, signPayload(body, ""), "")).toBe(false);
    expect(verifySignature(body, signPayload(body, ""), ["", "key-1"])).toBe(false);
  });
});
