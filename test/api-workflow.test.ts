/**
 * End to end over real sockets: the seed's "Complete Workflow" through the
 * local stack (API Gateway emulator -> handlers -> dynalite + Align emulator).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;

beforeAll(async () => {
  // Refresh on every read and no webhooks: GET reflects Align through the refresh rule alone.
  t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "0" } });
});
afterAll(() => t.close());

describe("seed: complete workflow over the API", () => {
  it("create -> start KYC -> simulate approve -> GET reads approved", async () => {
    const created = await t.api("POST", "/customers", {
      body: { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      email: "alice@example.com",
      type: "individual",
      first_name: "Alice",
      last_name: "Smith",
      kycs: null,
    });
    const id = created.json.customer_id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const session = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(session.status).toBe(201);
    expect(session.json.kycs).toMatchObject({ status: "pending" });
    const link = (session.json.kycs as { kyc_flow_link: string }).kyc_flow_link;
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

    // The open session is returned again, not a new one.
    const again = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(again.status).toBe(201);
    expect((again.json.kycs as { kyc_flow_link: string }).kyc_flow_link).toBe(link);

    const simulated = await t.api("POST", `/sandbox/customers/${id}/simulate`, {
      body: { action: "kyc.status.approve" },
    });
    expect(simulated.status).toBe(200);

    const read = await t.api("GET", `/customers/${id}`);
    expect(read.status).toBe(200);
    expect(read.json.kycs).toMatchObject({ status: "approved", sub_status: "kyc_form_submission_accepted" });
    expect(read.json.stale).toBeUndefined();

    const listed = await t.api("GET", "/customers");
    expect((listed.json.items as { customer_id: string }[]).map((item) => item.customer_id)).toEqual([id]);

    // Align holds exactly one customer, and our record agrees with it.
    const aligned = t.stack.sandbox?.state().customers ?? [];
    expect(aligned.map((customer) => customer.customer_id)).toEqual([id]);
    const [record] = await t.items("CUSTOMER");
    expect(record?.owner).toBe("user-a");
    expect(JSON.parse(record?.data as string).kycs.status).toBe("approved");
  });

  it("creates a corporate customer", async () => {
    const created = await t.api("POST", "/customers", {
      body: { email: "billing@acme.example", type: "corporate", company_name: "Acme Corporation" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ type: "corporate", company_name: "Acme Corporation", kycs: null });
  });

  it("answers 409 email_already_exists, with the customer_id when the caller owns it", async () => {
    const body = { email: "dup@example.com", type: "individual", first_name: "D", last_name: "Up" };
    const first = await t.api("POST", "/customers", { body });
    const mine = await t.api("POST", "/customers", { body: { ...body, email: "DUP@example.com" } });
    expect(mine.status).toBe(409);
    expect(mine.headers.get("content-type")).toBe("application/problem+json");
    expect(mine.json).toMatchObject({ code: "email_already_exists", customer_id: first.json.customer_id });
    const theirs = await t.api("POST", "/customers", { body, token: t.stack.token("user-b") });
    expect(theirs.status).toBe(409);
    expect(theirs.json.code).toBe("email_already_exists");
    expect(theirs.json.customer_id).toBeUndefined();
  });
});
