import { describe, expect, it } from "vitest";
import { canonicalJson, requestFingerprint, scopeId } from "../src/idempotency/fingerprint.js";
import type { HttpRequest } from "../src/index.js";
import { type ProblemError, requireIdempotencyKey } from "../src/index.js";

const request = (key?: string): HttpRequest => ({
  method: "POST",
  routeKey: "POST /customers",
  rawPath: "/customers",
  headers: key === undefined ? {} : { "idempotency-key": key },
  query: {},
  pathParameters: {},
  body: Buffer.alloc(0),
  requestId: "r",
  claims: undefined,
});

const codeOf = (key?: string) => {
  try {
    requireIdempotencyKey(request(key));
    return "ok";
  } catch (error) {
    return (error as ProblemError).code;
  }
};

describe("Idempotency-Key", () => {
  it("accepts bare and quoted forms", () => {
    expect(requireIdempotencyKey(request("abc-123"))).toBe("abc-123");
    expect(requireIdempotencyKey(request('"abc-123"'))).toBe("abc-123");
    expect(requireIdempotencyKey(request("a b"))).toBe("a b");
  });

  it("names missing and invalid keys", () => {
    expect(codeOf(undefined)).toBe("idempotency_key_missing");
    expect(codeOf("")).toBe("idempotency_key_invalid");
    expect(codeOf("x".repeat(256))).toBe("idempotency_key_invalid");
    expect(codeOf("x".repeat(255))).toBe("ok");
    expect(codeOf("ключ")).toBe("idempotency_key_invalid");
    expect(codeOf('"a"b"')).toBe("idempotency_key_invalid");
  });
});

describe("fingerprints", () => {
  it("ignore key order and whitespace, but not values, paths or methods", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
    const fp = requestFingerprint("POST", "/customers", { a: 1, b: 2 });
    expect(requestFingerprint("POST", "/customers", { b: 2, a: 1 })).toBe(fp);
    expect(requestFingerprint("POST", "/customers", { a: 1, b: 3 })).not.toBe(fp);
    expect(requestFingerprint("POST", "/other", { a: 1, b: 2 })).not.toBe(fp);
    expect(requestFingerprint("PUT", "/customers", { a: 1, b: 2 })).not.toBe(fp);
  });

  it("scope keys by route and caller, hashed", () => {
    const id = scopeId("POST /customers", "user-a", "k");
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(scopeId("POST /customers", "user-b", "k")).not.toBe(id);
    expect(scopeId("POST /other", "user-a", "k")).not.toBe(id);
  });
});
