/**
 * The SDK floor for `npm run bench` (dev-only, never shipped): the DynamoDB
 * client alone with the commands a create uses, and the three writes of a
 * first create (lock, customer, completion), nothing else: no validation, no
 * Align call, no logging. Built with our tuned settings, it is what any
 * create-customer on this SDK must load at least.
 */
import { randomUUID } from "node:crypto";
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";

let client: DynamoDBClient | undefined;
export const dynamo = () =>
  (client ??= new DynamoDBClient({
    region: process.env.AWS_REGION ?? "us-east-1",
    ...(process.env.DYNAMODB_ENDPOINT ? { endpoint: process.env.DYNAMODB_ENDPOINT } : {}),
  }));

export const handler = async (event: { headers?: Record<string, string> }) => {
  const TableName = process.env.TABLE_NAME ?? "";
  const db = dynamo();
  const key = { pk: { S: `FLOOR#${event.headers?.["idempotency-key"] ?? randomUUID()}` }, sk: { S: "FLOOR" } };
  await db.send(
    new PutItemCommand({
      TableName,
      Item: { ...key, state: { S: "locked" } },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  const id = randomUUID();
  await db.send(
    new PutItemCommand({
      TableName,
      Item: { pk: { S: `FLOOR_CUSTOMER#${id}` }, sk: { S: "CUSTOMER" }, data: { S: "{}" } },
      ConditionExpression: "attribute_not_exists(pk)",
    }),
  );
  await db.send(
    new UpdateItemCommand({
      TableName,
      Key: key,
      UpdateExpression: "SET #state = :completed",
      ExpressionAttributeNames: { "#state": "state" },
      ExpressionAttributeValues: { ":completed": { S: "completed" } },
    }),
  );
  return { statusCode: 201, body: JSON.stringify({ customer_id: id }) };
};

/** A replay reads the record (kept so the bundle holds the commands a create may use). */
export const read = (TableName: string, pk: string) =>
  dynamo().send(new GetItemCommand({ TableName, Key: { pk: { S: pk }, sk: { S: "FLOOR" } }, ConsistentRead: true }));
