/**
 * The fault matrix: every write path (create, start KYC, simulate, webhook)
 * under every Align fault and every DynamoDB fault, followed by retries with
 * the same Idempotency-Key (or Align's redelivery). Each flow must end with
 * exactly one customer at Align, our record equal to Align's, no 5xx without a
 * problem body, and a Retry-After wherever retrying helps.
 *
 * DynamoDB faults are injected at the wire (test/support/dynamo-wire.ts),
 * beneath the functions' production client: the SDK's own retries run as on
 * AWS, so a fault meant for the function is armed for all 3 of its attempts,
 * and a lost answer after the table applied a write is resent by the SDK.
 * Every DynamoDB case asserts that its fault fired, as often as it was armed.
 */
import { randomUUID } from "node:crypto";
import { signPayload } from "@align-onboarding/align";
import { AlignRoute, type FaultAction } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DynamoWire, routeRuntimeThroughWire, type WireAction, type WireFault } from "./support/dynamo-wire.js";
import { assertDocumented } from "./support/openapi-validator.js";
import { type ApiAnswer, type ApiCall, individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let wire: DynamoWire;

beforeAll(async () => {
  t = await startTestStack({
    registerWebhook: false, // deliveries are driven by the tests, so each fault hits a known request
    functionTimeoutSeconds: 2, // leases expire within seconds when a holder loses its lock
    env: { ALIGN_TIMEOUT_MS: "300" },
  });
  wire = await routeRuntimeThroughWire(t.stack.dynamo.endpoint);
});
afterAll(async () => {
  await t.close();
  await wire.close();
});
beforeEach(() => {
  t.stack.sandbox?.clearFaults();
  wire.clear();
});

const sandbox = () => {
  if (!t.stack.sandbox) throw new Error("emulator expected");
  return t.stack.sandbox;
};

const RETRYABLE = new Set([409, 502, 503, 504]);

/** Checks one answer's shape: 5xx and 409 are problem+json, and the retryable ones say when to retry. */
function checkAnswer(answer: ApiAnswer): void {
  if (answer.status >= 400) {
    expect(answer.headers.get("content-type")).toBe("application/problem+json");
    expect(typeof answer.json.code).toBe("string");
    expect(typeof answer.json.request_id).toBe("string");
  }
  if (answer.status >= 500) expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
  if (answer.status === 409 && answer.json.code === "idempotency_key_in_use") {
    expect(answer.headers.get("retry-after")).toMatch(/^\d+$/);
  }
}

/** Retries like a well-behaved client: same key, honouring Retry-After (capped for test speed), bounded. */
async function untilDone(send: () => Promise<ApiAnswer>, expected: number): Promise<ApiAnswer[]> {
  const answers: ApiAnswer[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await send();
    answers.push(answer);
    checkAnswer(answer);
    if (answer.status === expected || !RETRYABLE.has(answer.status) || Date.now() > deadline) return answers;
    const wait = Math.min(Number(answer.headers.get("retry-after") ?? 1) * 1000, 250);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

const post = (path: string, call: ApiCall) => () => t.api("POST", path, call);

/** Our record and Align's agree on the customer, and Align holds exactly one with this email. */
async function expectConsistent(email: string): Promise<{ id: string; kycs: Record<string, unknown> | null }> {
  await sandbox().deliveriesSettled();
  const atAlign = sandbox()
    .state()
    .customers.filter((c) => c.email === email);
  expect(atAlign).toHaveLength(1);
  const [customer] = atAlign;
  const records = (await t.items("CUSTOMER")).filter((r) => r.customer_id === customer?.customer_id);
  expect(records).toHaveLength(1);
  const stored = JSON.parse(records[0]?.data as string) as Record<string, unknown>;
  expect(records[0]?.owner).toBe("user-a");
  expect({ customer_id: stored.customer_id, email: stored.email, kycs: stored.kycs }).toEqual({
    customer_id: customer?.customer_id,
    email: customer?.email,
    kycs: customer?.kycs,
  });
  return { id: customer?.customer_id as string, kycs: (customer?.kycs ?? null) as Record<string, unknown> | null };
}

const ALIGN_FAULTS: [string, FaultAction][] = [
  ["500", { type: "status", status: 500 }],
  ["502", { type: "status", status: 502 }],
  ["503 with Retry-After", { type: "status", status: 503, retry_after: 1 }],
  ["429", { type: "status", status: 429, retry_after: 1 }],
  ["slow beyond the timeout", { type: "delay", ms: 700 }],
  ["a connection dropped before commit", { type: "drop", when: "before_commit" }],
  ["a connection dropped after commit", { type: "drop", when: "after_commit" }],
];

/** What happens to a call, and on how many of the SDK's 3 attempts (3: the function sees it). */
const DYNAMO_FAULTS: [string, WireAction, number][] = [
  ["throttled on every attempt", { type: "error", error: "ThrottlingException" }, 3],
  ["a 500 on every attempt", { type: "error", error: "InternalServerError" }, 3],
  ["reset before the table on every attempt", { type: "reset" }, 3],
  // On a begin this converges only once the lease ends: the resend meets the request's own lock and
  // answers 409 idempotency_key_in_use (issue 21 #2; test/sdk-self-retry.test.ts pins it).
  ["applied, answer lost once (the SDK resends)", { type: "drop_response" }, 1],
  ["applied, answer lost on every attempt", { type: "drop_response" }, 3],
];
const writes = (...calls: Pick<WireFault, "operation" | "keyPrefix">[]) =>
  calls.flatMap((call) =>
    DYNAMO_FAULTS.map(([what, action, count]): [string, WireFault] => [
      `${call.operation} ${call.keyPrefix}: ${what}`,
      { ...call, action, count },
    ]),
  );
/** Arms `fault`, runs the flow, and checks the fault fired on every attempt it was armed for. */
async function withFault(fault: WireFault, flow: () => Promise<void>): Promise<void> {
  wire.arm(fault);
  await flow();
  expect(wire.fired({ operation: fault.operation })).toHaveLength(fault.count ?? 1);
  expect(wire.unfired()).toBe(0);
}

async function createdCustomer(email: string): Promise<string> {
  const created = await t.api("POST", "/customers", { body: individual(email) });
  expect(created.status).toBe(201);
  return created.json.customer_id as string;
}

async function withKyc(email: string): Promise<string> {
  const id = await createdCustomer(email);
  expect((await t.api("POST", `/customers/${id}/kyc-sessions`)).status).toBe(201);
  return id;
}

describe("create-customer", () => {
  const flow = async (email: string) => {
    const key = randomUUID();
    const answers = await untilDone(post("/customers", { key, body: individual(email) }), 201);
    expect(answers.at(-1)?.status).toBe(201);
    const { id } = await expectConsistent(email);
    expect(answers.at(-1)?.json.customer_id).toBe(id);
  };

  it.each(ALIGN_FAULTS)("Align %s", async (_label, action) => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action });
    await flow(`create-align-${randomUUID()}@example.com`);
  });

  it.each(
    writes(
      { operation: "PutItem", keyPrefix: "IDEMPOTENCY#" },
      { operation: "PutItem", keyPrefix: "CUSTOMER#" },
      { operation: "UpdateItem", keyPrefix: "IDEMPOTENCY#" },
    ),
  )("DynamoDB %s", async (_label, fault) => {
    await withFault(fault, () => flow(`create-dynamo-${randomUUID()}@example.com`));
  });
});

describe("start-kyc", () => {
  const flow = async (email: string, id: string) => {
    const key = randomUUID();
    const answers = await untilDone(post(`/customers/${id}/kyc-sessions`, { key }), 201);
    expect(answers.at(-1)?.status).toBe(201);
    const { kycs } = await expectConsistent(email);
    expect(kycs?.status).toBe("pending");
    const last = answers.at(-1)?.json.kycs as { kyc_flow_link?: string } | undefined;
    expect(last?.kyc_flow_link).toBe(kycs?.kyc_flow_link);
  };

  it.each(ALIGN_FAULTS)("Align %s", async (_label, action) => {
    const email = `kyc-align-${randomUUID()}@example.com`;
    const id = await createdCustomer(email);
    sandbox().addFault({ route: AlignRoute.CreateKycSession, action });
    await flow(email, id);
  });

  it.each(
    writes(
      { operation: "PutItem", keyPrefix: "IDEMPOTENCY#" },
      { operation: "UpdateItem", keyPrefix: "CUSTOMER#" },
      { operation: "UpdateItem", keyPrefix: "IDEMPOTENCY#" },
    ),
  )("DynamoDB %s", async (_label, fault) => {
    const email = `kyc-dynamo-${randomUUID()}@example.com`;
    const id = await createdCustomer(email);
    await withFault(fault, () => flow(email, id));
  });
});

describe("sandbox-simulate (then the webhook brings the status home)", () => {
  const flow = async (email: string, id: string) => {
    const key = randomUUID();
    const answers = await untilDone(
      post(`/sandbox/customers/${id}/simulate`, { key, body: { action: "kyc.status.approve" } }),
      200,
    );
    expect(answers.at(-1)?.status).toBe(200);
    const event = sandbox()
      .state()
      .customers.find((c) => c.customer_id === id);
    expect(event?.kycs?.status).toBe("approved");
    // Align's delivery (not registered in this file) is played here, signed as Align signs.
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: id,
      entity_type: "customer",
      created_at: new Date().toISOString(),
      entity_object: event,
    });
    const delivered = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
      body,
    });
    expect(delivered.status).toBe(200);
    const { kycs } = await expectConsistent(email);
    expect(kycs?.status).toBe("approved");
  };

  it.each(ALIGN_FAULTS)("Align %s", async (_label, action) => {
    const email = `sim-align-${randomUUID()}@example.com`;
    const id = await withKyc(email);
    sandbox().addFault({ route: AlignRoute.SimulateCustomer, action });
    await flow(email, id);
  });

  it.each(
    writes({ operation: "PutItem", keyPrefix: "IDEMPOTENCY#" }, { operation: "UpdateItem", keyPrefix: "IDEMPOTENCY#" }),
  )("DynamoDB %s", async (_label, fault) => {
    const email = `sim-dynamo-${randomUUID()}@example.com`;
    const id = await withKyc(email);
    await withFault(fault, () => flow(email, id));
  });
});

describe("the webhook path (older event format: the receiver reads the customer from Align)", () => {
  /** Approves at Align, then delivers an event without entity_object until it is acknowledged. */
  const flow = async (email: string, id: string) => {
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: id,
      entity_type: "customer",
      created_at: new Date().toISOString(),
    });
    const deliver = async (): Promise<ApiAnswer> => {
      const response = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
        body,
      });
      const text = await response.text();
      const answer = { method: "POST", path: "/webhooks/align", status: response.status, headers: response.headers };
      assertDocumented({ ...answer, body: text });
      return { ...answer, json: JSON.parse(text) as Record<string, unknown>, text };
    };
    const answers = await untilDone(deliver, 200);
    expect(answers.at(-1)?.status).toBe(200);
    const { kycs } = await expectConsistent(email);
    expect(kycs?.status).toBe("approved");
  };

  const approvedAtAlign = async (email: string) => {
    const id = await withKyc(email);
    expect(
      (await t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } })).status,
    ).toBe(200);
    return id;
  };

  it.each(ALIGN_FAULTS)("Align %s on the re-read", async (_label, action) => {
    const email = `hook-align-${randomUUID()}@example.com`;
    const id = await approvedAtAlign(email);
    // Three in a row: more than the client's own GET retries absorb.
    sandbox().addFault({ route: AlignRoute.GetCustomer, count: 3, action });
    await flow(email, id);
  });

  // No WEBHOOK# item exists (a delivery is applied by a conditional write on the customer record), so
  // faults armed on WEBHOOK# keys never fired; the webhook's own calls are its read and its write.
  it.each(
    writes({ operation: "GetItem", keyPrefix: "CUSTOMER#" }, { operation: "UpdateItem", keyPrefix: "CUSTOMER#" }),
  )("DynamoDB %s", async (_label, fault) => {
    const email = `hook-dynamo-${randomUUID()}@example.com`;
    const id = await approvedAtAlign(email);
    await withFault(fault, () => flow(email, id));
  });
});
