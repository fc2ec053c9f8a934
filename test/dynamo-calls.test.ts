/**
 * DynamoDB round trips per request, counted through the SDK middleware stack,
 * on AWS's DynamoDB Local with the production setting DYNAMODB_TRANSACTIONS=true:
 * a failed conditional write returns the current item
 * (ReturnValuesOnConditionCheckFailure: ALL_OLD) and TransactWriteItems
 * exists, as on DynamoDB. dynalite has neither, so the stores fall back to a
 * GetItem (pinned below on dynalite) and to two writes. Why each route needs
 * what it makes: docs/performance.md, "DynamoDB calls per request". Without Java the
 * DynamoDB Local half skips and says why (test/support/dynamodb-local.ts).
 */
import { signPayload } from "@align-onboarding/align";
import { getRuntime } from "@align-onboarding/core";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamoDbLocal, dynamoDbLocalSkip } from "./support/dynamodb-local.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const local = dynamoDbLocal();
let t: TestStack;
let onLocal: TestStack | undefined;
const calls: string[] = [];

/** Counts every command the functions' DynamoDB client sends, before the SDK's own retries. */
function countCalls(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? "unknown");
      return next(args);
    },
    { step: "initialize", priority: "high", name: "countCalls" },
  );
}

async function counted<T>(work: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
  calls.length = 0;
  const result = await work();
  return { result, calls: [...calls] };
}

describe("DynamoDB calls per request on dynalite (no ALL_OLD)", () => {
  beforeAll(async () => {
    t = await startTestStack({ registerWebhook: false });
    countCalls(getRuntime().dynamo);
  });
  afterAll(() => t.close());

  it("replay: 2, the failed lock write and a read of the stored answer", async () => {
    const body = individual("calls@example.com");
    await t.api("POST", "/customers", { key: "calls-1", body });
    const onDynalite = await counted(() => t.api("POST", "/customers", { key: "calls-1", body }));
    expect(onDynalite.result.headers.get("idempotent-replayed")).toBe("true");
    expect(onDynalite.calls).toEqual(["PutItemCommand", "GetItemCommand"]);
  });
});

describe.skipIf(!local)(`DynamoDB calls per request on DynamoDB Local${dynamoDbLocalSkip()}`, () => {
  beforeAll(async () => {
    if (!local) return;
    onLocal = await startTestStack({
      registerWebhook: false,
      dynamodb: { endpoint: local.endpoint },
      tableName: local.tableName("dynamo-calls"),
      env: { KYC_REFRESH_AFTER_SECONDS: "3600", DYNAMODB_TRANSACTIONS: "true" },
    });
    t = onLocal;
    countCalls(getRuntime().dynamo);
  });
  afterAll(async () => {
    local?.client.destroy();
    await onLocal?.close();
  });

  it("first create: 3 (lock, customer, completion)", async () => {
    const { result, calls: used } = await counted(() =>
      t.api("POST", "/customers", { key: "calls-1", body: individual("calls@example.com") }),
    );
    expect(result.status).toBe(201);
    expect(used).toEqual(["PutItemCommand", "PutItemCommand", "UpdateItemCommand"]);
  });

  it("replay: 1, the failed lock write, which carries the stored answer (ALL_OLD)", async () => {
    const body = individual("calls@example.com");
    const replay = await counted(() => t.api("POST", "/customers", { key: "calls-1", body }));
    expect(replay.result.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.calls).toEqual(["PutItemCommand"]);
  });

  it("GET of a fresh customer: 1; KYC start: 3; a webhook that carries its customer: 1", async () => {
    const created = await t.api("POST", "/customers", { body: individual("calls-2@example.com") });
    const id = created.json.customer_id as string;
    expect((await counted(() => t.api("GET", `/customers/${id}`))).calls).toEqual(["GetItemCommand"]);
    // Ownership and state, the lock, then the session and the completion in one transaction.
    const kyc = await counted(() => t.api("POST", `/customers/${id}/kyc-sessions`));
    expect(kyc.result.status).toBe(201);
    expect(kyc.calls).toEqual(["GetItemCommand", "PutItemCommand", "TransactWriteItemsCommand"]);
    const stored = (await t.api("GET", `/customers/${id}`)).json.kycs as { kyc_flow_link?: string };
    expect(stored.kyc_flow_link).toBe((kyc.result.json.kycs as { kyc_flow_link?: string }).kyc_flow_link);
    // A replay: the ownership read and the lock's failed write, which carries the stored answer.
    const key = "calls-kyc";
    await t.api("POST", `/customers/${id}/kyc-sessions`, { key });
    const replay = await counted(() => t.api("POST", `/customers/${id}/kyc-sessions`, { key }));
    expect(replay.result.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.calls).toEqual(["GetItemCommand", "PutItemCommand"]);
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: id,
      entity_type: "customer",
      created_at: new Date(Date.now() + 1000).toISOString(),
      entity_object: { ...created.json, kycs: { status: "approved" } },
    });
    const webhook = await counted(() =>
      fetch(`${t.stack.apiUrl}/webhooks/align`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
        body,
      }),
    );
    expect(webhook.result.status).toBe(200);
    expect(webhook.calls).toEqual(["UpdateItemCommand"]);
  });

  it("KYC start on a record already approved: the ordering rule writes no session, the record is completed alone (3)", async () => {
    const created = await t.api("POST", "/customers", { body: individual("calls-3@example.com") });
    const id = created.json.customer_id as string;
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: id,
      entity_type: "customer",
      created_at: new Date(Date.now() + 1000).toISOString(),
      entity_object: { ...created.json, kycs: { status: "approved" } },
    });
    const hook = await fetch(`${t.stack.apiUrl}/webhooks/align`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
      body,
    });
    expect(hook.status).toBe(200);
    const key = "calls-kyc-stale";
    const kyc = await counted(() =>
      t.api("POST", `/customers/${id}/kyc-sessions`, { key, body: { new_session: true } }),
    );
    expect(kyc.result.status).toBe(201);
    expect(kyc.calls).toEqual(["GetItemCommand", "PutItemCommand", "UpdateItemCommand"]);
    expect(((await t.api("GET", `/customers/${id}`)).json.kycs as { status?: string }).status).toBe("approved");
    const replay = await t.api("POST", `/customers/${id}/kyc-sessions`, { key, body: { new_session: true } });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.json.kycs).toEqual(kyc.result.json.kycs);
  });
});
