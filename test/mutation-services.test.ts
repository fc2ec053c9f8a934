/**
 * The customer service's rules pinned branch by branch (issue 17, mutation
 * testing): the API over loopback, dynalite through the AWS SDK, the Align
 * emulator behind a recording loopback proxy (so what was sent to Align is
 * asserted), with a controllable clock for the time boundaries. DynamoDB
 * faults and index lag are injected at the wire, beneath the SDK's own retries
 * (test/support/dynamo-wire.ts).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { getRuntime, resetRuntime, setClock } from "@align-onboarding/core";
import { PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { type DynamoWire, routeRuntimeThroughWire, type WireFault } from "./support/dynamo-wire.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let proxy: Server;
let wire: DynamoWire;
/** Every request that reached Align through the proxy: method, path (with query) and body. */
const sent: { method: string; path: string; body: string }[] = [];
let clock: number | undefined;
/** Runs inside the proxy before a request is passed on to Align (e.g. to land a webhook meanwhile). */
let beforeAlign: ((method: string, path: string) => Promise<void>) | undefined;

const sandbox = () => t.sandbox();
const alignCalls = (route: string) => t.alignRequests(route);
const customerItem = async (customerId: unknown) =>
  (await t.items("CUSTOMER")).find((item) => item.customer_id === customerId);

beforeAll(async () => {
  t = await startTestStack({
    registerWebhook: false,
    env: { ALIGN_TIMEOUT_MS: "1000", KYC_REFRESH_AFTER_SECONDS: "30" },
  });
  wire = await routeRuntimeThroughWire(t.stack.dynamo.endpoint);
  const target = sandbox().url;
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      sent.push({ method: req.method ?? "", path: req.url ?? "", body });
      await beforeAlign?.(req.method ?? "", req.url ?? "");
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string" && !["host", "content-length", "connection"].includes(name))
          headers[name] = value;
      }
      try {
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method ?? "GET",
          headers,
          ...(body === "" ? {} : { body }),
        });
        const text = await answer.text();
        const out: Record<string, string> = {};
        answer.headers.forEach((value, name) => {
          if (!["content-length", "content-encoding", "transfer-encoding", "connection"].includes(name))
            out[name] = value;
        });
        res.writeHead(answer.status, out);
        res.end(text);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  process.env.ALIGN_BASE_URL = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  resetRuntime();
  setClock(() => clock ?? Date.now());
});
afterAll(async () => {
  setClock(Date.now);
  await t.close();
  await wire.close();
  await new Promise((resolve) => proxy.close(resolve));
});
beforeEach(() => {
  sandbox().clearFaults();
  clock = undefined;
  beforeAlign = undefined;
  wire.clear();
});

/** A create whose answer is lost after Align committed it: the record is open, the customer an orphan at Align. */
async function loseCreate(key: string, body: Record<string, string>) {
  sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "after_commit" } });
  expect((await t.api("POST", "/customers", { key, body })).status).toBe(502);
}
/** The retry of a lost create, with Align's email lookup answering `candidate` (the only customer it shows). */
async function retryFinding(key: string, body: Record<string, string>, candidate: Record<string, unknown>) {
  sandbox().addFault({
    route: AlignRoute.ListCustomers,
    action: { type: "status", status: 200, body: { items: [candidate] } },
  });
  return t.api("POST", "/customers", { key, body });
}
const candidateId = (n: number) => `0f0e0d0c-0b0a-4908-8706-0504030201${String(n).padStart(2, "0")}`;

describe("claiming an orphan after a lost create: only one that matches the request", () => {
  it("claims an unrecorded customer of the same email, type and names (compared trimmed and case-folded)", async () => {
    const body = individual("claim-match@example.com");
    await loseCreate("claim-ok", body);
    const candidate = {
      customer_id: candidateId(1),
      email: "Claim-Match@Example.com",
      type: "individual",
      first_name: " ADA ",
      last_name: "lovelace",
      kycs: null,
    };
    const claimed = await retryFinding("claim-ok", body, candidate);
    expect(claimed.status).toBe(201);
    expect(claimed.json.customer_id).toBe(candidate.customer_id);
    expect((await customerItem(candidate.customer_id))?.owner).toBe("user-a");
  });

  it("claims a matching customer whose type Align did not send", async () => {
    const body = individual("claim-no-type@example.com");
    await loseCreate("claim-no-type", body);
    const candidate = {
      customer_id: candidateId(2),
      email: body.email,
      first_name: "Ada",
      last_name: "Lovelace",
      kycs: null,
    };
    const claimed = await retryFinding("claim-no-type", body, candidate);
    expect(claimed.status).toBe(201);
    expect(claimed.json.customer_id).toBe(candidate.customer_id);
  });

  for (const [what, change, n] of [
    ["another type", { type: "corporate", company_name: "Ada Ltd" }, 3],
    ["another first name", { first_name: "Grace" }, 4],
    ["another last name", { last_name: "Hopper" }, 5],
  ] as const) {
    it(`refuses a customer of the same email with ${what}: 409 without its id, nothing recorded`, async () => {
      const body = individual(`claim-refused-${n}@example.com`);
      const key = `claim-refused-${n}`;
      await loseCreate(key, body);
      const candidate = {
        customer_id: candidateId(n),
        email: body.email,
        type: "individual",
        first_name: "Ada",
        last_name: "Lovelace",
        kycs: null,
        ...change,
      };
      const refused = await retryFinding(key, body, candidate);
      expect(refused.status).toBe(409);
      expect(refused.json.code).toBe("email_already_exists");
      expect(refused.json.customer_id).toBeUndefined();
      expect(await customerItem(candidate.customer_id)).toBeUndefined();
    });
  }

  it("a business is matched on its company name", async () => {
    const body = { email: "claim-business@example.com", type: "corporate", company_name: "Acme Ltd" };
    await loseCreate("claim-biz-no", body);
    const other = {
      customer_id: candidateId(6),
      email: body.email,
      type: "corporate",
      company_name: "Other Ltd",
      kycs: null,
    };
    const refused = await retryFinding("claim-biz-no", body, other);
    expect(refused.status).toBe(409);
    expect(await customerItem(other.customer_id)).toBeUndefined();

    const body2 = { email: "claim-business-2@example.com", type: "corporate", company_name: "Acme Ltd" };
    await loseCreate("claim-biz-yes", body2);
    const same = {
      customer_id: candidateId(7),
      email: body2.email,
      type: "corporate",
      company_name: "ACME LTD",
      kycs: null,
    };
    const claimed = await retryFinding("claim-biz-yes", body2, same);
    expect(claimed.status).toBe(201);
    expect(claimed.json.customer_id).toBe(same.customer_id);
  });

  it("a create that was never uncertain does not claim a matching unrecorded customer", async () => {
    // Align knows the email (made outside this service), our table does not: a first attempt never claims.
    const email = "made-elsewhere@example.com";
    await sandbox().state(); // the emulator is the only party that knows it
    const body = individual(email);
    const madeElsewhere = await fetch(`${sandbox().url}/v0/customers`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "sandbox-key" },
      body: JSON.stringify(body),
    });
    expect(madeElsewhere.status).toBeLessThan(300);
    const answer = await t.api("POST", "/customers", { body });
    expect(answer.status).toBe(409);
    expect(answer.json.customer_id).toBeUndefined();
    expect((await t.items("CUSTOMER")).some((item) => String(item.data).includes(email))).toBe(false);
  });
});

describe("Align's 409 without a visible customer", () => {
  it("looks up the email as the caller spelled it when the lower-case lookup finds nothing", async () => {
    const mixed = "Spelled.Mixed@Example.com";
    // user-b made it; user-a's create meets Align's 409.
    expect(
      (await t.api("POST", "/customers", { body: individual(mixed), token: t.stack.token("user-b") })).status,
    ).toBe(201);
    const before = alignCalls(AlignRoute.ListCustomers).length;
    sandbox().addFault({
      route: AlignRoute.ListCustomers,
      action: { type: "status", status: 200, body: { items: [] } },
    });
    // An Align whose filter ignores case finds it under the caller's spelling (the default emulator's is exact).
    const { created_at: _created, ...stored } =
      sandbox()
        .state()
        .customers.find((c) => c.email === mixed.toLowerCase()) ?? {};
    sandbox().addFault({
      route: AlignRoute.ListCustomers,
      action: { type: "status", status: 200, body: { items: [stored] } },
    });
    const answer = await t.api("POST", "/customers", { body: individual(mixed) });
    expect(answer.status).toBe(409);
    expect(answer.headers.get("retry-after")).toBeNull(); // found (another caller's): a final 409
    expect(alignCalls(AlignRoute.ListCustomers).length - before).toBe(2);
    const lookups = sent.filter((entry) => entry.method === "GET" && entry.path.startsWith("/v0/customers?")).slice(-2);
    expect(lookups.map((entry) => new URL(entry.path, "http://x").searchParams.get("email"))).toEqual([
      mixed.toLowerCase(),
      mixed,
    ]);
  });

  it("a lower-case email is looked up once; a duplicate Align does not show is a final 409, stored", async () => {
    const email = "spelled-lower@example.com";
    expect(
      (await t.api("POST", "/customers", { body: individual(email), token: t.stack.token("user-b") })).status,
    ).toBe(201);
    const before = alignCalls(AlignRoute.ListCustomers).length;
    sandbox().addFault({
      route: AlignRoute.ListCustomers,
      action: { type: "status", status: 200, body: { items: [] } },
    });
    const answer = await t.api("POST", "/customers", { key: "unseen-dup", body: individual(email) });
    expect(answer.status).toBe(409);
    expect(answer.headers.get("retry-after")).toBeNull();
    expect(alignCalls(AlignRoute.ListCustomers).length - before).toBe(1);
    // Final (no earlier attempt of this key could be its author): stored and replayed, Align not asked again.
    const creates = alignCalls(AlignRoute.CreateCustomer).length;
    const again = await t.api("POST", "/customers", { key: "unseen-dup", body: individual(email) });
    expect(again.status).toBe(409);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(alignCalls(AlignRoute.CreateCustomer).length).toBe(creates);
  });
});

describe("KYC start", () => {
  it("sends redirect_uri to Align when given, and no redirect_uri when not", async () => {
    const created = await t.api("POST", "/customers", { body: individual("redirect@example.com") });
    const id = created.json.customer_id as string;
    const started = await t.api("POST", `/customers/${id}/kyc-sessions`, {
      body: { redirect_uri: "https://app.example.com/kyc-done" },
    });
    expect(started.status).toBe(201);
    const session = sent
      .filter((entry) => entry.method === "POST" && entry.path.includes(`/customers/${id}/kyc`))
      .at(-1);
    expect(JSON.parse(session?.body ?? "{}")).toEqual({ redirect_uri: "https://app.example.com/kyc-done" });

    const other = await t.api("POST", "/customers", { body: individual("no-redirect@example.com") });
    const otherId = other.json.customer_id as string;
    expect((await t.api("POST", `/customers/${otherId}/kyc-sessions`, { body: {} })).status).toBe(201);
    const plain = sent
      .filter((entry) => entry.method === "POST" && entry.path.includes(`/customers/${otherId}/kyc`))
      .at(-1);
    expect(plain).toBeDefined();
    expect(JSON.parse(plain?.body || "{}")).not.toHaveProperty("redirect_uri");
  });

  it("hands out a pending link again until it is an hour old, and opens a new session from then on", async () => {
    const t0 = Date.now();
    clock = t0;
    const created = await t.api("POST", "/customers", { body: individual("link-age@example.com") });
    const id = created.json.customer_id as string;
    const first = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(first.status).toBe(201);
    const sessions = () => alignCalls(AlignRoute.CreateKycSession).length;
    const opened = sessions();
    clock = t0 + 3_600_000 - 1; // the link's last millisecond of youth
    const reused = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(reused.json.kycs).toEqual(first.json.kycs);
    expect(sessions()).toBe(opened);
    clock = t0 + 3_600_000; // an hour old: a new session
    const renewed = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(renewed.status).toBe(201);
    expect(sessions()).toBe(opened + 1);
  });

  it("new_session: true opens a new session even while the link is young", async () => {
    const created = await t.api("POST", "/customers", { body: individual("new-session@example.com") });
    const id = created.json.customer_id as string;
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    const opened = alignCalls(AlignRoute.CreateKycSession).length;
    const renewed = await t.api("POST", `/customers/${id}/kyc-sessions`, { body: { new_session: true } });
    expect(renewed.status).toBe(201);
    expect(alignCalls(AlignRoute.CreateKycSession).length).toBe(opened + 1);
  });
});

describe("GET /customers/{id}: the refresh bound, from both sides", () => {
  it("serves the stored copy until 30 s after the last sync, and re-reads Align from then on", async () => {
    const t0 = Date.now();
    clock = t0;
    const created = await t.api("POST", "/customers", { body: individual("refresh-edge@example.com") });
    const id = created.json.customer_id as string;
    const synced = Number((await customerItem(id))?.synced_at);
    const reads = () => alignCalls(AlignRoute.GetCustomer).length;
    const before = reads();
    clock = synced + 30_000 - 1;
    const stored = await t.api("GET", `/customers/${id}`);
    expect(stored.status).toBe(200);
    expect(stored.json).not.toHaveProperty("stale");
    expect(reads()).toBe(before);
    clock = synced + 30_000;
    const refreshed = await t.api("GET", `/customers/${id}`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.json).not.toHaveProperty("stale");
    expect(reads()).toBe(before + 1);
  });
});

describe("GET /customers: pages", () => {
  it("pages the caller's customers newest first with a next_cursor, and none on the last page", async () => {
    const token = t.stack.token("pager");
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      clock = Date.now() + n * 1_000; // distinct creation instants
      const created = await t.api("POST", "/customers", { body: individual(`pager-${n}@example.com`), token });
      ids.push(created.json.customer_id as string);
    }
    clock = undefined;
    const first = await t.api("GET", "/customers?limit=2", { token });
    expect(first.status).toBe(200);
    expect((first.json.items as { customer_id: string }[]).map((c) => c.customer_id)).toEqual([ids[2], ids[1]]);
    expect(typeof first.json.next_cursor).toBe("string");
    const second = await t.api(
      "GET",
      `/customers?limit=2&cursor=${encodeURIComponent(String(first.json.next_cursor))}`,
      {
        token,
      },
    );
    expect(second.status).toBe(200);
    expect((second.json.items as { customer_id: string }[]).map((c) => c.customer_id)).toEqual([ids[0]]);
    expect(second.json).not.toHaveProperty("next_cursor");

    // The cursor is the caller's: another caller presenting it is refused.
    const stolen = await t.api("GET", `/customers?cursor=${encodeURIComponent(String(first.json.next_cursor))}`, {
      token: t.stack.token("thief"),
    });
    expect(stolen.status).toBe(400);
    expect(stolen.json.errors).toEqual([{ path: ["cursor"], message: "Invalid cursor" }]);
  });
});

describe("sandbox-only simulate", () => {
  it("refuses outside the sandbox a request that would otherwise succeed: the caller's customer, KYC started", async () => {
    const created = await t.api("POST", "/customers", { body: individual("guard@example.com") });
    const id = created.json.customer_id as string;
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`)).status).toBe(201);
    const { handler } = await import("../functions/sandbox-simulate.js");
    const event = (key: string) =>
      ({
        routeKey: "POST /sandbox/customers/{customer_id}/simulate",
        rawPath: `/sandbox/customers/${id}/simulate`,
        headers: { "content-type": "application/json", "idempotency-key": key },
        pathParameters: { customer_id: id },
        body: '{"action":"kyc.status.approve"}',
        isBase64Encoded: false,
        requestContext: {
          requestId: `direct-${key}`,
          http: { method: "POST" },
          authorizer: { jwt: { claims: { sub: "user-a" } } },
        },
      }) as never;
    // In the sandbox the very same request is simulated.
    const allowed = await handler(event("guard-sandbox"));
    expect(allowed.statusCode).toBe(200);
    const simulations = alignCalls(AlignRoute.SimulateCustomer).length;
    process.env.ALIGN_ENVIRONMENT = "production";
    resetRuntime();
    try {
      const refused = await handler(event("guard-production"));
      expect(refused.statusCode).toBe(404);
      expect(JSON.parse(refused.body).code).toBe("not_found");
      expect(alignCalls(AlignRoute.SimulateCustomer).length).toBe(simulations);
    } finally {
      process.env.ALIGN_ENVIRONMENT = "sandbox";
      resetRuntime();
    }
  });
});

type Line = Record<string, unknown>;
/**
 * Throttles a DynamoDB call on all 3 of the SDK's attempts, so the function sees it fail; returns
 * a check that it fired on each.
 */
function throttled(operation: string, keyPrefix?: string): () => void {
  const fault: WireFault = {
    operation,
    ...(keyPrefix === undefined ? {} : { keyPrefix }),
    action: { type: "error", error: "ThrottlingException" },
    count: 3,
  };
  wire.arm(fault);
  return () => {
    expect(wire.fired({ operation })).toHaveLength(3);
    expect(wire.unfired()).toBe(0);
  };
}
const lines = () => t.logs.map((line) => JSON.parse(line) as Line);
const total = (metric: string) =>
  lines().reduce(
    (sum, line) => sum + (line._aws !== undefined && typeof line[metric] === "number" ? (line[metric] as number) : 0),
    0,
  );
const requestLine = (event: string, customerId: unknown) =>
  lines().find((line) => line.message === "request" && line.event === event && line.customer_id === customerId);

describe("what each path logs, counts and sends", () => {
  it("a create sends the email in lower case, logs customer_created with Align's request id, counts one", async () => {
    const before = total("CustomersCreated");
    const created = await t.api("POST", "/customers", { body: individual("Lower.Me@Example.com") });
    expect(created.status).toBe(201);
    expect(created.json).not.toHaveProperty("stale"); // only a copy served while Align is unreachable says so
    const sentCreate = sent.filter((entry) => entry.method === "POST" && entry.path === "/v0/customers").at(-1);
    expect(JSON.parse(sentCreate?.body ?? "{}").email).toBe("lower.me@example.com");
    expect(total("CustomersCreated") - before).toBe(1);
    const line = requestLine("customer_created", created.json.customer_id);
    expect(line).toBeDefined();
    expect(typeof line?.align_request_id).toBe("string");
  });

  it("a recovered orphan is logged as create_recovered and counted as created", async () => {
    const body = individual("recovered-log@example.com");
    await loseCreate("recovered-log", body);
    const before = total("CustomersCreated");
    const recovered = await t.api("POST", "/customers", { key: "recovered-log", body });
    expect(recovered.status).toBe(201);
    expect(total("CustomersCreated") - before).toBe(1);
    expect(requestLine("create_recovered", recovered.json.customer_id)).toBeDefined();
  });

  it("a retry that finds its own recorded customer is logged create_converged and makes no Align call", async () => {
    const body = individual("converged-log@example.com");
    const fired = throttled("UpdateItem", "IDEMPOTENCY#");
    expect((await t.api("POST", "/customers", { key: "converged-log", body })).status).toBe(503);
    fired();
    const creates = alignCalls(AlignRoute.CreateCustomer).length;
    const retried = await t.api("POST", "/customers", { key: "converged-log", body });
    expect(retried.status).toBe(201);
    expect(alignCalls(AlignRoute.CreateCustomer).length).toBe(creates);
    expect(requestLine("create_converged", retried.json.customer_id)).toBeDefined();
  });

  it("a table failure while claiming an orphan is a 503 to retry, never a stored 409", async () => {
    const body = individual("claim-table-fails@example.com");
    await loseCreate("claim-fails", body);
    const fired = throttled("PutItem", "CUSTOMER#");
    const failed = await t.api("POST", "/customers", { key: "claim-fails", body });
    expect(failed.status).toBe(503);
    fired();
    const retried = await t.api("POST", "/customers", { key: "claim-fails", body });
    expect(retried.status).toBe(201);
    expect(retried.json.email).toBe(body.email);
  });

  it("an orphan recorded by another caller just before our claim is not taken: 409 without its id", async () => {
    const body = individual("claim-race@example.com");
    await loseCreate("claim-race", body);
    const client = getRuntime().dynamo;
    let raced: string | undefined;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Item?: Record<string, { S?: string }> };
        const pk = input.Item?.pk?.S ?? "";
        if (context.commandName === "PutItemCommand" && pk.startsWith("CUSTOMER#") && raced === undefined) {
          raced = pk;
          // Another caller's claim lands first.
          await t.stack.dynamo.client.send(
            new PutItemCommand({
              TableName: t.stack.tableName,
              Item: { ...input.Item, owner: { S: "user-b" }, gsi1pk: { S: "OWNER#user-b" } } as never,
            }),
          );
        }
        return next(args);
      },
      { step: "initialize", name: "claimRace" },
    );
    try {
      const answer = await t.api("POST", "/customers", { key: "claim-race", body });
      expect(raced).toBeDefined();
      expect(answer.status).toBe(409);
      expect(answer.json.code).toBe("email_already_exists");
      expect(answer.json.customer_id).toBeUndefined();
      const item = (await t.items("CUSTOMER")).find((entry) => `CUSTOMER#${entry.customer_id}` === raced);
      expect(item?.owner).toBe("user-b");
    } finally {
      client.middlewareStack.remove("claimRace");
    }
  });

  it("simulate before KYC is 409 kyc_not_started with nothing sent to Align; after it, logged and counted", async () => {
    const created = await t.api("POST", "/customers", { body: individual("simulate-order@example.com") });
    const id = created.json.customer_id as string;
    const simulations = alignCalls(AlignRoute.SimulateCustomer).length;
    const early = await t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } });
    expect(early.status).toBe(409);
    expect(early.json.code).toBe("kyc_not_started");
    expect(early.json.detail).toBe("Start KYC (POST /customers/{id}/kyc-sessions) first");
    expect(alignCalls(AlignRoute.SimulateCustomer).length).toBe(simulations);
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    const before = total("KycSimulations");
    const done = await t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } });
    expect(done.status).toBe(200);
    expect(done.json).toEqual({ customer_id: id, action: "kyc.status.approve" });
    expect(total("KycSimulations") - before).toBe(1);
    const line = requestLine("kyc_simulated", id);
    expect(line?.action).toBe("kyc.status.approve");
  });

  it("a KYC start whose answer was lost hands out the session Align opened, without opening another", async () => {
    const created = await t.api("POST", "/customers", { body: individual("kyc-lost@example.com") });
    const id = created.json.customer_id as string;
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "drop", when: "after_commit" } });
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-lost" })).status).toBe(502);
    const sessions = alignCalls(AlignRoute.CreateKycSession).length;
    const retried = await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-lost" });
    expect(retried.status).toBe(201);
    expect(alignCalls(AlignRoute.CreateKycSession).length).toBe(sessions);
    const item = await customerItem(id);
    expect(item?.kyc_link_at).toBeDefined();
    expect(JSON.parse(String(item?.data)).kycs.kyc_flow_link).toBe((retried.json.kycs as Line).kyc_flow_link);
  });

  it("a KYC start logs kyc_session_started with its status and counts it", async () => {
    const created = await t.api("POST", "/customers", { body: individual("kyc-log@example.com") });
    const id = created.json.customer_id as string;
    const before = total("KycSessionsStarted");
    await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(total("KycSessionsStarted") - before).toBe(1);
    const line = requestLine("kyc_session_started", id);
    expect(line?.kyc_status).toBe("pending");
    expect(line?.kept_newer_copy).toBeUndefined();
  });

  it("a failed refresh is logged as a warning naming the customer, and served stale", async () => {
    const created = await t.api("POST", "/customers", { body: individual("refresh-warn@example.com") });
    const id = created.json.customer_id as string;
    clock = Date.now() + 60_000;
    sandbox().addFault({ route: AlignRoute.GetCustomer, count: 3, action: { type: "status", status: 503 } });
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.json.stale).toBe(true);
    expect(lines()).toContainEqual(
      expect.objectContaining({
        level: "warn",
        message: "refresh from Align failed; serving the stored copy",
        customer_id: id,
      }),
    );
  });

  it("another caller's customer answers exactly like a missing one, for every route that names it", async () => {
    const created = await t.api("POST", "/customers", { body: individual("owned@example.com") });
    const id = created.json.customer_id as string;
    const stranger = t.stack.token("stranger");
    const read = await t.api("GET", `/customers/${id}`, { token: stranger });
    expect(read.status).toBe(404);
    expect(read.json.detail).toBe("No such customer");
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`, { token: stranger })).status).toBe(404);
    expect(
      (
        await t.api("POST", `/sandbox/customers/${id}/simulate`, {
          token: stranger,
          body: { action: "kyc.status.approve" },
        })
      ).status,
    ).toBe(404);
    expect((await t.api("GET", `/customers/${id}`)).status).toBe(200);
    const malformed = await t.api("GET", "/customers/not-a-uuid");
    expect(malformed.status).toBe(400);
    expect((malformed.json.errors as { path: string[] }[])[0]?.path).toEqual(["customer_id"]);
  });

  it("list refuses unknown query parameters by name", async () => {
    const answer = await t.api("GET", "/customers?limit=2&colour=blue");
    expect(answer.status).toBe(400);
    expect(answer.json.errors).toEqual([{ path: ["colour"], message: "Unknown query parameter" }]);
  });
});

describe("a lost create meets Align's 409 again", () => {
  it("claims an orphan even while another caller's identical attempt is open: the first claim wins, the other gets 409 without the id", async () => {
    const body = individual("contested@example.com");
    await loseCreate("contested-a", body);
    const orphan = sandbox()
      .state()
      .customers.find((customer) => customer.email === body.email);
    expect(orphan).toBeDefined();
    // user-b asks for the same customer and loses its answer too, before Align saw it: its attempt stays open.
    const tokenB = t.stack.token("user-b");
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "drop", when: "before_commit" } });
    expect((await t.api("POST", "/customers", { key: "contested-b", body, token: tokenB })).status).toBe(502);

    const claimed = await t.api("POST", "/customers", { key: "contested-a", body });
    expect(claimed.status).toBe(201);
    expect(claimed.json.customer_id).toBe(orphan?.customer_id);
    expect(requestLine("create_recovered", orphan?.customer_id)).toBeDefined();
    expect((await customerItem(orphan?.customer_id))?.owner).toBe("user-a");

    const refused = await t.api("POST", "/customers", { key: "contested-b", body, token: tokenB });
    expect(refused.status).toBe(409);
    expect(refused.json.customer_id).toBeUndefined();
    expect(refused.headers.get("retry-after")).toBeNull();
  });

  it("converges on the customer its own attempt recorded when the owner index does not show it yet", async () => {
    const body = individual("converged-via-409@example.com");
    // The owner index lags the table (it is eventually consistent): the customer's entry arrives in a minute.
    await wire.setLag({
      table: t.stack.tableName,
      delay: ({ key }) => (key.pk?.S?.startsWith("CUSTOMER#") ? 60_000 : 0),
    });
    onTestFinished(() => wire.setLag(undefined));
    const fired = throttled("UpdateItem", "IDEMPOTENCY#");
    expect((await t.api("POST", "/customers", { key: "converged-409", body })).status).toBe(503);
    fired();
    const id = sandbox()
      .state()
      .customers.find((customer) => customer.email === body.email)?.customer_id;
    expect(await customerItem(id)).toBeDefined();
    expect(wire.lagPending()).toBeGreaterThan(0); // the record is in the table, not yet in the index
    const creates = alignCalls(AlignRoute.CreateCustomer).length;
    const retried = await t.api("POST", "/customers", { key: "converged-409", body });
    expect(retried.status).toBe(201);
    expect(retried.json.customer_id).toBe(id);
    // Align was asked again (the index missed it) and said 409; the lookup found our own record.
    expect(alignCalls(AlignRoute.CreateCustomer).length).toBe(creates + 1);
    expect(requestLine("create_converged", id)).toBeDefined();
    expect(
      sandbox()
        .state()
        .customers.filter((customer) => customer.email === body.email),
    ).toHaveLength(1);
  });
});

const recordersByClient = new WeakMap<object, string[]>();
/** The DynamoDB commands the current runtime sends from now on (by command name). */
function dynamoCommands() {
  const client = getRuntime().dynamo;
  let log = recordersByClient.get(client);
  if (!log) {
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(context.commandName ?? "");
        return next(args);
      },
      { step: "initialize", name: "recordCommands" },
    );
    recordersByClient.set(client, commands);
    log = commands;
  }
  const from = log.length;
  const commands = log;
  return () => commands.slice(from);
}
/** A signed `customer.kycs.updated` delivery, through the API. */
async function deliverKycEvent(customer: Record<string, unknown>, createdAt: number) {
  const body = JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: customer.customer_id,
    entity_type: "customer",
    created_at: new Date(createdAt).toISOString(),
    entity_object: customer,
  });
  const response = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
    body,
  });
  expect(response.status).toBe(200);
}

describe("create: which path runs", () => {
  it("a first attempt asks Align straight away: no owner-index query for an earlier attempt's customer", async () => {
    const commands = dynamoCommands();
    const created = await t.api("POST", "/customers", { body: individual("first-attempt@example.com") });
    expect(created.status).toBe(201);
    expect(commands()).not.toContain("QueryCommand");
  });

  it("a 409 whose lower-case lookup finds the customer does not look up the caller's spelling too", async () => {
    const mixed = "Found.First@Example.com";
    const other = t.stack.token("user-b");
    expect((await t.api("POST", "/customers", { body: individual(mixed), token: other })).status).toBe(201);
    const lookups = alignCalls(AlignRoute.ListCustomers).length;
    const answer = await t.api("POST", "/customers", { body: individual(mixed) });
    expect(answer.status).toBe(409);
    expect(answer.json.customer_id).toBeUndefined();
    expect(alignCalls(AlignRoute.ListCustomers).length - lookups).toBe(1);
  });

  it("names are compared case-folded to lower case: an orphan named Strasse is not the request's Straße", async () => {
    const body = { ...individual("strasse@example.com"), last_name: "Straße" };
    await loseCreate("claim-strasse", body);
    const candidate = {
      customer_id: candidateId(8),
      email: body.email,
      type: "individual",
      first_name: "Ada",
      last_name: "STRASSE",
      kycs: null,
    };
    const refused = await retryFinding("claim-strasse", body, candidate);
    expect(refused.status).toBe(409);
    expect(await customerItem(candidate.customer_id)).toBeUndefined();
  });
});

describe("KYC start after an attempt with an unknown outcome", () => {
  it("opens the first session when Align shows none yet (the lost attempt never reached it)", async () => {
    const created = await t.api("POST", "/customers", { body: individual("kyc-lost-early@example.com") });
    const id = created.json.customer_id as string;
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "drop", when: "before_commit" } });
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-lost-early" })).status).toBe(502);
    const sessions = alignCalls(AlignRoute.CreateKycSession).length;
    const retried = await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-lost-early" });
    expect(retried.status).toBe(201);
    expect((retried.json.kycs as Line).status).toBe("pending");
    expect(alignCalls(AlignRoute.CreateKycSession).length).toBe(sessions + 1);
  });

  it("a link Align shows that we recorded over an hour ago is not taken for the lost attempt's: a new session", async () => {
    const t0 = Date.now();
    clock = t0;
    const created = await t.api("POST", "/customers", { body: individual("kyc-lost-old-link@example.com") });
    const id = created.json.customer_id as string;
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`)).status).toBe(201);
    clock = t0 + 2 * 3_600_000;
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action: { type: "drop", when: "before_commit" } });
    expect((await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-old-link" })).status).toBe(502);
    const sessions = alignCalls(AlignRoute.CreateKycSession).length;
    const retried = await t.api("POST", `/customers/${id}/kyc-sessions`, { key: "kyc-old-link" });
    expect(retried.status).toBe(201);
    expect(alignCalls(AlignRoute.CreateKycSession).length).toBe(sessions + 1);
  });

  it("a fresher observation stored while Align opened the session is kept, and the start logged kept_newer_copy", async () => {
    clock = Date.now();
    const created = await t.api("POST", "/customers", { body: individual("kyc-kept-newer@example.com") });
    const id = created.json.customer_id as string;
    beforeAlign = async (method, path) => {
      if (method !== "POST" || !path.includes(`/customers/${id}/kyc`)) return;
      beforeAlign = undefined;
      // Align's webhook for the same instant says approved: more progress than the session's pending.
      await deliverKycEvent({ ...created.json, kycs: { status: "approved" } }, clock ?? Date.now());
    };
    const started = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(started.status).toBe(201);
    expect(requestLine("kyc_session_started", id)?.kept_newer_copy).toBe(true);
    expect(JSON.parse(String((await customerItem(id))?.data)).kycs.status).toBe("approved");
  });
});

describe("GET /customers/{id}: what a refresh serves", () => {
  it("waits for Align at most the configured timeout (1 s here, under the 3 s cap), then serves the stored copy", async () => {
    const created = await t.api("POST", "/customers", { body: individual("refresh-slow@example.com") });
    const id = created.json.customer_id as string;
    clock = Date.now() + 60_000;
    sandbox().addFault({ route: AlignRoute.GetCustomer, action: { type: "delay", ms: 2_000 } });
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.status).toBe(200);
    expect(read.json.stale).toBe(true); // a 3 s wait would have had Align's answer (2 s)
  });

  it("an Align answer older than the stored copy is refused, and the stored copy is served", async () => {
    const t0 = Date.now();
    clock = t0;
    const created = await t.api("POST", "/customers", { body: individual("refresh-older@example.com") });
    const id = created.json.customer_id as string;
    // A webhook dated 5 s past the coming refresh said rejected (stored, its sync instant left as it was).
    await t.stack.dynamo.client.send(
      new UpdateItemCommand({
        TableName: t.stack.tableName,
        Key: { pk: { S: `CUSTOMER#${id}` }, sk: { S: "CUSTOMER" } },
        UpdateExpression: "SET #data = :data, kyc_rank = :rank, as_of = :as_of",
        ExpressionAttributeNames: { "#data": "data" },
        ExpressionAttributeValues: {
          ":data": { S: JSON.stringify({ ...created.json, kycs: { status: "rejected" } }) },
          ":rank": { N: "2" },
          ":as_of": { N: String(t0 + 65_000) },
        },
      }),
    );
    clock = t0 + 60_000;
    const reads = alignCalls(AlignRoute.GetCustomer).length;
    const read = await t.api("GET", `/customers/${id}`);
    expect(alignCalls(AlignRoute.GetCustomer).length).toBe(reads + 1); // Align was asked (it says no KYC yet)
    expect(read.status).toBe(200);
    expect((read.json.kycs as Line).status).toBe("rejected");
    expect(read.json).not.toHaveProperty("stale");
  });

  it("an applied refresh serves Align's answer without reading the record back", async () => {
    const created = await t.api("POST", "/customers", { body: individual("refresh-applied@example.com") });
    const id = created.json.customer_id as string;
    clock = Date.now() + 60_000;
    const commands = dynamoCommands();
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.status).toBe(200);
    expect(read.json.customer_id).toBe(id);
    expect(commands()).toEqual(["GetItemCommand", "UpdateItemCommand"]);
  });

  it("a corrupted record is a 500 naming the error, never a customer with blanks", async () => {
    const created = await t.api("POST", "/customers", { body: individual("corrupt@example.com") });
    const id = created.json.customer_id as string;
    await t.stack.dynamo.client.send(
      new UpdateItemCommand({
        TableName: t.stack.tableName,
        Key: { pk: { S: `CUSTOMER#${id}` }, sk: { S: "CUSTOMER" } },
        UpdateExpression: "REMOVE #owner",
        ExpressionAttributeNames: { "#owner": "owner" },
      }),
    );
    const read = await t.api("GET", `/customers/${id}`);
    expect(read.status).toBe(500);
    expect(read.text).not.toContain("corrupt@example.com");
    expect(lines()).toContainEqual(
      expect.objectContaining({ level: "error", message: "request failed", error: "CorruptRecordError" }),
    );
  });
});

describe("GET /customers: a table failure is not the caller's cursor", () => {
  it("a throttled query is a 503 to retry, not a 400 invalid cursor", async () => {
    await t.api("POST", "/customers", { body: individual("list-throttled@example.com") });
    const fired = throttled("Query");
    const answer = await t.api("GET", "/customers?limit=1");
    expect(answer.status).toBe(503);
    fired();
    expect((await t.api("GET", "/customers?limit=1")).status).toBe(200);
  });
});
