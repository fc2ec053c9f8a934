/**
 * GET's refresh rule: a KYC status that is not final and older than the bound
 * is re-read from Align; Align down serves the stored copy marked stale.
 * No webhook is registered here, so only the refresh can move a status.
 */
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack | undefined;
afterAll(() => t?.close());

const alignReads = (stack: TestStack) =>
  stack.stack.sandbox?.state().requests.filter((entry) => entry.route === AlignRoute.GetCustomer) ?? [];

async function approvedAtAlignOnly(stack: TestStack, email: string): Promise<string> {
  const created = await stack.api("POST", "/customers", { body: individual(email) });
  const id = created.json.customer_id as string;
  await stack.api("POST", `/customers/${id}/kyc-sessions`);
  await stack.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } });
  return id;
}

describe("GET /customers/{id} refresh", () => {
  it("within the bound, serves the stored copy without asking Align", async () => {
    t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "3600" } });
    const id = await approvedAtAlignOnly(t, "fresh@example.com");
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.json.kycs).toMatchObject({ status: "pending" });
    expect(alignReads(t)).toHaveLength(0);
    await t.close();
    t = undefined;
  });

  it("past the bound, refreshes a pending status; a final status is not refreshed again", async () => {
    t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "0" } });
    const id = await approvedAtAlignOnly(t, "refresh@example.com");
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.json.kycs).toMatchObject({ status: "approved" });
    expect(alignReads(t)).toHaveLength(1);
    await t.api("GET", `/customers/${id}`);
    expect(alignReads(t)).toHaveLength(1); // approved is final
  });

  it("Align down: serves the stored copy with stale: true, quickly", async () => {
    if (!t) throw new Error("stack expected");
    const created = await t.api("POST", "/customers", { body: individual("stale@example.com") });
    const id = created.json.customer_id as string;
    t.stack.sandbox?.addFault({ route: AlignRoute.GetCustomer, count: 5, action: { type: "status", status: 503 } });
    const started = performance.now();
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ customer_id: id, kycs: null, stale: true });
    expect(performance.now() - started).toBeLessThan(1000); // no retries while a user waits
    t.stack.sandbox?.clearFaults();
    const later = await t.api("GET", `/customers/${id}`);
    expect(later.json.stale).toBeUndefined();
  });
});
