/**
 * The whole local stack (core's handlers, unconfigured) against each emulator
 * profile: the Align client core builds once per cold start learns the
 * dialect on its first calls and the seed's workflow completes over the API.
 */
import { describe, expect, it } from "vitest";
import { startTestStack } from "./support/stack.js";

describe("the local stack under each emulator profile, no wire configuration", () => {
  it.each(["official", "sdk", "legacy"] as const)("%s: create, KYC, approve, GET approved", async (profile) => {
    const t = await startTestStack({
      sandboxProfile: profile,
      sandboxKycLinkTtlMs: 60_000,
      env: { KYC_REFRESH_AFTER_SECONDS: "0" },
    });
    try {
      const created = await t.api("POST", "/customers", {
        body: { email: `${profile}@example.com`, type: "individual", first_name: "Alice", last_name: "Smith" },
      });
      expect(created.status).toBe(201);
      expect(created.json.type).toBe("individual");
      const id = created.json.customer_id as string;
      expect((await t.api("POST", `/customers/${id}/kyc-sessions`)).status).toBe(201);
      const [session] = t.stack.sandbox?.state().kyc_sessions ?? [];
      expect(Date.parse(session?.expires_at ?? "") - Date.parse(session?.created_at ?? "")).toBe(60_000);
      const simulated = await t.api("POST", `/sandbox/customers/${id}/simulate`, {
        body: { action: "kyc.status.approve" },
      });
      expect(simulated.status).toBe(200);
      const read = await t.api("GET", `/customers/${id}`);
      expect(read.json.kycs).toMatchObject({ status: "approved" });

      const requests = t.stack.sandbox?.state().requests ?? [];
      // One refusal at most per contested point, over the stack's whole life.
      expect(requests.filter((entry) => entry.status === 401).length).toBeLessThanOrEqual(1);
      expect(requests.filter((entry) => entry.status === 400).length).toBeLessThanOrEqual(1);
      for (const entry of requests) expect(entry.auth_headers).toHaveLength(1);
    } finally {
      await t.stack.sandbox?.deliveriesSettled();
      await t.close();
    }
  });
});
