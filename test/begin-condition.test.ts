/**
 * `begin`'s lock condition is written flat for dynalite's parser (issue 26):
 * against the real engine, through the SDK, it accepts and refuses exactly
 * what the nested form it replaced did, for every stored state that matters.
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

const NESTED =
  "attribute_not_exists(pk) OR expires_at < :now_s OR (fingerprint = :fingerprint AND " +
  "(#state = :open OR (#state = :locked AND lease_expires_at < :now_ms)))";
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
        ExpressionAttributeNames: { "#state": "state" },
        ExpressionAttributeValues: {
          ":now_s": { N: String(Math.floor(NOW / 1000)) },
          ":now_ms": { N: String(NOW) },
          ":open": { S: "open" },
          ":locked": { S: "locked" },
          ":fingerprint": { S: "fp-same" },
        },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

it("the flat lock condition accepts and refuses exactly what the nested one did, for every stored state", async () => {
  const states = [undefined, "locked", "open", "completed"] as const;
  let cases = 0;
  let accepted = 0;
  for (const present of [false, true])
    for (const expired of [false, true])
      for (const fingerprint of ["fp-same", "fp-other"])
        for (const state of states)
          for (const leasePast of [false, true, undefined]) {
            const pk = `case-${cases++}`;
            const both: boolean[] = [];
            for (const condition of [NESTED, BEGIN_CONDITION]) {
              // Each form meets its own copy of the stored item (a success writes over it).
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
              both.push(await accepts(condition, pk));
            }
            expect(
              both[1],
              `case ${pk}: present ${present}, expired ${expired}, ${fingerprint}, ${state}, lease past ${leasePast}`,
            ).toBe(both[0]);
            if (both[0]) accepted += 1;
          }
  // The matrix exercised both answers: some states are taken, others refused.
  expect(cases).toBe(96);
  expect(accepted).toBeGreaterThan(0);
  expect(accepted).toBeLessThan(cases);
});
