/**
 * The emulator's signed webhook deliveries, checked with the client's
 * verification and parsing helpers against a real receiver on loopback.
 */
import {
  Align,
  isCustomerKycsUpdatedEvent,
  parseWebhookEvent,
  SIGNATURE_HEADER,
  verifySignature,
} from "@align-onboarding/align";
import { type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startReceiver } from "./support/receiver.js";

const API_KEY = "webhook-key";
let sandbox: AlignSandbox;
let align: Align;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

beforeAll(async () => {
  sandbox = await startAlignSandbox({
    apiKey: API_KEY,
    webhooks: { baseDelayMs: 20, maxAttempts: 3, timeoutMs: 1000 },
  });
  align = new Align({ apiKey: API_KEY, baseUrl: sandbox.url });
});
afterAll(() => sandbox.close());
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  sandbox.reset();
});

async function approvedCustomer(email: string) {
  const customer = await align.customers.create({
    email,
    type: "individual",
    first_name: "Grace",
    last_name: "Hopper",
  });
  await align.customers.createKycSession(customer.customer_id);
  await align.customers.simulateCustomer({ customer_id: customer.customer_id, action: "kyc.status.approve" });
  await sandbox.deliveriesSettled();
  return customer;
}

describe("registration", () => {
  it("creates, lists and deletes webhooks", async () => {
    const webhook = await align.webhooks.create({ url: "http://127.0.0.1:9/hook" });
    expect(webhook).toMatchObject({ url: "http://127.0.0.1:9/hook", status: "active" });
    expect((await align.webhooks.list()).items.map((item) => item.id)).toEqual([webhook.id]);
    await align.webhooks.delete(webhook.id);
    expect((await align.webhooks.list()).items).toEqual([]);
    await expect(align.webhooks.delete(webhook.id)).rejects.toMatchObject({ status: 404 });
  });
});

describe("delivery", () => {
  it("delivers customer.kycs.updated with entity_object, signed as Align signs", async () => {
    receiver = await startReceiver();
    await align.webhooks.create({ url: receiver.url });
    const customer = await approvedCustomer("grace@example.com");

    expect(receiver.received).toHaveLength(2); // pending on KYC start, approved on simulate
    for (const delivery of receiver.received) {
      const signature = delivery.headers[SIGNATURE_HEADER];
      expect(typeof signature).toBe("string");
      expect(verifySignature(delivery.body, signature as string, API_KEY)).toBe(true);
      expect(align.webhooks.verifySignature(delivery.body, signature as string)).toBe(true);
    }
    const events = receiver.received.map((delivery) => parseWebhookEvent(delivery.body));
    const last = events[1];
    expect(last && isCustomerKycsUpdatedEvent(last)).toBe(true);
    if (!last || !isCustomerKycsUpdatedEvent(last)) return;
    expect(last).toMatchObject({ entity_id: customer.customer_id, entity_type: "customer" });
    expect(last.entity_object?.kycs?.status).toBe("approved");
    expect(Date.parse(last.created_at)).toBeGreaterThan(Date.parse(events[0]?.created_at ?? ""));
    expect(sandbox.state().deliveries.every((delivery) => delivery.state === "delivered")).toBe(true);
  });

  it("the signature fails for a changed byte, a wrong secret, an empty or non-hex header", async () => {
    receiver = await startReceiver();
    await align.webhooks.create({ url: receiver.url });
    await approvedCustomer("tamper@example.com");
    const delivery = receiver.received[0];
    expect(delivery).toBeDefined();
    if (!delivery) return;
    const signature = delivery.headers[SIGNATURE_HEADER] as string;

    const changed = Buffer.from(delivery.body);
    changed[10] = (changed[10] ?? 0) ^ 1;
    expect(verifySignature(changed, signature, API_KEY)).toBe(false);
    expect(verifySignature(delivery.body, signature, "another-key")).toBe(false);
    expect(verifySignature(delivery.body, "", API_KEY)).toBe(false);
    expect(verifySignature(delivery.body, undefined, API_KEY)).toBe(false);
    expect(verifySignature(delivery.body, "z".repeat(64), API_KEY)).toBe(false);
    expect(verifySignature(delivery.body, signature.slice(0, 62), API_KEY)).toBe(false);
    // Rotation: the old and new key may both be configured.
    expect(verifySignature(delivery.body, signature, ["new-key", API_KEY])).toBe(true);
  });

  it("retries a failed delivery with backoff until the receiver answers 2xx", async () => {
    receiver = await startReceiver([500, 503]);
    await align.webhooks.create({ url: receiver.url });
    const customer = await align.customers.create({
      email: "retry@example.com",
      type: "corporate",
      company_name: "Co",
    });
    await align.customers.createKycSession(customer.customer_id);
    await sandbox.deliveriesSettled();
    const [delivery] = sandbox.state().deliveries;
    expect(delivery?.state).toBe("delivered");
    expect(delivery?.attempts.map((attempt) => attempt.status)).toEqual([500, 503, 200]);
    // Every attempt carries the same body and signature.
    expect(new Set(receiver.received.map((entry) => entry.body.toString())).size).toBe(1);
  });

  it("gives up after the bounded number of attempts", async () => {
    receiver = await startReceiver([500, 500, 500, 500]);
    await align.webhooks.create({ url: receiver.url });
    const customer = await align.customers.create({ email: "gone@example.com", type: "corporate", company_name: "Co" });
    await align.customers.createKycSession(customer.customer_id);
    await sandbox.deliveriesSettled();
    const [delivery] = sandbox.state().deliveries;
    expect(delivery?.state).toBe("failed");
    expect(delivery?.attempts).toHaveLength(3);
  });
});
