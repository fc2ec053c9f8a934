/**
 * The AWS SDK's own retry of a write that already applied (issue 21 #2). The
 * functions' production DynamoDB client (maxAttempts 3, requestTimeout 2.5 s)
 * talks to dynalite through the wire proxy; the proxy lets the table apply a
 * write, then loses its answer (drops the connection, or holds the answer past
 * the requestTimeout), so the SDK resends the very same request. A store that
 * does not recognise its own earlier write then finds "someone else" in its
 * own lock or record.
 *
 * Each test failed on 8678390 (the store took its own resent write for another's); the last
 * test shows each of them had its fault fire and its write resent.
 */
import { createRuntime, loadConfig, type Runtime } from "@align-onboarding/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DynamoWire, routeRuntimeThroughWire, type WireAction } from "./support/dynamo-wire.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let wire: DynamoWire;
/** A runtime of our own for the store-level tests: the production client, pointed at the wire. */
let runtime: Runtime;

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
  wire = await routeRuntimeThroughWire(t.stack.dynamo.endpoint);
  runtime = createRuntime(loadConfig({ TABLE_NAME: t.stack.tableName, DYNAMODB_ENDPOINT: wire.endpoint }, {}));
});
afterAll(async () => {
  runtime.dynamo.destroy();
  await t.close();
  await wire.close();
});
beforeEach(() => wire.clear());

/** Per test: did its fault fire, and did the SDK resend the identical request? Checked by the last test. */
const evidence: { test: string; fired: number; resent: boolean }[] = [];
function record(test: string, operation: string) {
  const bodies = wire.requests(operation).map((request) => request.body);
  evidence.push({ test, fired: wire.fired().length, resent: bodies.some((body, i) => bodies.indexOf(body) !== i) });
}

const DROPPED: WireAction = { type: "drop_response" };
// Past the production requestTimeout (2.5 s): the SDK gives up on the attempt and resends.
const LATE: WireAction = { type: "late_response", ms: 3_000 };

describe("begin", () => {
  for (const [how, action] of [
    ["lost", DROPPED],
    ["held past the requestTimeout", LATE],
  ] as const) {
    const name = `a begin whose answer was ${how} and resent by the SDK acquires its own lock`;
    it(name, async () => {
      wire.arm({ operation: "PutItem", keyPrefix: "IDEMPOTENCY#", action });
      const answer = await t.api("POST", "/customers", { body: individual(`begin-${action.type}@example.com`) });
      record(name, "PutItem");
      // Today: 409 idempotency_key_in_use against its own lock, and the key stays locked for the lease (~32 s).
      expect(answer.json.code).not.toBe("idempotency_key_in_use");
      expect(answer.status).toBe(201);
    });
  }

  const storeName = "the store's begin, resent by the SDK after its write applied, returns acquired with its token";
  it(storeName, async () => {
    wire.arm({ operation: "PutItem", keyPrefix: "IDEMPOTENCY#", action: DROPPED });
    const begun = await runtime.idempotency.begin("self-begin", "fp", Date.now() + 30_000);
    record(storeName, "PutItem");
    expect(begun.kind).toBe("acquired");
  });
});

describe("complete", () => {
  const name = "a completion whose answer was lost and resent by the SDK answers the stored success, not lock lost";
  it(name, async () => {
    const body = individual("complete-lost@example.com");
    wire.arm({ operation: "UpdateItem", keyPrefix: "IDEMPOTENCY#", action: DROPPED });
    const answer = await t.api("POST", "/customers", { key: "complete-lost", body });
    record(name, "UpdateItem");
    // Today: the resend finds the record completed, reads it as "lock lost", and answers 409 for a stored 201.
    expect(answer.status).toBe(201);
  });

  const storeName = "the store's complete, resent by the SDK after its write applied, returns true";
  it(storeName, async () => {
    const begun = await runtime.idempotency.begin("self-complete", "fp", Date.now() + 30_000);
    if (begun.kind !== "acquired") throw new Error(`begin: ${begun.kind}`);
    wire.arm({ operation: "UpdateItem", keyPrefix: "IDEMPOTENCY#", action: DROPPED });
    const completed = await runtime.idempotency.complete("self-complete", begun.token, {
      statusCode: 201,
      headers: {},
      body: "{}",
    });
    record(storeName, "UpdateItem");
    expect(completed).toBe(true);
  });
});

describe("release", () => {
  for (const [uncertain, operation] of [
    [false, "DeleteItem"],
    [true, "UpdateItem"],
  ] as const) {
    const name = `a release${uncertain ? " as uncertain" : ""} whose answer was lost and resent by the SDK reports it released`;
    // (The handler ignores release's result, so the API's answer is right either way; the store's is not.)
    it(name, async () => {
      const id = `self-release-${uncertain}`;
      const begun = await runtime.idempotency.begin(id, "fp", Date.now() + 30_000);
      if (begun.kind !== "acquired") throw new Error(`begin: ${begun.kind}`);
      wire.arm({ operation, keyPrefix: "IDEMPOTENCY#", action: DROPPED });
      const released = await runtime.idempotency.release(id, begun.token, uncertain);
      record(name, operation);
      expect(released).toBe(true);
    });
  }
});

describe("the defects above are the SDK's resend, not a fault that never fired", () => {
  it("every test above had its fault fire and its identical write resent by the SDK", () => {
    expect(evidence).toHaveLength(7);
    for (const entry of evidence) expect(entry, entry.test).toMatchObject({ fired: 1, resent: true });
  });
});
