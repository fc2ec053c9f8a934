/**
 * The list after a kill -9 (defect 12): GET /customers never shows a customer
 * twice, never a stale copy, never another owner's customer, whatever the
 * owner index holds. The index only points; the customers come from the table.
 *
 * How a stale index entry is made here: dynalite writes an item and then its
 * index entry, so a kill between the two leaves an index entry under another
 * sort key than the table's item has (and DynamoDB's eventually consistent
 * index can show an older copy). dynalite keeps one index entry per table key
 * and updates it with the item, so a leftover entry cannot be made under the
 * customer's own key; it is made as a raw item under another partition key
 * (`CUSTOMER#<id>#ghost`) whose index attributes and `customer_id` are those
 * the dead write left: to a Query on the index it is exactly such an entry,
 * carrying an old copy of the customer. The table's own item is untouched.
 */
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
let token = "";
const OWNER = "stale-index-owner";
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, env: { KYC_REFRESH_AFTER_SECONDS: "3600" } });
  token = t.stack.token(OWNER);
});
afterAll(() => t.close());

type Json = Record<string, unknown>;

/** A leftover index entry for `customerId` under OWNER, at `createdAt`, carrying `copy` as its data. */
async function ghostEntry(customerId: string, createdAt: string, copy: Json, owner = OWNER) {
  await t.stack.dynamo.client.send(
    new PutItemCommand({
      TableName: t.stack.tableName,
      Item: {
        pk: { S: `CUSTOMER#${customerId}#ghost-${createdAt}` },
        sk: { S: "CUSTOMER" },
        gsi1pk: { S: `OWNER#${OWNER}` },
        gsi1sk: { S: `${createdAt}#${customerId}` },
        customer_id: { S: customerId },
        owner: { S: owner },
        data: { S: JSON.stringify(copy) },
        synced_at: { N: "0" },
        as_of: { N: "0" },
        kyc_rank: { N: "0" },
        created_at: { S: createdAt },
      },
    }),
  );
}

async function listAll(limit: number): Promise<{ pages: Json[][]; ids: string[] }> {
  const pages: Json[][] = [];
  let cursor: string | undefined;
  do {
    const query = `limit=${limit}${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const answer = await t.api("GET", `/customers?${query}`, { token });
    expect(answer.status).toBe(200);
    pages.push(answer.json.items as Json[]);
    cursor = answer.json.next_cursor as string | undefined;
  } while (cursor !== undefined && pages.length < 20);
  return { pages, ids: pages.flat().map((item) => item.customer_id as string) };
}

describe("GET /customers with stale owner-index entries", () => {
  let older: Json;
  let newer: Json;
  let tableCopyOfOlder: Json;

  beforeAll(async () => {
    older = (await t.api("POST", "/customers", { token, body: individual("stale-older@example.com") })).json;
    newer = (await t.api("POST", "/customers", { token, body: individual("stale-newer@example.com") })).json;
    // The table moves on (a KYC session): an index entry left behind still carries the copy before it.
    const kyc = await t.api("POST", `/customers/${older.customer_id}/kyc-sessions`, { token });
    expect(kyc.status).toBe(201);
    tableCopyOfOlder = (await t.api("GET", `/customers/${older.customer_id}`, { token })).json;
    expect(tableCopyOfOlder.kycs).not.toBeNull();

    const theirs = (
      await t.api("POST", "/customers", {
        token: t.stack.token("someone-else"),
        body: individual("stale-theirs@example.com"),
      })
    ).json;
    // A leftover entry for `older` under a later sort key (listed first), with its old copy (no KYC).
    await ghostEntry(older.customer_id as string, "2999-01-01T00:00:00.000Z", { ...older, kycs: null });
    // One for a customer the table no longer has, and one that points at another owner's customer.
    await ghostEntry("123e4567-e89b-12d3-a456-000000000000", "2998-01-01T00:00:00.000Z", {
      ...older,
      customer_id: "123e4567-e89b-12d3-a456-000000000000",
    });
    await ghostEntry(theirs.customer_id as string, "2997-01-01T00:00:00.000Z", theirs, OWNER);
  });

  it("shows each customer once, as the table holds it, and nothing the table does not give this owner", async () => {
    const answer = await t.api("GET", "/customers", { token });
    expect(answer.status).toBe(200);
    const items = answer.json.items as Json[];
    expect(items.map((item) => item.customer_id)).toEqual([newer.customer_id, older.customer_id]);
    expect(items[1]).toEqual(tableCopyOfOlder);
  });

  it("pages through the same: every cursor works, each customer once, no page emptied by dropped entries", async () => {
    for (const limit of [1, 2, 3]) {
      const { pages, ids } = await listAll(limit);
      expect([limit, ids]).toEqual([limit, [newer.customer_id, older.customer_id]]);
      // Only the last page may be empty: DynamoDB cannot tell that a full page was the last.
      expect(pages.slice(0, -1).filter((page) => page.length === 0)).toEqual([]);
      expect(pages.flat().find((item) => item.customer_id === older.customer_id)).toEqual(tableCopyOfOlder);
    }
  });
});
