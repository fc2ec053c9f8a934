/**
 * Hostile webhook delivery, over real HTTP: the exact signed bytes of a past
 * delivery sent again later and out of order, deliveries held and released
 * in any order, and each event told to a listener before the answer to the
 * call that caused it leaves.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AlignSandbox, type PublishedEvent, startAlignSandbox } from "../src/index.js";
import { call, type Receiver, sign, startReceiver } from "./wire.js";

const KEY = "delivery-key";
const START = Date.parse("2032-01-01T00:00:00.000Z");
const clock = { ms: START };
const alice = { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" };

let sandbox: AlignSandbox;
let receiver: Receiver;
const api = (method: string, path: string, body?: unknown) => call(sandbox, method, path, body, { authorization: KEY });
const approve = (id: string) =>
  api("POST", "/v0/customers/simulate", { customer_id: id, action: "kyc.status.approve" });
const statusOf = (body: Buffer) =>
  (JSON.parse(body.toString("utf8")) as { entity_object: { kycs: { status: string } } }).entity_object.kycs.status;

/** A customer with KYC started and approved: two `customer.kycs.updated` events (pending, then approved). */
async function startAndApprove(): Promise<string> {
  const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
  expect((await api("POST", `/v0/customers/${id}/kycs`)).status).toBe(201);
  clock.ms += 1_000;
  expect((await approve(id)).status).toBe(200);
  return id;
}

beforeAll(async () => {
  sandbox = await startAlignSandbox({
    apiKey: KEY,
    now: () => clock.ms,
    webhooks: { maxAttempts: 1, timeoutMs: 2_000 },
  });
});
afterAll(() => sandbox.close());
beforeEach(async () => {
  sandbox.reset();
  clock.ms = START;
  await receiver?.close();
  receiver = await startReceiver();
});

describe("redelivery", () => {
  it("sends an earlier delivery's identical signed bytes again, later and out of order", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    await startAndApprove();
    await sandbox.deliveriesSettled();
    const [pending, approved] = await receiver.waitFor(2);
    expect([statusOf(pending?.body ?? Buffer.alloc(0)), statusOf(approved?.body ?? Buffer.alloc(0))]).toEqual([
      "pending",
      "approved",
    ]);

    // An hour later (virtual), the older event arrives again, after the newer one.
    clock.ms += 3_600_000;
    const first = sandbox.state().deliveries[0];
    const attempt = await sandbox.redeliver(first?.delivery_id ?? "", { delayMs: 50 });
    expect(attempt).toEqual({ at: new Date(clock.ms).toISOString(), status: 200 });
    const [original, , again] = await receiver.waitFor(3);
    expect(again?.body.equals(original?.body ?? Buffer.alloc(0))).toBe(true);
    expect(again?.headers["x-hmac-signature"]).toBe(original?.headers["x-hmac-signature"]);
    expect(again?.headers["x-hmac-signature"]).toBe(sign(KEY, again?.body ?? ""));
    expect(again?.headers["content-type"]).toBe("application/json");
    expect(statusOf(again?.body ?? Buffer.alloc(0))).toBe("pending");

    const deliveries = sandbox.state().deliveries;
    expect(deliveries).toHaveLength(3);
    expect(deliveries[2]).toMatchObject({ redelivery_of: first?.delivery_id, state: "delivered", body: first?.body });
  });

  it("takes an index into state().deliveries, and may send to another URL", async () => {
    const other = await startReceiver();
    try {
      await api("POST", "/v0/webhooks", { url: receiver.url });
      await startAndApprove();
      await sandbox.deliveriesSettled();
      await sandbox.redeliver(1, { url: other.url });
      await sandbox.redeliver(1, { url: other.url });
      const [a, b] = await other.waitFor(2);
      const [, approved] = await receiver.waitFor(2);
      expect(a?.body.equals(approved?.body ?? Buffer.alloc(0))).toBe(true);
      expect(b?.body.equals(approved?.body ?? Buffer.alloc(0))).toBe(true);
      expect(a?.headers["x-hmac-signature"]).toBe(sign(KEY, a?.body ?? ""));
    } finally {
      await other.close();
    }
  });

  it("a redelivery is one attempt: a refusing receiver marks it failed", async () => {
    const refusing = await startReceiver(500);
    try {
      await api("POST", "/v0/webhooks", { url: receiver.url });
      await startAndApprove();
      await sandbox.deliveriesSettled();
      expect(await sandbox.redeliver(0, { url: refusing.url })).toMatchObject({ status: 500 });
      expect(sandbox.state().deliveries[2]).toMatchObject({ state: "failed", redelivery_of: expect.any(String) });
      expect(() => sandbox.deliveryRequest("no-such-delivery")).toThrow(/No delivery/);
    } finally {
      await refusing.close();
    }
  });

  it("deliveryRequest gives the exact request a delivery sent", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    await startAndApprove();
    await sandbox.deliveriesSettled();
    const [received] = await receiver.waitFor(1);
    const request = sandbox.deliveryRequest(0);
    expect(request).toMatchObject({ method: "POST", url: receiver.url });
    expect(Buffer.from(request.body).equals(received?.body ?? Buffer.alloc(0))).toBe(true);
    for (const [name, value] of Object.entries(request.headers)) expect(received?.headers[name]).toBe(value);
    expect(request.headers["x-hmac-signature"]).toBe(sign(KEY, request.body));
  });
});

it("a redelivery waiting out its delay ends when the emulator closes, sending nothing", async () => {
  const closing = await startAlignSandbox({ apiKey: KEY });
  await call(closing, "POST", "/v0/webhooks", { url: receiver.url }, { authorization: KEY });
  const id = (await call(closing, "POST", "/v0/customers", alice, { authorization: KEY })).json.customer_id as string;
  await call(closing, "POST", `/v0/customers/${id}/kycs`, undefined, { authorization: KEY });
  await closing.deliveriesSettled();
  const waiting = closing.redeliver(0, { delayMs: 60_000 });
  await closing.close();
  await expect(waiting).rejects.toThrow(/closed/);
  expect(receiver.received).toHaveLength(1);
});

describe("held deliveries", () => {
  it("holds deliveries and releases them in any order, each with its own signed bytes", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    sandbox.holdDeliveries();
    await startAndApprove();
    // Held deliveries are not pending: settled resolves, and nothing was sent.
    await sandbox.deliveriesSettled();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(receiver.received).toHaveLength(0);
    const held = sandbox.state().deliveries;
    expect(held.map((delivery) => [delivery.state, delivery.attempts.length])).toEqual([
      ["held", 0],
      ["held", 0],
    ]);

    // Newest first.
    expect(await sandbox.releaseDelivery(held[1]?.delivery_id ?? "")).toMatchObject({ status: 200 });
    expect(await sandbox.releaseDelivery(0)).toMatchObject({ status: 200 });
    const [first, second] = await receiver.waitFor(2);
    expect([statusOf(first?.body ?? Buffer.alloc(0)), statusOf(second?.body ?? Buffer.alloc(0))]).toEqual([
      "approved",
      "pending",
    ]);
    expect(first?.body.toString("utf8")).toBe(held[1]?.body);
    expect(first?.headers["x-hmac-signature"]).toBe(sign(KEY, first?.body ?? ""));
    expect(sandbox.state().deliveries.map((delivery) => delivery.state)).toEqual(["delivered", "delivered"]);
    await expect(sandbox.releaseDelivery(0)).rejects.toThrow(/not held/);
  });

  it("resume sends new deliveries again; reset stops holding", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    sandbox.holdDeliveries();
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    await api("POST", `/v0/customers/${id}/kycs`);
    sandbox.resumeDeliveries();
    await approve(id);
    await sandbox.deliveriesSettled();
    expect(sandbox.state().deliveries.map((delivery) => delivery.state)).toEqual(["held", "delivered"]);

    sandbox.holdDeliveries();
    sandbox.reset();
    await api("POST", "/v0/webhooks", { url: receiver.url });
    await startAndApprove();
    await sandbox.deliveriesSettled();
    expect(sandbox.state().deliveries.map((delivery) => delivery.state)).toEqual(["delivered", "delivered"]);
  });
});

describe("onEvent", () => {
  it("tells each event with its exact body and signature, the same bytes the delivery sends", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    const seen: PublishedEvent[] = [];
    const stop = sandbox.onEvent((event) => {
      seen.push(event);
    });
    try {
      await startAndApprove();
    } finally {
      stop();
    }
    await sandbox.deliveriesSettled();
    const received = await receiver.waitFor(2);
    expect(seen.map((event) => event.event.event_type)).toEqual(["customer.kycs.updated", "customer.kycs.updated"]);
    seen.forEach((event, index) => {
      expect(Buffer.from(event.body).equals(received[index]?.body ?? Buffer.alloc(0))).toBe(true);
      expect(event.signature).toBe(sign(KEY, event.body));
      expect(event.headers["x-hmac-signature"]).toBe(event.signature);
      expect(JSON.parse(event.body)).toEqual(event.event);
    });
    // Removed: later events are not told.
    await sandbox.decideKyc(sandbox.state().customers[0]?.customer_id ?? "", "rejected");
    expect(seen).toHaveLength(2);
  });

  it("the answer waits for the listener, so the event can be delivered before the caller hears back", async () => {
    // No webhook registered: the only delivery is the listener's own.
    const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
    const order: string[] = [];
    const stop = sandbox.onEvent(async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const response = await fetch(receiver.url, { method: "POST", headers: event.headers, body: event.body });
      order.push(`delivered ${response.status}`);
    });
    try {
      const started = performance.now();
      const answer = await api("POST", `/v0/customers/${id}/kycs`);
      order.push(`answered ${answer.status}`);
      expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    } finally {
      stop();
    }
    expect(order).toEqual(["delivered 200", "answered 201"]);
    const [delivered] = receiver.received;
    expect(delivered?.headers["x-hmac-signature"]).toBe(sign(KEY, delivered?.body ?? ""));
    expect(JSON.parse(delivered?.body.toString("utf8") ?? "{}")).toMatchObject({
      event_type: "customer.kycs.updated",
      entity_id: id,
      created_at: new Date(START).toISOString(),
    });
    // The change was durable before the listener heard of it.
    expect(sandbox.state().customers[0]?.kycs).toMatchObject({ status: "pending" });
  });

  it("a listener that throws changes nothing for the caller", async () => {
    const stop = sandbox.onEvent(() => {
      throw new Error("listener failed");
    });
    try {
      const id = (await api("POST", "/v0/customers", alice)).json.customer_id as string;
      expect((await api("POST", `/v0/customers/${id}/kycs`)).status).toBe(201);
      expect((await approve(id)).status).toBe(200);
    } finally {
      stop();
    }
  });
});

describe("delivery controls over HTTP (admin routes)", () => {
  const admin = (method: string, path: string, body?: unknown) => call(sandbox, method, `/_emulator${path}`, body);

  it("hold, release out of order, fetch the signed request and redeliver it", async () => {
    await api("POST", "/v0/webhooks", { url: receiver.url });
    expect((await admin("POST", "/deliveries/hold")).status).toBe(200);
    await startAndApprove();
    const [older, newer] = sandbox.state().deliveries;
    expect([older?.state, newer?.state]).toEqual(["held", "held"]);

    expect(await admin("POST", `/deliveries/${newer?.delivery_id}/release`)).toMatchObject({
      status: 200,
      json: { status: 200 },
    });
    expect((await admin("POST", "/deliveries/0/release")).json).toMatchObject({ status: 200 });
    const [first] = await receiver.waitFor(2);
    expect(first?.body.toString("utf8")).toBe(newer?.body);

    const request = await admin("GET", "/deliveries/1");
    expect(request.json).toEqual({
      method: "POST",
      url: receiver.url,
      headers: {
        "content-type": "application/json",
        "user-agent": "align-sandbox-emulator",
        "x-hmac-signature": sign(KEY, newer?.body ?? ""),
      },
      body: newer?.body,
    });
    expect((await admin("POST", "/deliveries/1/redeliver", { delay_ms: 10 })).json).toMatchObject({ status: 200 });
    const [, , again] = await receiver.waitFor(3);
    expect(again?.body.equals(first?.body ?? Buffer.alloc(0))).toBe(true);
    expect(again?.headers["x-hmac-signature"]).toBe(first?.headers["x-hmac-signature"]);

    expect(await admin("POST", "/deliveries/0/release")).toMatchObject({ status: 409, json: { code: "not_held" } });
    expect((await admin("POST", "/deliveries/99/release")).status).toBe(404);
    expect((await admin("GET", "/deliveries/%E0%A4%A")).status).toBe(404);
    expect((await admin("POST", "/deliveries/0/redeliver", { delay_ms: -1 })).status).toBe(400);
    expect((await admin("POST", "/deliveries/resume")).status).toBe(200);
    await sandbox.decideKyc(sandbox.state().customers[0]?.customer_id ?? "", "rejected");
    await sandbox.deliveriesSettled();
    expect(sandbox.state().deliveries.at(-1)?.state).toBe("delivered");
  });
});
