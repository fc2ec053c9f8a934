/**
 * Caller identity (defect 8): a JWT `sub` that cannot name exactly one caller
 * is refused with 401, by the function and by the local API Gateway alike.
 * Both the idempotency scope (a SHA-256 of the UTF-8 `sub`) and the owner key
 * encode a lone surrogate as U+FFFD, so two callers whose subjects differ only
 * in a lone surrogate used to share one scope: caller B replayed caller A's
 * customer.
 */
import { signToken } from "@align-onboarding/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as createCustomer } from "../functions/create-customer.js";
import { handler as getCustomer } from "../functions/get-customer.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());

const context = { awsRequestId: "identity", getRemainingTimeInMillis: () => 10_000 } as never;

/** An API Gateway v2 event as the authorizer hands it over, with `sub` as the only claim. */
function event(sub: unknown, method: string, routeKey: string, rawPath: string, extra: Record<string, unknown> = {}) {
  return {
    version: "2.0",
    routeKey,
    rawPath,
    rawQueryString: "",
    requestContext: {
      requestId: `identity-${Math.random()}`,
      routeKey,
      http: { method, path: rawPath },
      authorizer: { jwt: { claims: { sub }, scopes: null } },
    },
    isBase64Encoded: false,
    ...extra,
  } as never;
}

const create = (sub: unknown, key: string, email: string) =>
  createCustomer(
    event(sub, "POST", "POST /customers", "/customers", {
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(individual(email)),
    }),
    context,
  );
const list = (sub: unknown) => getCustomer(event(sub, "GET", "GET /customers", "/customers", { headers: {} }), context);

describe("a sub that cannot name one caller", () => {
  it("two subjects that differ only in a lone surrogate never share an idempotency scope: both are refused", async () => {
    const before = (await t.items()).length;
    // Caller A and caller B: different subjects, the same U+FFFD once encoded as UTF-8.
    const a = await create("user-\uD800", "same-key", "surrogate@example.com");
    const b = await create("user-\uDC00", "same-key", "surrogate@example.com");
    for (const answer of [a, b]) {
      expect(answer.statusCode).toBe(401);
      expect(answer.headers?.["content-type"]).toBe("application/problem+json");
      expect(JSON.parse(answer.body ?? "{}")).toMatchObject({ code: "unauthorized" });
      expect(answer.headers?.["idempotent-replayed"]).toBeUndefined();
    }
    expect((await t.items()).length).toBe(before);
  });

  it.each([
    ["a lone high surrogate", "user-\uD800"],
    ["a lone low surrogate", "\uDC00user"],
    ["U+FFFD (what a lone surrogate became upstream)", "user-\uFFFD"],
    ["a CR", "user\ra"],
    ["a LF", "user\na"],
    ["a NUL", "user\u0000a"],
    ["a C1 control (NEL)", "user\u0085a"],
    ["DEL", "user\u007Fa"],
    ["a line separator", "user\u2028a"],
    ["a right-to-left override", "user\u202Ea"],
    ["a left-to-right embedding", "user\u202Aa"],
    ["a first-strong isolate", "user\u2068a"],
    ["a pop directional isolate", "user\u2069a"],
    ["an empty sub", ""],
    ["a number", 42],
    ["over 512 characters", "u".repeat(513)],
  ])("the function refuses %s with 401 problem+json", async (_label, sub) => {
    const answer = await list(sub);
    expect(answer.statusCode).toBe(401);
    expect(JSON.parse(answer.body ?? "{}")).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("the function accepts well-formed subjects, characters outside the BMP (surrogate pairs) included", async () => {
    for (const sub of ["user-ok", "auth0|5f7c8ec7c33c6c004bbafe82", "usér-😀", "u".repeat(512)]) {
      expect([sub.slice(0, 20), (await list(sub)).statusCode]).toEqual([sub.slice(0, 20), 200]);
    }
  });

  it("the local API Gateway refuses a token whose sub is not well-formed with its own 401, before any function", async () => {
    const before = (await t.items()).length;
    for (const sub of ["user-\uD800", "user-\uFFFD", "user\u202Ea", "user\na"]) {
      const token = signToken(t.stack.jwt, sub, 3600);
      const answer = await t.api("POST", "/customers", { token, body: individual("gateway-sub@example.com") });
      expect([JSON.stringify(sub), answer.status, answer.json]).toEqual([
        JSON.stringify(sub),
        401,
        { message: "Unauthorized" },
      ]);
    }
    expect((await t.items()).length).toBe(before);
    // A well-formed one passes, and a surrogate pair is well-formed.
    const fine = await t.api("GET", "/customers", { token: signToken(t.stack.jwt, "user-😀", 3600) });
    expect(fine.status).toBe(200);
  });
});
