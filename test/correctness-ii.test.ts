/**
 * Regressions of the second outside review (issue 21, "Correctness II"):
 * each test is named after the behaviour it pins and failed on 8678390.
 * Real parts: the API over loopback, dynalite through the AWS SDK, the Align
 * emulator with faults, webhooks signed with the key as Align signs them.
 */
import { Align, signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { resetRuntime, setClock } from "@align-onboarding/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AlignRelay, startAlignRelay } from "./support/align-relay.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const KEY = "sandbox-key";
const HOUR = 60 * 60 * 1000;
const LINK_TTL_MS = 1_500;
let t: TestStack;
let relay: AlignRelay;
let offset = 0;

beforeAll(async () => {
  // Only what a test does moves a record: no GET refresh, no webhook the emulator sends by itself.
  // Align's links live 1.5 s, so a test can have Align open a newer session.
  t = await startTestStack({
    registerWebhook: false,
    sandboxKycLinkTtlMs: LINK_TTL_MS,
    env: { ALIGN_TIMEOUT_MS: "2000", KYC_REFRESH_AFTER_SECONDS: "3600" },
  });
  // Our functions reach Align through a relay that can hold an answer after Align acted.
  relay = await startAlignRelay(sandbox().url);
  process.env.ALIGN_BASE_URL = relay.url;
  resetRuntime();
});
afterAll(async () => {
  await relay.close();
  await t.close();
});
beforeEach(() => {
  offset = 0;
  setClock(() => Date.now() + offset);
  sandbox().clearFaults();
});
afterEach(() => setClock(Date.now));

const sandbox = () => t.sandbox();
const alignCalls = (route: string) => t.alignRequests(route).length;

async function deliver(body: string) {
  const response = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, KEY) },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A `customer.kycs.updated` event carrying the customer with `kycs`, dated `createdAt`. */
function kycEvent(customer: Record<string, unknown>, kycs: Record<string, unknown>, createdAt: string) {
  return JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: customer.customer_id,
    entity_type: "customer",
    created_at: createdAt,
    entity_object: { ...customer, kycs },
  });
}

async function createCustomer(email: string) {
  const created = await t.api("POST", "/customers", { body: individual(email) });
  expect(created.status).toBe(201);
  return created.json;
}

async function startKyc(id: unknown, key?: string, body: Record<string, unknown> = {}) {
  return t.api("POST", `/customers/${id}/kyc-sessions`, { body, ...(key ? { key } : {}) });
}

const linkOf = (answer: { json: Record<string, unknown> }) =>
  (answer.json.kycs as { kyc_flow_link?: string } | undefined)?.kyc_flow_link;

describe("the ordering rule", () => {
  it("a redelivered far-future event never moves approved back to pending", async () => {
    const customer = await createCustomer("far-future@example.com");
    const started = await startKyc(customer.customer_id);
    const link = linkOf(started);
    const pending = kycEvent(customer, { status: "pending", kyc_flow_link: link }, "9999-12-31T23:59:59.000Z");
    expect((await deliver(pending)).status).toBe(200);
    const approved = kycEvent(customer, { status: "approved", kyc_flow_link: link }, new Date().toISOString());
    expect((await deliver(approved)).json.outcome).toBe("processed");
    // Align redelivers the same bytes hours later: the same instant, whenever it arrives.
    offset = 3 * HOUR;
    expect((await deliver(pending)).status).toBe(200);
    const read = await t.api("GET", `/customers/${customer.customer_id}`);
    expect((read.json.kycs as { status: string }).status).toBe("approved");
  });

  it("a far-future event does not freeze the record against a later rejection and resubmission", async () => {
    const customer = await createCustomer("far-future-freeze@example.com");
    const link = linkOf(await startKyc(customer.customer_id));
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    await deliver(kycEvent(customer, { status: "pending", kyc_flow_link: link }, "+275760-09-13T00:00:00.000Z"));
    expect((await deliver(kycEvent(customer, { status: "rejected", kyc_flow_link: link }, at(1_000)))).status).toBe(
      200,
    );
    offset = HOUR;
    // The resubmission an hour later is pending again, by Align's instants.
    await deliver(kycEvent(customer, { status: "pending", kyc_flow_link: link }, at(HOUR)));
    const read = await t.api("GET", `/customers/${customer.customer_id}`);
    expect((read.json.kycs as { status: string }).status).toBe("pending");
  });

  it("a webhook of the new session landing before our own write keeps the session's issue instant: the next KYC start reuses the link", async () => {
    const customer = await createCustomer("webhook-first@example.com");
    // Align opens the session; its webhook for that session reaches us before Align's answer does.
    const held = relay.holdNext(/^POST \/v0\/customers\/[^/]+\/kycs/);
    const starting = startKyc(customer.customer_id);
    await held.reached;
    const link = sandbox()
      .state()
      .customers.find((c) => c.customer_id === customer.customer_id)?.kycs?.kyc_flow_link;
    expect(link).toBeDefined();
    const event = kycEvent(customer, { status: "pending", kyc_flow_link: link }, new Date().toISOString());
    expect((await deliver(event)).json.outcome).toBe("processed");
    held.release();
    const first = await starting;
    expect(first.status).toBe(201);
    expect(linkOf(first)).toBe(link);
    const sessions = alignCalls(AlignRoute.CreateKycSession);
    const again = await startKyc(customer.customer_id);
    expect(again.status).toBe(201);
    expect(linkOf(again)).toBe(link);
    expect(alignCalls(AlignRoute.CreateKycSession)).toBe(sessions);
  });

  it("a KYC-start retry after an unknown outcome reuses the session its first attempt opened, even when Align's webhook stored it first", async () => {
    const customer = await createCustomer("retry-after-webhook@example.com");
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "drop", when: "after_commit" } });
    const lost = await startKyc(customer.customer_id, "kyc-lost");
    expect(lost.status).toBeGreaterThanOrEqual(500);
    const sessions = alignCalls(AlignRoute.CreateKycSession);
    const atAlign = sandbox()
      .state()
      .customers.find((c) => c.customer_id === customer.customer_id);
    const link = atAlign?.kycs?.kyc_flow_link;
    expect(link).toBeDefined();
    expect(
      (await deliver(kycEvent(customer, { status: "pending", kyc_flow_link: link }, new Date().toISOString()))).status,
    ).toBe(200);
    const retried = await startKyc(customer.customer_id, "kyc-lost");
    expect(retried.status).toBe(201);
    expect(linkOf(retried)).toBe(link);
    expect(alignCalls(AlignRoute.CreateKycSession)).toBe(sessions);
  });

  it("a KYC-start retry after an unknown outcome answers with the session its first attempt opened, even once approved (found by the simulation)", async () => {
    const customer = await createCustomer("retry-after-approval@example.com");
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "drop", when: "after_commit" } });
    expect((await startKyc(customer.customer_id, "kyc-then-approved")).status).toBeGreaterThanOrEqual(500);
    const link = sandbox()
      .state()
      .customers.find((c) => c.customer_id === customer.customer_id)?.kycs?.kyc_flow_link;
    // Align approves it meanwhile (its webhooks are not registered here: our record never heard of the session).
    const align = new Align({ apiKey: KEY, baseUrl: sandbox().url, authHeader: sandbox().profile.auth });
    await align.customers.simulateCustomer({ customer_id: String(customer.customer_id), action: "kyc.status.approve" });
    const sessions = alignCalls(AlignRoute.CreateKycSession);
    const retried = await startKyc(customer.customer_id, "kyc-then-approved");
    expect(retried.status).toBe(201);
    expect(linkOf(retried)).toBe(link);
    expect(alignCalls(AlignRoute.CreateKycSession)).toBe(sessions);
    // A new key on an approved customer opens nothing either: approved is final.
    expect((await startKyc(customer.customer_id, undefined, { new_session: true })).status).toBe(201);
    expect(alignCalls(AlignRoute.CreateKycSession)).toBe(sessions);
  });

  it("a GET refresh that read the old session before a new one was issued never replaces the new session", async () => {
    const customer = await createCustomer("refresh-race@example.com");
    const first = await startKyc(customer.customer_id);
    // The new session is asked for first, but Align serves the refresh's later read before it: the
    // refresh sees the old session, and its answer arrives after the new session is recorded.
    await new Promise((resolve) => setTimeout(resolve, LINK_TTL_MS + 100)); // Align opens a new one now
    offset = 2 * HOUR; // the stored copy is due for a refresh
    const asking = relay.holdNext(/^POST \/v0\/customers\/[^/]+\/kycs/, "request");
    const renewing = startKyc(customer.customer_id, undefined, { new_session: true });
    await asking.reached;
    const reading = relay.holdNext(/^GET \/v0\/customers\/[^/?]+$/, "answer");
    const refreshing = t.api("GET", `/customers/${customer.customer_id}`);
    await reading.reached;
    asking.release();
    const renewed = await renewing;
    expect(renewed.status).toBe(201);
    expect(linkOf(renewed)).not.toBe(linkOf(first));
    reading.release();
    expect((await refreshing).status).toBe(200);
    const read = await t.api("GET", `/customers/${customer.customer_id}`);
    expect(linkOf(read)).toBe(linkOf(renewed));
    // And the next KYC start hands out the new link, not the expired one.
    const next = await startKyc(customer.customer_id);
    expect(linkOf(next)).toBe(linkOf(renewed));
  });
});

describe("the finality rule", () => {
  it("Align's kyc_session_expired at simulate is not stored: the same key runs again after KYC is restarted", async () => {
    const customer = await createCustomer("expired-session@example.com");
    expect((await startKyc(customer.customer_id)).status).toBe(201);
    sandbox().addFault({
      route: AlignRoute.SimulateCustomer,
      action: {
        type: "status",
        status: 400,
        body: { message: "The customer's KYC link expired: start KYC again", code: "kyc_session_expired" },
      },
    });
    const path = `/sandbox/customers/${customer.customer_id}/simulate`;
    const body = { action: "kyc.status.approve" };
    const refused = await t.api("POST", path, { key: "sim-expired", body });
    expect(refused.status).toBe(409);
    expect(refused.json.code).toBe("kyc_session_expired");
    expect((await startKyc(customer.customer_id, undefined, { new_session: true })).status).toBe(201);
    const again = await t.api("POST", path, { key: "sim-expired", body });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("two callers", () => {
  it("two callers whose identical creates both lost Align's answer: exactly one ends with the customer, the other with 409 and no id", async () => {
    const body = individual("identical-lost@example.com");
    const tokenB = t.stack.token("user-b");
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" }, count: 2 });
    expect((await t.api("POST", "/customers", { key: "same-a", body })).status).toBeGreaterThanOrEqual(500);
    expect((await t.api("POST", "/customers", { key: "same-b", body, token: tokenB })).status).toBeGreaterThanOrEqual(
      500,
    );
    const answers = [];
    for (let round = 0; round < 2; round++) {
      answers.push(
        await t.api("POST", "/customers", { key: "same-a", body }),
        await t.api("POST", "/customers", { key: "same-b", body, token: tokenB }),
      );
    }
    const [a1, b1, a2, b2] = answers as [
      (typeof answers)[0],
      (typeof answers)[0],
      (typeof answers)[0],
      (typeof answers)[0],
    ];
    expect([a1.status, b1.status].sort()).toEqual([201, 409]);
    const loser = a1.status === 409 ? a1 : b1;
    expect(loser.json.customer_id).toBeUndefined();
    // Definite: the same answers again, replayed.
    expect([a2.status, b2.status]).toEqual([a1.status, b1.status]);
    expect(a2.headers.get("idempotent-replayed")).toBe("true");
    expect(b2.headers.get("idempotent-replayed")).toBe("true");
    const owners = (await t.items("CUSTOMER"))
      .filter((item) => JSON.parse(String(item.data)).email === body.email)
      .map((item) => item.owner);
    expect(owners).toHaveLength(1);
  });
});
