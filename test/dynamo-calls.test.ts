/**
 * DynamoDB round trips per request, counted through the SDK middleware stack.
 * Real DynamoDB returns the current item with a failed conditional write
 * (ReturnValuesOnConditionCheckFailure: ALL_OLD); dynalite does not, so the
 * stores fall back to a GetItem. Here that DynamoDB behaviour is supplied,
 * through a second client the count does not see, to prove a replay then
 * costs exactly one call.
 */
import { signPayload } from "@align-onboarding/align";
import { getRuntime } from "@align-onboarding/core";
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let side: DynamoDBClient;
const calls: string[] = [];
let returnOldItem = false;

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "3600" } });
  side = new DynamoDBClient({
    endpoint: t.stack.dynamo.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  const client = getRuntime().dynamo;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(context.commandName ?? "unknown");
      return next(args);
    },
    { step: "initialize", priority: "high", name: "countCalls" },
  );
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const input = args.input as {
          TableName?: string;
          Item?: Record<string, { S?: string }>;
          ReturnValuesOnConditionCheckFailure?: string;
        };
        if (
          !returnOldItem ||
          !(error instanceof ConditionalCheckFailedException) ||
          input.ReturnValuesOnConditionCheckFailure !== "ALL_OLD"
        )
          throw error;
        const key = { pk: { S: input.Item?.pk?.S ?? "" }, sk: { S: input.Item?.sk?.S ?? "" } };
        const current = await side.send(
          new GetItemCommand({ TableName: input.TableName, Key: key, ConsistentRead: true }),
        );
        if (current.Item) (error as { Item?: unknown }).Item = current.Item;
        throw error;
      }
    },
    { step: "initialize", priority: "low", name: "returnOldItemLikeDynamoDB" },
  );
});
afterAll(async () => {
  side.destroy();
  await t.close();
});
beforeEach(() => {
  returnOldItem = false;
});

async function counted<T>(work: () => Promise<T>): Promise<{ result: T; calls: string[] }> {
  calls.length = 0;
  const result = await work();
  return { result, calls: [...calls] };
}

describe("DynamoDB calls per request", () => {
  it("first create: 3 (lock, customer, completion)", async () => {
    const { result, calls: used } = await counted(() =>
      t.api("POST", "/customers", { key: "calls-1", body: individual("calls@example.com") }),
    );
    expect(result.status).toBe(201);
    expect(used).toEqual(["PutItemCommand", "PutItemCommand", "UpdateItemCommand"]);
  });

  it("replay: 1 where the store returns the old item (as DynamoDB does), 2 on dynalite", async () => {
    const body = individual("calls@example.com");
    const onDynalite = await counted(() => t.api("POST", "/customers", { key: "calls-1", body }));
    expect(onDynalite.result.headers.get("idempotent-replayed")).toBe("true");
    expect(onDynalite.calls).toEqual(["PutItemCommand", "GetItemCommand"]);
    returnOldItem = true;
    const likeDynamo = await counted(() => t.api("POST", "/customers", { key: "calls-1", body }));
    expect(likeDynamo.result.headers.get("idempotent-replayed")).toBe("true");
    expect(likeDynamo.calls).toEqual(["PutItemCommand"]);
  });

  it("GET of a fresh customer: 1; KYC start: 4; a webhook that carries its customer: 1", async () => {
    const created = await t.api("POST", "/customers", { body: individual("calls-2@example.com") });
    const id = created.json.customer_id as string;
    expect((await counted(() => t.api("GET", `/customers/${id}`))).calls).toEqual(["GetItemCommand"]);
    expect((await counted(() => t.api("POST", `/customers/${id}/kyc-sessions`))).calls).toEqual([
      "GetItemCommand",
      "PutItemCommand",
      "UpdateItemCommand",
      "UpdateItemCommand",
    ]);
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
});
