/**
 * The webhook service's branches pinned (issue 17, mutation testing): the
 * size bound from both sides, which outcome each delivery gets, what was
 * written, read from Align, logged and counted. Real sockets, dynalite, the
 * Align emulator.
 */
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { MAX_WEBHOOK_BYTES, resetRuntime } from "@align-onboarding/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const KEY = "sandbox-key";
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "3600" } });
});
afterAll(() => t.close());

type Line = Record<string, unknown>;
const lines = () => t.logs.map((line) => JSON.parse(line) as Line);
const total = (metric: string) =>
  lines().reduce(
    (sum, line) => sum + (line._aws !== undefined && typeof line[metric] === "number" ? (line[metric] as number) : 0),
    0,
  );
const counted = async <T>(metric: string, act: () => Promise<T>): Promise<[T, number]> => {
  const before = total(metric);
  const result = await act();
  return [result, total(metric) - before];
};
const alignReads = () =>
  t.stack.sandbox?.state().requests.filter((entry) => entry.route === AlignRoute.GetCustomer).length ?? 0;

async function deliver(body: string, signature = signPayload(body, KEY)) {
  const response = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hmac-signature": signature },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
const event = (entityId: unknown, createdAt: string, entityObject?: Record<string, unknown>) =>
  JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: entityId,
    entity_type: "customer",
    created_at: createdAt,
    ...(entityObject ? { entity_object: entityObject } : {}),
  });
async function newCustomer(email: string) {
  const created = await t.api("POST", "/customers", { body: individual(email) });
  expect(created.status).toBe(201);
  return created.json as Record<string, unknown> & { customer_id: string };
}
const stored = async (id: string) => (await t.items("CUSTOMER")).find((item) => item.customer_id === id);

describe("webhook deliveries", () => {
  it("takes a delivery of exactly 256 KiB to the signature check, and refuses one byte more as 413, counted", async () => {
    const pad = (size: number) => {
      const base = event("x", new Date().toISOString());
      return `${base.slice(0, -1)},"pad":"${"p".repeat(size - base.length - 9)}"}`;
    };
    const exact = pad(MAX_WEBHOOK_BYTES);
    expect(Buffer.byteLength(exact)).toBe(MAX_WEBHOOK_BYTES);
    const [atBound, rejectedAtBound] = await counted("WebhooksRejected", () => deliver(exact, "0".repeat(64)));
    expect(atBound.status).toBe(401); // past the size check: refused by the signature
    expect(rejectedAtBound).toBe(1);
    const over = pad(MAX_WEBHOOK_BYTES + 1);
    const [tooLarge, rejectedOver] = await counted("WebhooksRejected", () => deliver(over));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.json.code).toBe("payload_too_large");
    expect(rejectedOver).toBe(1);
  });

  it("an entity_object about another customer is acknowledged as entity_mismatch: nothing written, logged, counted", async () => {
    const a = await newCustomer("mismatch-a@example.com");
    const b = await newCustomer("mismatch-b@example.com");
    const before = await stored(a.customer_id);
    const body = event(a.customer_id, new Date(Date.now() + 1_000).toISOString(), {
      ...b,
      kycs: { status: "approved" },
    });
    const [answer, rejected] = await counted("WebhooksRejected", () => deliver(body));
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ received: true, outcome: "entity_mismatch" });
    expect(rejected).toBe(1);
    expect(await stored(a.customer_id)).toEqual(before);
    expect(lines()).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "webhook entity_object is not the customer named by entity_id; ignored",
        event_type: "customer.kycs.updated",
        entity_id: a.customer_id,
      }),
    );
  });

  it("the older format without entity_object re-reads a known customer from Align, and skips Align for an unknown one", async () => {
    const known = await newCustomer("older-format@example.com");
    const reads = alignReads();
    const applied = await deliver(event(known.customer_id, new Date().toISOString()));
    expect(applied.json.outcome).toBe("processed");
    expect(alignReads()).toBe(reads + 1);
    const unknownId = "0a0b0c0d-1111-4222-8333-444455556666";
    const unknown = await deliver(event(unknownId, new Date().toISOString()));
    expect(unknown.status).toBe(200);
    expect(unknown.json.outcome).toBe("unknown_customer");
    expect(alignReads()).toBe(reads + 1);
  });

  it("an entity_object for a customer we do not hold is unknown_customer, nothing written", async () => {
    const id = "0a0b0c0d-1111-4222-8333-777788889999";
    const answer = await deliver(
      event(id, new Date().toISOString(), { customer_id: id, email: "x@example.com", kycs: { status: "approved" } }),
    );
    expect(answer.json.outcome).toBe("unknown_customer");
    expect(await stored(id)).toBeUndefined();
  });

  it("an event dated beyond now + 10 s moves progress only, never the stored instant, so a later event still applies", async () => {
    const c = await newCustomer("far-future@example.com");
    const createdAsOf = Number((await stored(c.customer_id))?.as_of);
    const ahead = await deliver(
      event(c.customer_id, new Date(Date.now() + 3_600_000).toISOString(), { ...c, kycs: { status: "pending" } }),
    );
    expect(ahead.json.outcome).toBe("processed");
    expect(Number((await stored(c.customer_id))?.as_of)).toBe(createdAsOf);
    // The same bytes again are a duplicate; an event of now is judged on its own instant.
    const later = await deliver(
      event(c.customer_id, new Date(Date.now() + 1_000).toISOString(), { ...c, kycs: { status: "rejected" } }),
    );
    expect(later.json.outcome).toBe("processed");
    expect(Number((await stored(c.customer_id))?.as_of)).toBeGreaterThan(createdAsOf);
  });

  it("counts a duplicate as WebhooksDuplicate and an applied or ignored delivery as WebhooksAccepted", async () => {
    const c = await newCustomer("dup-metrics@example.com");
    const body = event(c.customer_id, new Date(Date.now() + 1_000).toISOString(), {
      ...c,
      kycs: { status: "pending" },
    });
    const [first, accepted] = await counted("WebhooksAccepted", () => deliver(body));
    expect(first.json.outcome).toBe("processed");
    expect(accepted).toBe(1);
    const [again, duplicates] = await counted("WebhooksDuplicate", () => deliver(body));
    expect(again.json.outcome).toBe("duplicate");
    expect(duplicates).toBe(1);
    const other = JSON.stringify({
      event_type: "customer.other",
      entity_id: c.customer_id,
      entity_type: "customer",
      created_at: new Date().toISOString(),
    });
    const [ignored, acceptedIgnored] = await counted("WebhooksAccepted", () => deliver(other));
    expect(ignored.json).toMatchObject({ outcome: "ignored_event_type" });
    expect(acceptedIgnored).toBe(1);
    expect(lines()).toContainEqual(
      expect.objectContaining({
        event: "webhook_accepted",
        outcome: "ignored_event_type",
        event_type: "customer.other",
      }),
    );
  });

  it("an invalid payload that is signed is 400 with field paths, counted as rejected", async () => {
    const body = JSON.stringify({ event_type: 5 });
    const [answer, rejected] = await counted("WebhooksRejected", () => deliver(body));
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe("invalid_webhook_payload");
    expect(Array.isArray(answer.json.errors)).toBe(true);
    expect(rejected).toBe(1);
  });

  it("a webhook secret setting that names no secret is a 500 naming the variable, not a 401 for every delivery", async () => {
    const c = await newCustomer("no-secret@example.com");
    const body = event(c.customer_id, new Date().toISOString(), { ...c, kycs: { status: "approved" } });
    process.env.ALIGN_WEBHOOK_SECRET = " , ";
    resetRuntime();
    try {
      const answer = await deliver(body);
      expect(answer.status).toBe(500);
      expect(lines()).toContainEqual(
        expect.objectContaining({
          level: "error",
          message: "request failed",
          error: "ConfigError",
          detail: "Invalid configuration: ALIGN_WEBHOOK_SECRET or ALIGN_API_KEY: required by this function",
        }),
      );
    } finally {
      delete process.env.ALIGN_WEBHOOK_SECRET;
      resetRuntime();
    }
    expect((await deliver(body)).json.outcome).toBe("processed");
  });
});
