/**
 * Regressions of the correctness review (issue 11): each test is named after
 * the behaviour it pins, and each failed on the code before the redesign.
 * Real parts only: the API over loopback, dynalite through the AWS SDK (with
 * DynamoDB faults injected at the wire, beneath the SDK's own retries), the
 * Align emulator with injected faults.
 */
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DynamoWire, routeRuntimeThroughWire, type WireFault } from "./support/dynamo-wire.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let wire: DynamoWire;
const sandbox = () => t.sandbox();
const alignCalls = (route: string) => t.alignRequests(route);
const customerItems = async (email: string) =>
  (await t.items("CUSTOMER")).filter((item) => JSON.parse(String(item.data)).email === email);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  // Every GET refreshes from Align (bound 0), so a refresh can race a KYC start.
  t = await startTestStack({
    registerWebhook: false,
    env: { ALIGN_TIMEOUT_MS: "1000", KYC_REFRESH_AFTER_SECONDS: "0" },
  });
  wire = await routeRuntimeThroughWire(t.stack.dynamo.endpoint);
});
afterAll(async () => {
  await t.close();
  await wire.close();
});
beforeEach(() => {
  sandbox().clearFaults();
  wire.clear();
});
/** Completing an idempotency record is throttled on all 3 of the SDK's attempts: the function sees it fail. */
const COMPLETION_THROTTLED: WireFault = {
  operation: "UpdateItem",
  keyPrefix: "IDEMPOTENCY#",
  action: { type: "error", error: "ThrottlingException" },
  count: 3,
};

describe("recovery after an unknown outcome", () => {
  it("never converges on a customer that another key of the same caller made", async () => {
    const email = "own-other-key@example.com";
    const first = await t.api("POST", "/customers", { key: "made-by-k1", body: individual(email) });
    expect(first.status).toBe(201);
    // A second key, other names, same email: its first attempt ends unknown (Align 500), its retry is uncertain.
    const other = { email, type: "individual", first_name: "Grace", last_name: "Hopper" };
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 500 } });
    expect((await t.api("POST", "/customers", { key: "k2", body: other })).status).toBe(502);
    const retried = await t.api("POST", "/customers", { key: "k2", body: other });
    expect(retried.status).toBe(409);
    expect(retried.json).toMatchObject({ code: "email_already_exists", customer_id: first.json.customer_id });
  });

  it("a stranger whose create got a definite answer does not block the recovery of a lost create", async () => {
    const email = "lost-then-stranger@example.com";
    const body = individual(email);
    // user-a's create lands at Align, its answer is lost: the record is open, the customer an orphan.
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    expect((await t.api("POST", "/customers", { key: "lost-a", body })).status).toBe(502);
    // user-b tries the same email and gets Align's definite 409.
    const stranger = await t.api("POST", "/customers", { key: "b-1", body, token: t.stack.token("user-b") });
    expect(stranger.status).toBe(409);
    expect(stranger.json.customer_id).toBeUndefined();
    // user-a's retry recovers the orphan: user-b's settled attempt is not a possible author.
    const recovered = await t.api("POST", "/customers", { key: "lost-a", body });
    expect(recovered.status).toBe(201);
    expect((await customerItems(email)).map((item) => item.owner)).toEqual(["user-a"]);
  });

  it("a stranger's open attempt with other names does not contest the orphan: only an identical request could be its author", async () => {
    const email = "orphan-other-names@example.com";
    const body = individual(email);
    const userB = t.stack.token("user-b");
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    expect((await t.api("POST", "/customers", { key: "names-a", body })).status).toBe(502);
    // user-b tries the same email with other names, and its outcome is unknown too (Align 500).
    const other = { email, type: "individual", first_name: "Grace", last_name: "Hopper" };
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 500 } });
    expect((await t.api("POST", "/customers", { key: "names-b", body: other, token: userB })).status).toBe(502);
    const recovered = await t.api("POST", "/customers", { key: "names-a", body });
    expect(recovered.status).toBe(201);
    // user-b's retry settles: the customer is user-a's, so a 409 without its id.
    const settled = await t.api("POST", "/customers", { key: "names-b", body: other, token: userB });
    expect(settled.status).toBe(409);
    expect(settled.json.customer_id).toBeUndefined();
  });

  it("never claims a customer whose email differs from the request's, whatever Align's lookup returns", async () => {
    const email = "exact-email@example.com";
    const body = individual(email);
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
    expect((await t.api("POST", "/customers", { key: "exact-1", body })).status).toBe(502);
    // Align's lookup answers with a look-alike: same names, another email.
    const lookalike = {
      customer_id: "0f0e0d0c-0b0a-4908-8706-050403020100",
      email: "someone-else@example.com",
      type: "individual",
      first_name: body.first_name,
      last_name: body.last_name,
      kycs: null,
    };
    sandbox().addFault({
      route: AlignRoute.ListCustomers,
      action: { type: "status", status: 200, body: { items: [lookalike] } },
    });
    const retried = await t.api("POST", "/customers", { key: "exact-1", body });
    expect(retried.status).toBe(409);
    expect((await t.items("CUSTOMER")).some((item) => item.customer_id === lookalike.customer_id)).toBe(false);
    // Not stored: with Align's true answer, the retry recovers the real orphan.
    const again = await t.api("POST", "/customers", { key: "exact-1", body });
    expect(again.status).toBe(201);
    expect(again.json.email).toBe(email);
  });

  it("a retry first finds the customer its own earlier attempt recorded, and never creates a second", async () => {
    const email = "recorded-before-crash@example.com";
    const body = individual(email);
    // The customer is recorded, then completing the idempotency record fails: the outcome is unknown.
    wire.arm(COMPLETION_THROTTLED);
    const first = await t.api("POST", "/customers", { key: "crash-1", body });
    expect(first.status).toBe(503);
    expect(wire.fired()).toHaveLength(3);
    const [recorded] = await customerItems(email);
    // Align loses the customer (as the emulator did when killed before saving): a blind retry would make another.
    sandbox().reset();
    const retried = await t.api("POST", "/customers", { key: "crash-1", body });
    expect(retried.status).toBe(201);
    expect(retried.json.customer_id).toBe(recorded?.customer_id);
    expect(alignCalls(AlignRoute.CreateCustomer)).toHaveLength(0);
    expect(await customerItems(email)).toHaveLength(1);
  });

  it("a completion that fails is a 503 and releases the key as uncertain: the retry converges at once", async () => {
    const body = individual("completion-fails@example.com");
    wire.arm(COMPLETION_THROTTLED);
    const first = await t.api("POST", "/customers", { key: "complete-1", body });
    expect(wire.fired()).toHaveLength(3);
    // Not a 201: an answer is final only once stored, so that every retry can replay it.
    expect(first.status).toBe(503);
    expect(first.headers.get("retry-after")).not.toBeNull();
    const record = (await t.items("IDEMPOTENCY")).find((item) => item.state === "open");
    expect(record).toBeDefined();
    const retried = await t.api("POST", "/customers", { key: "complete-1", body });
    expect(retried.status).toBe(201);
    expect((await customerItems("completion-fails@example.com")).map((r) => r.customer_id)).toEqual([
      retried.json.customer_id,
    ]);
    const replayed = await t.api("POST", "/customers", { key: "complete-1", body });
    expect(replayed.headers.get("idempotent-replayed")).toBe("true");
  });
  it("a completion that applied but whose answer was lost on every SDK attempt is a 503; the retry replays the stored 201", async () => {
    const body = individual("completion-applied-lost@example.com");
    wire.arm({ operation: "UpdateItem", keyPrefix: "IDEMPOTENCY#", action: { type: "drop_response" }, count: 3 });
    const first = await t.api("POST", "/customers", { key: "applied-lost-1", body });
    expect(wire.fired({ action: "drop_response" })).toHaveLength(3);
    // The function cannot know the completion applied: it answers "retry", never a final answer it could not replay.
    expect(first.status).toBe(503);
    expect((await t.items("IDEMPOTENCY")).some((item) => item.state === "completed")).toBe(true);
    const retried = await t.api("POST", "/customers", { key: "applied-lost-1", body });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBe("true");
    expect(
      sandbox()
        .state()
        .customers.filter((customer) => customer.email === body.email),
    ).toHaveLength(1);
    expect(await customerItems(body.email)).toHaveLength(1);
  });
});

describe("bounded records", () => {
  it("a huge Align answer is stored bounded, answered, and the key is completed (never left locked)", async () => {
    const huge = "\\".repeat(150_000); // escaped twice in a stored response: about 600 KB if stored raw
    sandbox().addFault({
      route: AlignRoute.CreateCustomer,
      action: {
        type: "status",
        status: 201,
        body: {
          customer_id: "1a2b3c4d-0000-4000-8000-000000000001",
          email: "huge-answer@example.com",
          type: "individual",
          first_name: huge,
          last_name: "Lovelace",
          kycs: null,
          extra: huge,
        },
      },
    });
    const body = individual("huge-answer@example.com");
    const created = await t.api("POST", "/customers", { key: "huge-1", body });
    expect(created.status).toBe(201);
    expect(String(created.json.first_name).length).toBeLessThanOrEqual(1024);
    expect(created.json.extra).toBeUndefined();
    const replay = await t.api("POST", "/customers", { key: "huge-1", body });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    for (const item of await t.items()) expect(JSON.stringify(item).length).toBeLessThan(64 * 1024);
  });
});

describe("the as-of rule", () => {
  it("a GET refresh racing a KYC start keeps the new session, and a second start reuses it", async () => {
    const created = await t.api("POST", "/customers", { body: individual("refresh-race@example.com") });
    const id = created.json.customer_id as string;
    // Align takes a while to open the session; meanwhile a GET re-reads the customer (no session yet).
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "delay", ms: 400 } });
    const started = t.api("POST", `/customers/${id}/kyc-sessions`, { key: "race-kyc-1" });
    await sleep(100);
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.json.kycs).toBeNull();
    const session = await started;
    expect(session.status).toBe(201);
    const stored = (await t.items("CUSTOMER")).find((item) => item.customer_id === id);
    expect(JSON.parse(String(stored?.data)).kycs).toMatchObject({ status: "pending" });
    const second = await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "race-kyc-2" });
    expect(second.json.kycs).toEqual(session.json.kycs);
    expect(alignCalls(AlignRoute.CreateKycSession)).toHaveLength(1);
  });
});

describe("final answers are 4xx; every 5xx says retry", () => {
  it("Align refusing our own key is a 503 with Retry-After, not stored: the retry runs again", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 401 } });
    const body = individual("key-refused@example.com");
    const refused = await t.api("POST", "/customers", { key: "refused-1", body });
    expect(refused.status).toBe(503);
    expect(refused.json.code).toBe("upstream_unavailable");
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const retried = await t.api("POST", "/customers", { key: "refused-1", body });
    expect(retried.status).toBe(201);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  });
});

describe("hostile input", () => {
  it.each(["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"])(
    "a customer type named like a built-in property (%s) is a 400 on its path, not a 500",
    async (type) => {
      const answer = await t.api("POST", "/customers", {
        body: { email: "builtin@example.com", type, first_name: "A", last_name: "B" },
      });
      expect(answer.status).toBe(400);
      expect(answer.json.code).toBe("validation_failed");
      expect(answer.json.errors).toContainEqual(expect.objectContaining({ path: ["type"] }));
    },
  );

  it.each(["__proto__", "constructor"])(
    "a query parameter named %s is refused as unknown (400), not dropped",
    async (name) => {
      const answer = await t.api("GET", `/customers?${name}=1`);
      expect(answer.status).toBe(400);
      expect(answer.json.errors).toEqual([{ path: [name], message: "Unknown query parameter" }]);
    },
  );

  const forge = (fields: unknown) => Buffer.from(JSON.stringify(fields)).toString("base64url");
  it.each([
    ["empty key values", forge({ pk: "", sk: "", gsi1pk: "OWNER#user-a", gsi1sk: "" })],
    ["another kind's key", forge({ pk: "IDEMPOTENCY#x", sk: "IDEMPOTENCY", gsi1pk: "OWNER#user-a", gsi1sk: "x" })],
    ["a forged signature", `${forge(["CUSTOMER#x", "CUSTOMER", "OWNER#user-a", "x"])}.AAAAAAAAAAAAAAAAAAAAAA`],
    ["not base64", "%%%"],
  ])("a forged list cursor (%s) is a 400 on its path", async (_label, cursor) => {
    const answer = await t.api("GET", `/customers?cursor=${encodeURIComponent(cursor)}`);
    expect(answer.status).toBe(400);
    expect(answer.json.errors).toEqual([{ path: ["cursor"], message: "Invalid cursor" }]);
  });

  it("pages through the caller's customers with next_cursor, and another caller cannot use the cursor", async () => {
    const token = t.stack.token("pager");
    for (const n of [1, 2, 3]) {
      const made = await t.api("POST", "/customers", { token, body: individual(`pager-${n}@example.com`) });
      expect(made.status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const query = cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`;
      const page = await t.api("GET", `/customers?limit=2${query}`, { token });
      expect(page.status).toBe(200);
      for (const item of page.json.items as { email: string }[]) seen.push(item.email);
      cursor = page.json.next_cursor as string | undefined;
      if (cursor) {
        const stolen = await t.api("GET", `/customers?cursor=${encodeURIComponent(cursor)}`);
        expect(stolen.status).toBe(400);
      }
    } while (cursor);
    expect(seen.sort()).toEqual(["pager-1@example.com", "pager-2@example.com", "pager-3@example.com"]);
  });
});
