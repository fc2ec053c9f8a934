/**
 * Webhook re-read refusal (defect 9): an event of the older format (no
 * `entity_object`) is re-read at Align. When that read is refused:
 * - Align's 404 (it has no such customer) is acknowledged, 200
 *   `unknown_customer`, with nothing written (GET's refresh covers our copy);
 * - anything else (our key refused with 401/403, a 400 or 409, a 5xx) is a
 *   5xx with Retry-After, so Align delivers again; never a 4xx, which tells
 *   Align to stop, and never the undocumented 422 `upstream_rejected`.
 * Each answer is checked against the webhook's OpenAPI document.
 */
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler } from "../functions/align-webhook.js";
import { assertDocumented } from "./support/openapi-validator.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const KEY = "sandbox-key";
let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "3600" } });
});
afterAll(() => t.close());

const sandbox = () => {
  if (!t.stack.sandbox) throw new Error("emulator expected");
  return t.stack.sandbox;
};

/** A signed old-format delivery, straight to the webhook function as API Gateway invokes it. */
async function deliverOldFormat(customerId: string) {
  const body = JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: customerId,
    entity_type: "customer",
    created_at: new Date().toISOString(),
  });
  const result = await handler(
    {
      version: "2.0",
      routeKey: "POST /webhooks/align",
      rawPath: "/webhooks/align",
      rawQueryString: "",
      headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, KEY) },
      requestContext: {
        requestId: `reread-${Math.random()}`,
        routeKey: "POST /webhooks/align",
        http: { method: "POST", path: "/webhooks/align" },
      },
      body,
      isBase64Encoded: false,
    } as never,
    { awsRequestId: "reread", getRemainingTimeInMillis: () => 15_000 } as never,
  );
  const headers = new Headers(result.headers as Record<string, string>);
  assertDocumented({
    method: "POST",
    path: "/webhooks/align",
    status: result.statusCode,
    headers,
    body: result.body ?? "",
  });
  return { status: result.statusCode, headers, json: JSON.parse(result.body ?? "{}") as Record<string, unknown> };
}

async function ourCustomer(email: string) {
  const created = await t.api("POST", "/customers", { body: individual(email) });
  expect(created.status).toBe(201);
  return created.json.customer_id as string;
}
const stored = async (id: string) => (await t.items("CUSTOMER")).find((item) => item.customer_id === id);

describe("an old-format event whose re-read at Align is refused", () => {
  it("Align's 404 for the customer: acknowledged 200 unknown_customer, nothing written", async () => {
    const id = await ourCustomer("reread-404@example.com");
    const before = await stored(id);
    sandbox().addFault({ route: AlignRoute.GetCustomer, action: { type: "status", status: 404 } });
    const answer = await deliverOldFormat(id);
    expect([answer.status, answer.json]).toEqual([200, { received: true, outcome: "unknown_customer" }]);
    expect(await stored(id)).toEqual(before);
  });

  it.each([
    ["our key refused (401)", 401],
    ["our key lacks permission (403)", 403],
    ["Align refuses the read itself (400)", 400],
    ["Align answers 409", 409],
    ["Align answers 422", 422],
  ])(
    "%s: a retryable 5xx with Retry-After, nothing written; Align's redelivery is then processed",
    async (_, status) => {
      const id = await ourCustomer(`reread-${status}@example.com`);
      const before = await stored(id);
      sandbox().addFault({ route: AlignRoute.GetCustomer, action: { type: "status", status } });
      const refused = await deliverOldFormat(id);
      expect(refused.status).toBeGreaterThanOrEqual(500);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(refused.json).toMatchObject({ status: refused.status, code: expect.stringMatching(/^upstream_/) });
      expect(await stored(id)).toEqual(before);
      // The fault is spent: the redelivery reads the customer and applies it.
      const redelivered = await deliverOldFormat(id);
      expect([redelivered.status, redelivered.json.outcome]).toEqual([200, "processed"]);
      expect((await stored(id))?.last_source).toBeDefined();
    },
  );
});
