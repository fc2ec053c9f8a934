/**
 * KYC sessions over the API as Align runs them (issue 16): links expire, a
 * caller can ask for a new session, simulate needs a session, and `rejected`
 * stays open to resubmission, so GET keeps refreshing it.
 */
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { setClock } from "@align-onboarding/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
const sandbox = () => {
  const s = t.stack.sandbox;
  if (!s) throw new Error("emulator expected");
  return s;
};
const kycPosts = () =>
  sandbox()
    .state()
    .requests.filter((entry) => entry.route === AlignRoute.CreateKycSession);
const linkWorks = async (link: string) => (await fetch(link)).status === 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  // Align's links live 400 ms here; every GET refreshes (bound 0).
  t = await startTestStack({
    registerWebhook: false,
    sandboxKycLinkTtlMs: 400,
    env: { KYC_REFRESH_AFTER_SECONDS: "0", KYC_LINK_MAX_AGE_SECONDS: "3600" },
  });
});
afterAll(() => t.close());
afterEach(() => setClock(Date.now));

async function newCustomer(email: string): Promise<string> {
  const created = await t.api("POST", "/customers", { body: individual(email) });
  expect(created.status).toBe(201);
  return created.json.customer_id as string;
}

describe("KYC links", () => {
  it("a pending session younger than the bound is handed out again, with no new Align session", async () => {
    const id = await newCustomer("link-reuse@example.com");
    const first = await t.api("POST", `/customers/${id}/kyc-sessions`);
    const second = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(second.json.kycs).toEqual(first.json.kycs);
    expect(kycPosts().filter((entry) => entry.status === 201)).toHaveLength(1);
  });

  it("after the bound, a start opens a new session whose link works", async () => {
    const id = await newCustomer("link-expiry@example.com");
    const first = await t.api("POST", `/customers/${id}/kyc-sessions`);
    const oldLink = (first.json.kycs as { kyc_flow_link: string }).kyc_flow_link;
    expect(await linkWorks(oldLink)).toBe(true);
    await sleep(450); // Align's link has expired
    expect(await linkWorks(oldLink)).toBe(false);
    const later = Date.now() + 3_601_000; // and our bound has passed
    setClock(() => Date.now() + (later - Date.now()));
    const again = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(again.status).toBe(201);
    const newLink = (again.json.kycs as { kyc_flow_link: string }).kyc_flow_link;
    expect(newLink).not.toBe(oldLink);
    expect(await linkWorks(newLink)).toBe(true);
    const read = await t.api("GET", `/customers/${id}`);
    expect((read.json.kycs as { kyc_flow_link: string }).kyc_flow_link).toBe(newLink);
  });

  it("new_session: true opens a new session at once", async () => {
    const id = await newCustomer("link-fresh@example.com");
    const first = await t.api("POST", `/customers/${id}/kyc-sessions`);
    await sleep(450);
    const fresh = await t.api("POST", `/customers/${id}/kyc-sessions`, { body: { new_session: true } });
    expect(fresh.status).toBe(201);
    const link = (fresh.json.kycs as { kyc_flow_link: string }).kyc_flow_link;
    expect(link).not.toBe((first.json.kycs as { kyc_flow_link: string }).kyc_flow_link);
    expect(await linkWorks(link)).toBe(true);
  });
});

describe("simulate and decisions", () => {
  it("simulate before KYC started is refused (409 kyc_not_started), not sent to Align, not stored", async () => {
    const id = await newCustomer("simulate-early@example.com");
    const before = (await t.items("IDEMPOTENCY")).length;
    const answer = await t.api("POST", `/sandbox/customers/${id}/simulate`, {
      key: "early-1",
      body: { action: "kyc.status.approve" },
    });
    expect(answer.status).toBe(409);
    expect(answer.json.code).toBe("kyc_not_started");
    expect(
      sandbox()
        .state()
        .requests.filter((entry) => entry.route === AlignRoute.SimulateCustomer),
    ).toHaveLength(0);
    expect(await t.items("IDEMPOTENCY")).toHaveLength(before);
    // Once KYC started, the same key runs.
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    const later = await t.api("POST", `/sandbox/customers/${id}/simulate`, {
      key: "early-1",
      body: { action: "kyc.status.approve" },
    });
    expect(later.status).toBe(200);
  });

  it("rejected is not final: GET keeps refreshing it, and shows a later approval", async () => {
    const id = await newCustomer("rejected-then-approved@example.com");
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    await sandbox().decideKyc(id, "rejected");
    expect(((await t.api("GET", `/customers/${id}`)).json.kycs as { status: string }).status).toBe("rejected");
    await t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } });
    // Past the as-of window, so a refresh may replace a `rejected` with what Align says now.
    const later = Date.now() + 11_000;
    setClock(() => Date.now() + (later - Date.now()));
    expect(((await t.api("GET", `/customers/${id}`)).json.kycs as { status: string }).status).toBe("approved");
  });
});
