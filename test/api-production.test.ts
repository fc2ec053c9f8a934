/** A production Align environment: the sandbox-only route does not exist. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ alignEnvironment: "production" });
});
afterAll(() => t.close());

describe("production", () => {
  it("serves no simulate route (404), while the rest works", async () => {
    const created = await t.api("POST", "/customers", { body: individual("prod@example.com") });
    expect(created.status).toBe(201);
    const simulate = await t.api("POST", `/sandbox/customers/${created.json.customer_id}/simulate`, {
      body: { action: "kyc.status.approve" },
    });
    expect(simulate.status).toBe(404);
  });

  it("the simulate function itself refuses outside the sandbox, even if routed", async () => {
    const { handler } = await import("../functions/sandbox-simulate.js");
    const result = await handler({
      routeKey: "POST /sandbox/customers/{customer_id}/simulate",
      rawPath: "/sandbox/customers/123e4567-e89b-12d3-a456-426614174000/simulate",
      headers: { "content-type": "application/json", "idempotency-key": "k" },
      pathParameters: { customer_id: "123e4567-e89b-12d3-a456-426614174000" },
      body: '{"action":"kyc.status.approve"}',
      isBase64Encoded: false,
      requestContext: {
        requestId: "direct",
        http: { method: "POST" },
        authorizer: { jwt: { claims: { sub: "user-a" } } },
      },
    } as never);
    expect(result.statusCode).toBe(404);
    expect(JSON.parse(result.body).code).toBe("not_found");
  });
});
