/**
 * `begin`'s fresh-lock condition, against the engine through the SDK: it
 * takes a key only when nothing live is there (absent, or past its 24
 * hours), whatever the stored state, fingerprint or lease; every live record
 * is judged by `begin` itself and, to be taken over, replaced by a second
 * write conditioned on its token.
 */
import { BEGIN_CONDITION } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, expect, it } from "vitest";

const TABLE = "begin-condition";
const NOW = 1_800_000_000_000;
let dynamo: EmbeddedDynamo;
beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  await ensureTable(dynamo.client, TABLE);
});
afterAll(() => dynamo.close());

async function accepts(condition: string, pk: string): Promise<boolean> {
  try {
    await dynamo.client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { pk: { S: `${pk}#probe` }, sk: { S: "IDEMPOTENCY" } },
        ConditionExpression: condition,
        ExpressionAttributeValues: { ":now_s": { N: String(Math.floor(NOW / 1000)) } },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

it("the fresh-lock condition takes a key only when nothing live is there, for every stored state", async () => {
  const states = [undefined, "locked", "open", "completed"] as const;
  let cases = 0;
  let accepted = 0;
  for (const present of [false, true])
    for (const expired of [false, true])
      for (const fingerprint of ["fp-same", "fp-other"])
        for (const state of states)
          for (const leasePast of [false, true, undefined]) {
            const pk = `case-${cases++}`;
            const item: Record<string, AttributeValue> = {
              pk: { S: `${pk}#probe` },
              sk: { S: "IDEMPOTENCY" },
              expires_at: { N: String(Math.floor(NOW / 1000) + (expired ? -1 : 1)) },
              fingerprint: { S: fingerprint },
              ...(state === undefined ? {} : { state: { S: state } }),
              ...(leasePast === undefined ? {} : { lease_expires_at: { N: String(NOW + (leasePast ? -1 : 1)) } }),
            };
            const key = { pk: { S: `${pk}#probe` }, sk: { S: "IDEMPOTENCY" } };
            await dynamo.client.send(new DeleteItemCommand({ TableName: TABLE, Key: key }));
            if (present) await dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
            const taken = await accepts(BEGIN_CONDITION, pk);
            expect(
              taken,
              `case ${pk}: present ${present}, expired ${expired}, ${fingerprint}, ${state}, lease past ${leasePast}`,
            ).toBe(!present || expired);
            if (taken) accepted += 1;
          }
  // The matrix exercised both answers: some states are taken, others refused.
  expect(cases).toBe(96);
  expect(accepted).toBeGreaterThan(0);
  expect(accepted).toBeLessThan(cases);
});
