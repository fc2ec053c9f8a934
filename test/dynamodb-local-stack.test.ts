/**
 * `DYNAMODB=local-java npm start`: the local stack on a DynamoDB Local JVM of
 * its own (not the test run's shared one), with transactions on as in AWS.
 * A customer is created and its KYC started through the API, so the KYC
 * start's TransactWriteItems reaches DynamoDB Local. Without Java it skips
 * and says why.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dynamoDbLocal, dynamoDbLocalSkip } from "./support/dynamodb-local.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const shared = dynamoDbLocal();
let t: TestStack | undefined;

describe.skipIf(!shared)(`the local stack on DynamoDB Local (DYNAMODB=local-java)${dynamoDbLocalSkip()}`, () => {
  beforeAll(async () => {
    shared?.client.destroy();
    t = await startTestStack({
      registerWebhook: false,
      dynamodb: "local-java",
      env: { DYNAMODB_TRANSACTIONS: "true" },
    });
  }, 60_000);
  afterAll(() => t?.close());

  it("creates a customer and starts its KYC through the API", async () => {
    if (!t) throw new Error("no stack");
    expect(t.stack.dynamo.endpoint).not.toBe(shared?.endpoint);
    const created = await t.api("POST", "/customers", { body: individual("java@example.com") });
    expect(created.status).toBe(201);
    const id = created.json.customer_id as string;
    const kyc = await t.api("POST", `/customers/${id}/kyc-sessions`);
    expect(kyc.status).toBe(201);
    const stored = await t.api("GET", `/customers/${id}`);
    expect((stored.json.kycs as { kyc_flow_link?: string }).kyc_flow_link).toBe(
      (kyc.json.kycs as { kyc_flow_link?: string }).kyc_flow_link,
    );
    expect(await t.items("CUSTOMER")).toHaveLength(1);
  });
});
