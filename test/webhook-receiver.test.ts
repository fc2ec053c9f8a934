/**
 * The webhook receiver (POST /webhooks/align) over real sockets: signature,
 * duplicates, ordering (the as-of rule) and failure rules, with the DynamoDB
 * state asserted.
 */
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const KEY = "sandbox-key";
let t: TestStack;

beforeAll(async () => {
  // Refresh never happens during a test: only webhooks can move a status.
  t = await startTestStack({ env: { KYC_REFRESH_AFTER_SECONDS: "3600", ALIGN_WEBHOOK_SECRET: `rotated-key,${KEY}` } });
});
afterAll(() => t.close());

const sandbox = () => {
  if (!t.stack.sandbox) throw new Error("emulator expected");
  return t.stack.sandbox;
};

async function deliver(body: string | Buffer, signature: string | null, contentType = "application/json") {
  const headers: Record<string, string> = { "content-type": contentType };
  if (signature !== null) headers["x-hmac-signature"] = signature;
  const response = await fetch(`${t.stack.apiUrl}/webhooks/align`, { method: "POST", headers, body });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, unknown>,
  };
}

function kycEvent(customer: Record<string, unknown>, status: string, createdAt: string, withObject = true) {
  return JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: customer.customer_id,
    entity_type: "customer",
    created_at: createdAt,
    ...(withObject ? { entity_object: { ...customer, kycs: { status, sub_status: "x", kyc_flow_link: "l" } } } : {}),
  });
}

/** The stored customer's KYC state and the bookkeeping of the as-of rule. */
async function storedCustomer(id: string) {
  const record = (await t.items("CUSTOMER")).find((item) => item.customer_id === id);
  if (!record) throw new Error("no record");
  return {
    kycs: JSON.parse(record.data as string).kycs,
    asOf: Number(record.as_of),
    syncedAt: Number(record.synced_at),
    lastSource: record.last_source,
  };
}

/** An instant `ms` from now (events are compared with our own observations, which are now). */
const soon = (ms: number) => new Date(Date.now() + ms).toISOString();

/** Only customers, idempotency records and the stage marker exist: a delivery leaves no item of its own. */
const otherItems = async () =>
  (await t.items()).filter((item) => item.sk !== "CUSTOMER" && item.sk !== "IDEMPOTENCY" && item.sk !== "STAGE");

async function newCustomer(email: string) {
  const created = await t.api("POST", "/customers", { body: individual(email) });
  expect(created.status).toBe(201);
  return created.json;
}

describe("seed workflow through Align's signed delivery", () => {
  it("simulate -> emulator delivery -> receiver -> GET shows approved, with no read from Align", async () => {
    const customer = await newCustomer("webhook-flow@example.com");
    const id = customer.customer_id as string;
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    await t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } });
    await sandbox().deliveriesSettled();

    const read = await t.api("GET", `/customers/${id}`);
    expect(read.json.kycs).toMatchObject({ status: "approved", sub_status: "kyc_form_submission_accepted" });
    expect(
      sandbox()
        .state()
        .requests.filter((r) => r.route === AlignRoute.GetCustomer),
    ).toHaveLength(0);
    const deliveries = sandbox()
      .state()
      .deliveries.filter((d) => d.event.entity_id === id);
    expect(deliveries.map((d) => d.state)).toEqual(["delivered", "delivered"]);
    expect((await storedCustomer(id)).kycs.status).toBe("approved");
  });
});

describe("signatures", () => {
  it.each([
    ["a tampered body", (body: string) => [body.replace("approved", "rejected"), signPayload(body, KEY)]],
    ["a wrong secret", (body: string) => [body, signPayload(body, "not-the-key")]],
    ["the signature of another body", (body: string) => [body, signPayload(`${body} `, KEY)]],
    ["an empty header", (body: string) => [body, ""]],
    ["a non-hex header", (body: string) => [body, "g".repeat(64)]],
    ["no header", (body: string) => [body, null]],
    ["truncated JSON", (body: string) => [body.slice(0, 30), signPayload(body, KEY)]],
  ] satisfies [string, (body: string) => [string, string | null]][])(
    "refuses %s with 401 and records nothing",
    async (_label, tamper) => {
      const customer = await newCustomer(`sig-${Math.random()}@example.com`);
      const before = await storedCustomer(customer.customer_id as string);
      const body = kycEvent(customer, "approved", new Date().toISOString());
      const [sent, signature] = tamper(body);
      const answer = await deliver(sent, signature);
      expect(answer.status).toBe(401);
      expect(answer.headers.get("content-type")).toBe("application/problem+json");
      expect(answer.json.code).toBe("invalid_signature");
      expect(await otherItems()).toEqual([]);
      expect(await storedCustomer(customer.customer_id as string)).toEqual(before);
      expect(t.logs.join("\n")).not.toContain(sent.slice(0, 40));
    },
  );

  it("accepts any configured secret (rotation), and a body API Gateway base64-encoded", async () => {
    const customer = await newCustomer("rotation@example.com");
    const body = kycEvent(customer, "approved", new Date().toISOString());
    const answer = await deliver(Buffer.from(body), signPayload(body, "rotated-key"), "application/octet-stream");
    expect(answer.status).toBe(200);
    expect(answer.json.outcome).toBe("processed");
  });

  it("a validly signed body that is not an event -> 400 with paths, nothing recorded", async () => {
    const body = '{"event_type":"customer.kycs.updated"';
    const answer = await deliver(body, signPayload(body, KEY));
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe("invalid_webhook_payload");
    const incomplete = JSON.stringify({ event_type: "customer.kycs.updated", entity_type: "customer" });
    const second = await deliver(incomplete, signPayload(incomplete, KEY));
    expect(second.status).toBe(400);
    expect((second.json.errors as { path: string[] }[]).map((e) => e.path[0])).toEqual(["entity_id", "created_at"]);
  });

  it("a body over 256 KiB -> 413, nothing recorded", async () => {
    const customer = await newCustomer("huge@example.com");
    const body = JSON.stringify({
      ...JSON.parse(kycEvent(customer, "approved", new Date().toISOString())),
      pad: "x".repeat(256 * 1024),
    });
    const answer = await deliver(body, signPayload(body, KEY));
    expect(answer.status).toBe(413);
    expect(await otherItems()).toEqual([]);
  });
});

describe("duplicates and ordering", () => {
  it("the same delivery 20 times in parallel: applied once, every copy acknowledged as a duplicate", async () => {
    const customer = await newCustomer("parallel@example.com");
    const body = kycEvent(customer, "approved", new Date().toISOString());
    const signature = signPayload(body, KEY);
    const answers = await Promise.all(Array.from({ length: 20 }, () => deliver(body, signature)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const outcomes = answers.map((a) => a.json.outcome);
    expect(outcomes.filter((o) => o === "processed")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "duplicate")).toHaveLength(19);
    const after = await storedCustomer(customer.customer_id as string);
    expect(after.kycs.status).toBe("approved");
    // A redelivery later (Align's retry) writes nothing either.
    expect((await deliver(body, signature)).json.outcome).toBe("duplicate");
    expect(await storedCustomer(customer.customer_id as string)).toEqual(after);
    expect(await otherItems()).toEqual([]);
  });

  it("out of order: an older event never moves the status backwards", async () => {
    const customer = await newCustomer("order@example.com");
    const newer = kycEvent(customer, "approved", soon(2_000));
    const older = kycEvent(customer, "pending", soon(1_000));
    expect((await deliver(newer, signPayload(newer, KEY))).json.outcome).toBe("processed");
    expect((await deliver(older, signPayload(older, KEY))).json.outcome).toBe("stale");
    const stored = await storedCustomer(customer.customer_id as string);
    expect(stored.kycs.status).toBe("approved");
  });

  it("compares instants, not text: an older instant written in another offset is stale", async () => {
    const customer = await newCustomer("offsets@example.com");
    const newer = kycEvent(customer, "approved", soon(2_000));
    // The same instant plus one hour, written at +01:00: an older instant whose text sorts after the newer one.
    const older = kycEvent(customer, "pending", soon(1_000 + 3_600_000).replace("Z", "+01:00"));
    expect((await deliver(newer, signPayload(newer, KEY))).json.outcome).toBe("processed");
    expect((await deliver(older, signPayload(older, KEY))).json.outcome).toBe("stale");
    expect((await storedCustomer(customer.customer_id as string)).kycs.status).toBe("approved");
  });

  it.each([
    ["year 9999", "9999-12-31T23:59:59.999Z"],
    ["an extended year", "+275760-09-13T00:00:00.000Z"],
  ])("an event dated far in the future (%s) cannot freeze the record against later events", async (_label, when) => {
    const customer = await newCustomer(`future-${when.slice(0, 5)}@example.com`);
    const future = kycEvent(customer, "pending", when);
    expect((await deliver(future, signPayload(future, KEY))).json.outcome).toBe("processed");
    // Counted as dated now plus the skew allowance, not in year 9999.
    expect((await storedCustomer(customer.customer_id as string)).asOf).toBeLessThan(Date.now() + 11_000);
    const later = kycEvent(customer, "approved", new Date().toISOString());
    expect((await deliver(later, signPayload(later, KEY))).json.outcome).toBe("processed");
    expect((await storedCustomer(customer.customer_id as string)).kycs.status).toBe("approved");
  });

  it("two events of the same instant never move a final status back", async () => {
    const customer = await newCustomer("same-instant@example.com");
    const at = soon(1_000);
    const approved = kycEvent(customer, "approved", at);
    const pending = kycEvent(customer, "pending", at);
    expect((await deliver(approved, signPayload(approved, KEY))).json.outcome).toBe("processed");
    expect((await deliver(pending, signPayload(pending, KEY))).json.outcome).toBe("stale");
    expect((await storedCustomer(customer.customer_id as string)).kycs.status).toBe("approved");
  });

  it("an entity_object that is not the customer named by entity_id changes nothing (acknowledged, counted)", async () => {
    const victim = await newCustomer("victim@example.com");
    const other = await newCustomer("other@example.com");
    const before = await storedCustomer(victim.customer_id as string);
    const otherBefore = await storedCustomer(other.customer_id as string);
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: victim.customer_id,
      entity_type: "customer",
      created_at: new Date().toISOString(),
      entity_object: { ...other, kycs: { status: "approved" } },
    });
    const answer = await deliver(body, signPayload(body, KEY));
    expect(answer).toMatchObject({ status: 200, json: { outcome: "entity_mismatch" } });
    expect(await storedCustomer(victim.customer_id as string)).toEqual(before);
    expect(await storedCustomer(other.customer_id as string)).toEqual(otherBefore);
    expect(t.logs.some((line) => line.includes("webhook entity_object is not the customer named by entity_id"))).toBe(
      true,
    );
    expect(t.logs.some((line) => line.includes('"WebhooksRejected":1'))).toBe(true);
  });

  it("an event for a customer we do not know is acknowledged, and nothing is created", async () => {
    const stranger = { customer_id: "123e4567-e89b-12d3-a456-426614174999", email: "stranger@example.com" };
    const body = kycEvent(stranger, "approved", new Date().toISOString());
    const answer = await deliver(body, signPayload(body, KEY));
    expect(answer).toMatchObject({ status: 200, json: { outcome: "unknown_customer" } });
    expect((await t.items("CUSTOMER")).find((item) => item.customer_id === stranger.customer_id)).toBeUndefined();
  });

  it("an unknown event type is acknowledged (200) so Align stops retrying it", async () => {
    const body = JSON.stringify({
      event_type: "card.issued",
      entity_id: "c1",
      entity_type: "card",
      created_at: new Date().toISOString(),
    });
    const answer = await deliver(body, signPayload(body, KEY));
    expect(answer).toMatchObject({ status: 200, json: { outcome: "ignored_event_type" } });
  });

  it("processing fails -> 5xx and nothing recorded; Align's retry is then processed", async () => {
    const customer = await newCustomer("fail-then-retry@example.com");
    // No entity_object: the receiver must read the customer from Align, which is down.
    const body = kycEvent(customer, "approved", new Date().toISOString(), false);
    sandbox().addFault({ route: AlignRoute.GetCustomer, count: 3, action: { type: "status", status: 503 } });
    const failed = await deliver(body, signPayload(body, KEY));
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).not.toBeNull();
    const before = await storedCustomer(customer.customer_id as string);
    expect(before.lastSource).toBeUndefined();
    sandbox().clearFaults();
    const retried = await deliver(body, signPayload(body, KEY));
    expect(retried.json.outcome).toBe("processed");
    // Stored as Align answered the re-read (this customer never started KYC there), as of that read.
    const after = await storedCustomer(customer.customer_id as string);
    expect(after.lastSource).toBeDefined();
    expect(after.asOf).toBeGreaterThanOrEqual(before.asOf);
    expect(after.kycs).toBeNull();
  });
});
