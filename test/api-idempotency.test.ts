/**
 * The Idempotency-Key contract (design.md "Idempotency") over the API, against
 * dynalite and the Align emulator, with faults injected at Align.
 */
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
const sandbox = () => {
  const s = t.stack.sandbox;
  if (!s) throw new Error("emulator expected");
  return s;
};
const alignCreates = () =>
  sandbox()
    .state()
    .requests.filter((entry) => entry.route === AlignRoute.CreateCustomer);

beforeAll(async () => {
  t = await startTestStack({ env: { ALIGN_TIMEOUT_MS: "1000" } });
});
afterAll(() => t.close());
beforeEach(() => sandbox().reset());

describe("the key", () => {
  it("is required on every state-changing POST", async () => {
    for (const path of ["/customers", "/customers/123e4567-e89b-12d3-a456-426614174000/kyc-sessions"]) {
      const answer = await t.api("POST", path, { key: null, body: individual("nokey@example.com") });
      expect(answer.status).toBe(400);
      expect(answer.json.code).toBe("idempotency_key_missing");
    }
  });

  it.each([
    ["too long", "k".repeat(256)],
    ["not ASCII", "clé"],
    ["a control character", "a\tb"],
    ["empty quotes", '""'],
  ])("is refused when %s", async (_label, key) => {
    const recordsBefore = (await t.items("IDEMPOTENCY")).length;
    const answer = await t.api("POST", "/customers", { key, body: individual("badkey@example.com") });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe("idempotency_key_invalid");
    expect(alignCreates()).toHaveLength(0);
    expect(await t.items("IDEMPOTENCY")).toHaveLength(recordsBefore);
  });

  it("accepts 255 characters, and the quoted sf-string form as the bare key", async () => {
    const key = "k".repeat(255);
    const body = individual("quoted@example.com");
    const first = await t.api("POST", "/customers", { key: `"${key}"`, body });
    const second = await t.api("POST", "/customers", { key, body });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.json).toEqual(first.json);
  });
});

describe("replay, reuse and scope", () => {
  it("replays the stored status and body with Idempotent-Replayed: true", async () => {
    const body = individual("replay@example.com");
    const first = await t.api("POST", "/customers", { key: "replay-1", body });
    const second = await t.api("POST", "/customers", { key: "replay-1", body: { ...body } });
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(second.json).toEqual(first.json);
    expect(alignCreates()).toHaveLength(1);
  });

  it("treats key order and whitespace as the same body", async () => {
    const first = await t.api("POST", "/customers", {
      key: "canonical-1",
      rawBody: '{"email":"canon@example.com","type":"individual","first_name":"A","last_name":"B"}',
      headers: { "content-type": "application/json" },
    });
    const second = await t.api("POST", "/customers", {
      key: "canonical-1",
      rawBody: '{ "last_name": "B", "first_name": "A", "type": "individual", "email": "canon@example.com" }',
      headers: { "content-type": "application/json" },
    });
    expect(first.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
  });

  it("refuses the same key with another body: 422", async () => {
    await t.api("POST", "/customers", { key: "reuse-1", body: individual("reuse@example.com") });
    const other = await t.api("POST", "/customers", { key: "reuse-1", body: individual("other@example.com") });
    expect(other.status).toBe(422);
    expect(other.json.code).toBe("idempotency_key_reused");
    expect(alignCreates()).toHaveLength(1);
  });

  it("never collides across callers or routes", async () => {
    const a = await t.api("POST", "/customers", { key: "shared", body: individual("a@example.com") });
    const b = await t.api("POST", "/customers", {
      key: "shared",
      body: individual("b@example.com"),
      token: t.stack.token("user-b"),
    });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(b.headers.get("idempotent-replayed")).toBeNull();
    const kyc = await t.api("POST", `/customers/${a.json.customer_id}/kyc-sessions`, { key: "shared" });
    expect(kyc.status).toBe(201);
    // The same key for another customer of the same caller is a reuse, not a replay of the first.
    const c = await t.api("POST", "/customers", { key: "c-key", body: individual("c@example.com") });
    const reused = await t.api("POST", `/customers/${c.json.customer_id}/kyc-sessions`, { key: "shared" });
    expect(reused.status).toBe(422);
  });

  it("stores final errors too: a 409 replays as the same 409", async () => {
    const body = individual("taken@example.com");
    await t.api("POST", "/customers", { body });
    const conflict = await t.api("POST", "/customers", { key: "conflict-1", body });
    const replay = await t.api("POST", "/customers", { key: "conflict-1", body });
    expect(conflict.status).toBe(409);
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.json.customer_id).toBe(conflict.json.customer_id);
    // The replayed problem names this request, as its header does, not the one that produced it.
    expect(replay.json.request_id).toBe(replay.headers.get("x-request-id"));
    expect(replay.json.request_id).not.toBe(conflict.json.request_id);
  });
});

describe("in flight", () => {
  it("answers a repeat 409 idempotency_key_in_use with Retry-After while the first runs", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 300 } });
    // The stack's Align timeout is 1 s, so this slow call still succeeds.
    const body = individual("slow@example.com");
    const first = t.api("POST", "/customers", { key: "inflight-1", body });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const repeat = await t.api("POST", "/customers", { key: "inflight-1", body });
    expect(repeat.status).toBe(409);
    expect(repeat.json.code).toBe("idempotency_key_in_use");
    expect(Number(repeat.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await first).status).toBe(201);
    const after = await t.api("POST", "/customers", { key: "inflight-1", body });
    expect(after.headers.get("idempotent-replayed")).toBe("true");
  });

  it("50 concurrent identical creates: one customer at Align, one 201, the rest in-flight or replays", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 150 } });
    const body = individual("burst@example.com");
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => t.api("POST", "/customers", { key: "burst-1", body })),
    );
    const originals = answers.filter((a) => a.status === 201 && a.headers.get("idempotent-replayed") === null);
    const replays = answers.filter((a) => a.status === 201 && a.headers.get("idempotent-replayed") === "true");
    const inFlight = answers.filter((a) => a.status === 409 && a.json.code === "idempotency_key_in_use");
    expect(originals).toHaveLength(1);
    expect(replays.length + inFlight.length).toBe(49);
    for (const replay of replays) expect(replay.json).toEqual(originals[0]?.json);
    expect(sandbox().state().customers).toHaveLength(1);
    expect(alignCreates()).toHaveLength(1);
    expect(
      (await t.items("CUSTOMER")).filter((item) => item.customer_id === originals[0]?.json.customer_id),
    ).toHaveLength(1);
  });
});

describe("failures at Align, then a retry with the same key", () => {
  it("a 500 is not stored: 502 with Retry-After, and the retry creates the customer once", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 500 } });
    const body = individual("five-hundred@example.com");
    const failed = await t.api("POST", "/customers", { key: "five-1", body });
    expect(failed.status).toBe(502);
    expect(failed.json.code).toBe("upstream_error");
    expect(failed.headers.get("retry-after")).toBe("2");
    expect(JSON.stringify(failed.json)).not.toContain("Injected");
    const retried = await t.api("POST", "/customers", { key: "five-1", body });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
    expect(sandbox().state().customers).toHaveLength(1);
  });

  it("a response lost after Align committed converges on retry: one customer, owned by the caller, 201", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    const body = individual("lost@example.com");
    const failed = await t.api("POST", "/customers", { key: "lost-1", body });
    expect(failed.status).toBe(502);
    const [atAlign] = sandbox().state().customers; // Align made it; we never heard
    const recordsOf = async () =>
      (await t.items("CUSTOMER")).filter((record) => record.customer_id === atAlign?.customer_id);
    expect(sandbox().state().customers).toHaveLength(1);
    expect(await recordsOf()).toHaveLength(0);

    const retried = await t.api("POST", "/customers", { key: "lost-1", body });
    expect(retried.status).toBe(201);
    expect(retried.json.customer_id).toBe(atAlign?.customer_id);
    expect((await recordsOf()).map((record) => record.owner)).toEqual(["user-a"]);
    expect(sandbox().state().customers).toHaveLength(1);

    const replay = await t.api("POST", "/customers", { key: "lost-1", body });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.json.customer_id).toBe(atAlign?.customer_id);
  });

  it("a timeout (Align slower than our bound) converges the same way", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 1_500 } });
    const body = individual("timeout@example.com");
    const failed = await t.api("POST", "/customers", { key: "slow-1", body });
    expect(failed.status).toBe(504);
    expect(failed.json.code).toBe("upstream_timeout");
    expect(failed.headers.get("retry-after")).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 700)); // the slow create lands at Align
    const retried = await t.api("POST", "/customers", { key: "slow-1", body });
    expect(retried.status).toBe(201);
    expect(
      sandbox()
        .state()
        .customers.map((c) => c.customer_id),
    ).toEqual([retried.json.customer_id]);
  });

  it("a new key after an unknown outcome does not claim the orphan: 409 without an id", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    const body = individual("orphan@example.com");
    await t.api("POST", "/customers", { key: "orphan-1", body });
    const otherKey = await t.api("POST", "/customers", { key: "orphan-2", body });
    expect(otherKey.status).toBe(409);
    expect(otherKey.json.customer_id).toBeUndefined();
    const sameKey = await t.api("POST", "/customers", { key: "orphan-1", body });
    expect(sameKey.status).toBe(201);
  });

  it("an orphan two callers' identical creates may both have made goes to the first claim; the other gets a final 409 without the id", async () => {
    const body = individual("contested@example.com");
    const userB = t.stack.token("user-b");
    // B's create commits at Align, but B never hears of it.
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    expect((await t.api("POST", "/customers", { key: "b-1", body, token: userB })).status).toBe(502);
    // A's first try fails in a way that may have run, so A's retry looks for an orphan, and claims it.
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 500 } });
    expect((await t.api("POST", "/customers", { key: "a-1", body })).status).toBe(502);
    const claimed = await t.api("POST", "/customers", { key: "a-1", body });
    expect(claimed.status).toBe(201);
    for (let round = 0; round < 2; round++) {
      const answer = await t.api("POST", "/customers", { key: "b-1", body, token: userB });
      expect(answer.status).toBe(409);
      expect(answer.json.code).toBe("email_already_exists");
      expect(answer.json.customer_id).toBeUndefined();
      expect(answer.headers.get("idempotent-replayed")).toBe(round === 0 ? null : "true");
    }
    const [atAlign] = sandbox()
      .state()
      .customers.filter((c) => c.email === body.email);
    expect(
      (await t.items("CUSTOMER")).filter((r) => r.customer_id === atAlign?.customer_id).map((r) => r.owner),
    ).toEqual(["user-a"]);
  });

  it("KYC start after an unknown outcome returns the session Align holds, without asking for another", async () => {
    const created = await t.api("POST", "/customers", { body: individual("kyc-lost@example.com") });
    const id = created.json.customer_id as string;
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "drop", when: "after_commit" } });
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-lost-1" })).status).toBe(502);
    const retried = await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-lost-1" });
    expect(retried.status).toBe(201);
    const atAlign = sandbox()
      .state()
      .customers.find((c) => c.customer_id === id);
    expect(retried.json.kycs).toEqual(atAlign?.kycs);
    expect(
      sandbox()
        .state()
        .requests.filter((r) => r.route === AlignRoute.CreateKycSession),
    ).toHaveLength(1);
  });

  it("a 429 with Retry-After is retried by the client and succeeds", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 429, retry_after: 1 } });
    const created = await t.api("POST", "/customers", { body: individual("limited@example.com") });
    expect(created.status).toBe(201);
    expect(alignCreates().map((entry) => entry.status)).toEqual([429, 200]);
  });

  it("an Align rejection of a request we validated is a final 422 upstream_rejected, without Align's text, stored", async () => {
    sandbox().addFault({
      route: AlignRoute.CreateCustomer,
      action: { type: "status", status: 400, body: { message: "secret upstream detail", code: "bad" } },
    });
    const body = individual("rejected@example.com");
    const rejected = await t.api("POST", "/customers", { key: "rejected-1", body });
    expect(rejected.status).toBe(422);
    expect(rejected.json.code).toBe("upstream_rejected");
    expect(rejected.headers.get("retry-after")).toBeNull();
    expect(JSON.stringify(rejected.json)).not.toContain("secret upstream detail");
    const replay = await t.api("POST", "/customers", { key: "rejected-1", body });
    expect(replay.status).toBe(422);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    // Answered, not thrown, yet still logged and counted as an Align error.
    expect(t.logs.some((line) => line.includes('"Align refused the request"'))).toBe(true);
    expect(t.logs.some((line) => line.includes('"AlignErrors":1') && line.includes('"align_status":"400"'))).toBe(true);
  });

  it("an Align 408 (or another status Align does not document) may have run: not stored, and the retry converges", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 408 } });
    const body = individual("four-oh-eight@example.com");
    await t.api("POST", "/customers", { key: "408-1", body }); // committed at Align, answer lost
    const timedOut = await t.api("POST", "/customers", { key: "408-1", body });
    expect(timedOut.status).toBe(502);
    expect(timedOut.json.code).toBe("upstream_error");
    expect(timedOut.headers.get("retry-after")).not.toBeNull();
    const retried = await t.api("POST", "/customers", { key: "408-1", body });
    expect(retried.status).toBe(201);
    expect(
      sandbox()
        .state()
        .customers.filter((c) => c.email === body.email),
    ).toHaveLength(1);
  });

  it("Align down (503 on every try) is 503 with Retry-After, and nothing is stored", async () => {
    sandbox().addFault({
      route: AlignRoute.CreateCustomer,
      count: 5,
      action: { type: "status", status: 503, retry_after: 3 },
    });
    const failed = await t.api("POST", "/customers", { key: "down-1", body: individual("down@example.com") });
    expect(failed.status).toBe(503);
    expect(failed.json.code).toBe("upstream_unavailable");
    expect(failed.headers.get("retry-after")).toBe("3");
    sandbox().clearFaults();
    const retried = await t.api("POST", "/customers", { key: "down-1", body: individual("down@example.com") });
    expect(retried.status).toBe(201);
  });
});
