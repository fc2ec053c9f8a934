/**
 * The handler refuses a principal it cannot trust, whatever reached it: in
 * AWS API Gateway does not check `sub` and passes claims as text, so the
 * function itself refuses a missing, non-string, empty or blank one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../functions/get-customer.js";
import { startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());

/** GET /customers as API Gateway would invoke it, with these claims. */
const list = (claims: Record<string, unknown> | undefined) =>
  handler(
    {
      version: "2.0",
      routeKey: "GET /customers",
      rawPath: "/customers",
      rawQueryString: "",
      headers: {},
      requestContext: {
        requestId: `auth-${Math.random()}`,
        routeKey: "GET /customers",
        http: { method: "GET", path: "/customers" },
        ...(claims ? { authorizer: { jwt: { claims, scopes: null } } } : {}),
      },
      isBase64Encoded: false,
    } as never,
    { awsRequestId: "auth", getRemainingTimeInMillis: () => 10_000 } as never,
  );

describe("the handler's principal", () => {
  it.each([
    ["no authorizer at all", undefined],
    ["no sub", {}],
    ["a numeric sub", { sub: 123 }],
    ["a boolean sub", { sub: true }],
    ["a null sub", { sub: null }],
    ["an empty sub", { sub: "" }],
    ["a blank sub", { sub: "  \t" }],
    ["a sub with a control character", { sub: "user\u0000a" }],
    ["a sub over 512 characters", { sub: "u".repeat(513) }],
  ])("refuses %s with 401 problem+json", async (_label, claims) => {
    const result = await list(claims);
    expect(result.statusCode).toBe(401);
    expect(result.headers?.["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(result.body ?? "{}")).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("accepts a string sub", async () => {
    const result = await list({ sub: "user-ok" });
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body ?? "{}").items).toEqual([]);
  });
});
