/**
 * The API against an Align whose email filter is exact and whose wire dialect
 * is the public SDK's (the emulator's `sdk` profile): creates are spelled in
 * lower case, so a 409 and a lost answer still find the customer.
 */
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
const sandbox = () => {
  const s = t.stack.sandbox;
  if (!s) throw new Error("emulator expected");
  return s;
};
const person = (email: string) => ({ email, type: "individual", first_name: "Ada", last_name: "Lovelace" });

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, sandboxProfile: "sdk", env: { ALIGN_TIMEOUT_MS: "1000" } });
});
afterAll(() => t.close());

describe("an exact email filter (sdk profile)", () => {
  it("a second create with other casing is a 409 carrying the caller's customer_id", async () => {
    const first = await t.api("POST", "/customers", { body: person("Dup@Example.com") });
    expect(first.status).toBe(201);
    expect(first.json.email).toBe("dup@example.com");
    const second = await t.api("POST", "/customers", { body: person("DUP@example.COM") });
    expect(second.status).toBe(409);
    expect(second.json.customer_id).toBe(first.json.customer_id);
  });

  it("a lost create in mixed case is recovered by its retry", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    const body = person("Mixed.Case@Example.com");
    expect((await t.api("POST", "/customers", { key: "mixed-1", body })).status).toBe(502);
    const retried = await t.api("POST", "/customers", { key: "mixed-1", body });
    expect(retried.status).toBe(201);
    expect(
      sandbox()
        .state()
        .customers.filter((c) => c.email.toLowerCase() === "mixed.case@example.com"),
    ).toHaveLength(1);
  });

  it("a customer made elsewhere in the caller's spelling is found under that spelling", async () => {
    // Someone created it at Align directly, with capitals; the exact filter only finds that spelling.
    const response = await fetch(`${t.stack.alignUrl}/v0/customers`, {
      method: "POST",
      headers: { authorization: "sandbox-key", "content-type": "application/json" },
      body: JSON.stringify({ ...person("Elsewhere@Example.com"), type: "individual" }),
    });
    expect(response.status).toBeLessThan(300);
    const answer = await t.api("POST", "/customers", { body: person("Elsewhere@Example.com") });
    expect(answer.status).toBe(409);
    expect(answer.json.customer_id).toBeUndefined(); // not the caller's
    const lookups = sandbox()
      .state()
      .requests.filter((entry) => entry.route === AlignRoute.ListCustomers);
    expect(lookups.length).toBeGreaterThanOrEqual(2);
  });
});
