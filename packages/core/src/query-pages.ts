import { type AttributeValue, QueryCommand, type QueryCommandInput } from "@aws-sdk/client-dynamodb";
import type { DynamoSender } from "./conditional-write.js";

type Item = Record<string, AttributeValue>;

/**
 * Every item a query matches, page after page (a page stops at 1 MB, so one
 * call is never enough for a reader that must see everything). Stop early by
 * leaving the loop: no further page is read.
 *
 * @example
 * for await (const item of queryItems(db, { TableName, KeyConditionExpression, ... })) {
 *   if (matches(item)) return item;
 * }
 */
export async function* queryItems(db: DynamoSender, input: Omit<QueryCommandInput, "ExclusiveStartKey">) {
  let start: Item | undefined;
  do {
    const output = await db.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
    yield* output.Items ?? [];
    start = output.LastEvaluatedKey;
  } while (start);
}
