/**
 * Issue 21 #7: an email Align holds under a spelling neither we nor the
 * caller used (made outside this service; the `sdk` profile's list filter is
 * exact, as the SDK documents it) gets a definite answer in bounded work.
 * Failed on 8678390: a 409 with Retry-After, never stored, three Align calls
 * per retry, for the key's 24 hours.
 */
import { Align } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, sandboxProfile: "sdk" });
});
afterAll(() => t.close());

it("an email held at Align under a third spelling answers a final 409 in at most three Align calls, then replays it", async () => {
  const sandbox = t.stack.sandbox;
  if (!sandbox) throw new Error("emulator expected");
  const outside = new Align({ apiKey: "sandbox-key", baseUrl: sandbox.url, authHeader: sandbox.profile.auth });
  await outside.customers.create({
    email: "Third.Spelling@Example.com",
    type: "individual",
    first_name: "Ada",
    last_name: "Lovelace",
  });
  const calls = () =>
    sandbox
      .state()
      .requests.filter(
        (entry) => entry.route.startsWith("POST /v0/customers") || entry.route === AlignRoute.ListCustomers,
      ).length;
  // Our client learns this Align's auth header on its first call: done before counting.
  const warmUp = { email: "warm-up@example.com", type: "individual", first_name: "Ada", last_name: "Lovelace" };
  expect((await t.api("POST", "/customers", { body: warmUp })).status).toBe(201);
  const before = calls();
  const body = { email: "third.spelling@EXAMPLE.com", type: "individual", first_name: "Ada", last_name: "Lovelace" };
  const first = await t.api("POST", "/customers", { key: "third-spelling", body });
  expect(first.status).toBe(409);
  expect(first.json.code).toBe("email_already_exists");
  expect(first.json.customer_id).toBeUndefined();
  expect(first.headers.get("retry-after")).toBeNull();
  expect(calls() - before).toBeLessThanOrEqual(3);
  const again = await t.api("POST", "/customers", { key: "third-spelling", body });
  expect(again.status).toBe(409);
  expect(again.headers.get("idempotent-replayed")).toBe("true");
  expect(calls() - before).toBeLessThanOrEqual(3);
});
