/**
 * Issue 21 #11: on DynamoDB the owner index is eventually consistent. Here it
 * lags for real (test/support/dynamo-wire.ts: index queries read a shadow
 * table that receives each write a minute late), and what reads it stays
 * correct: the list shows the table's copy, never the index's older one;
 * recovery and the two-caller claim never depend on it. The list test failed
 * on 8678390 (it served the index's copy: KYC not started); the claim test
 * passed there too and guards the redesign (no open-intent index to lag).
 */
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import { type DynamoWire, routeRuntimeThroughWire } from "./support/dynamo-wire.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let wire: DynamoWire;
const MINUTE = 60_000;

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, env: { ALIGN_TIMEOUT_MS: "1000" } });
  wire = await routeRuntimeThroughWire(t.stack.dynamo.endpoint);
});
afterAll(async () => {
  await wire.close();
  await t.close();
});
beforeEach(async () => {
  await wire.setLag(undefined);
  t.stack.sandbox?.clearFaults();
});
const lagAll = () => wire.setLag({ table: t.stack.tableName, delay: () => MINUTE });

it("the list shows the table's copy of a customer, never the lagging index's older one", async () => {
  const created = await t.api("POST", "/customers", { body: individual("lagged-list@example.com") });
  expect(created.status).toBe(201);
  await lagAll();
  const body = JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: created.json.customer_id,
    entity_type: "customer",
    created_at: new Date(Date.now() + 1_000).toISOString(),
    entity_object: { ...created.json, kycs: { status: "approved", kyc_flow_link: "https://kyc.example/l" } },
  });
  const hook = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
    body,
  });
  expect(hook.status).toBe(200);
  expect(wire.lagPending()).toBeGreaterThan(0); // the index still holds the older copy
  const list = await t.api("GET", "/customers");
  const items = list.json.items as { customer_id: string; kycs: { status: string } | null }[];
  const listed = items.filter((item) => item.customer_id === created.json.customer_id);
  expect(listed).toHaveLength(1);
  expect(listed[0]?.kycs?.status).toBe("approved");
});

it("two callers whose identical creates both lost their answers converge on one owner while the index lags", async () => {
  await lagAll();
  const body = individual("lagged-claim@example.com");
  const tokenB = t.stack.token("user-b");
  t.stack.sandbox?.addFault({
    route: AlignRoute.CreateCustomer,
    action: { type: "drop", when: "after_commit" },
    count: 2,
  });
  expect((await t.api("POST", "/customers", { key: "lag-a", body })).status).toBeGreaterThanOrEqual(500);
  expect((await t.api("POST", "/customers", { key: "lag-b", body, token: tokenB })).status).toBeGreaterThanOrEqual(500);
  const a = await t.api("POST", "/customers", { key: "lag-a", body });
  const b = await t.api("POST", "/customers", { key: "lag-b", body, token: tokenB });
  expect([a.status, b.status].sort()).toEqual([201, 409]);
  expect((a.status === 409 ? a : b).json.customer_id).toBeUndefined();
  const owners = (await t.items("CUSTOMER"))
    .filter((item) => JSON.parse(String(item.data)).email === body.email)
    .map((item) => item.owner);
  expect(owners).toEqual([a.status === 201 ? "user-a" : "user-b"]);
});
