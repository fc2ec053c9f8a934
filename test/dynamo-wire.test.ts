/**
 * The wire proxy itself (test/support/dynamo-wire.ts): each fault fires and
 * does what it says beneath the SDK's own retries, and the index lag keeps
 * index reads behind the table. dynalite behind the proxy; the client is the
 * production one (createRuntime), except where a test needs a shorter
 * requestTimeout to keep a late answer quick.
 */
import { createRuntime, loadConfig } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DynamoErrorName, type DynamoWire, startDynamoWire } from "./support/dynamo-wire.js";

const TABLE = "wire-test";
let dynamo: EmbeddedDynamo;
let wire: DynamoWire;
let client: DynamoDBClient;
let clock = 0;
/** The lag of the next writes, by partition key (default 0). */
const lagFor = new Map<string, number>();

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  await ensureTable(dynamo.client, TABLE);
  wire = await startDynamoWire({ target: dynamo.endpoint, now: () => clock });
  // The functions' own client: maxAttempts 3, connectionTimeout 2 s, requestTimeout 2.5 s.
  client = createRuntime(loadConfig({ TABLE_NAME: TABLE, DYNAMODB_ENDPOINT: wire.endpoint }, {})).dynamo;
});
afterAll(async () => {
  client.destroy();
  await wire.close();
  await dynamo.close();
});
beforeEach(() => {
  wire.clear();
  lagFor.clear();
});

let n = 0;
const key = (prefix = "ITEM#") => ({ pk: { S: `${prefix}${++n}` }, sk: { S: "ITEM" } });
const putIfAbsent = (item: Record<string, AttributeValue>, via = client) =>
  via.send(new PutItemCommand({ TableName: TABLE, Item: item, ConditionExpression: "attribute_not_exists(pk)" }));
const read = async (k: Record<string, AttributeValue>) =>
  (await dynamo.client.send(new GetItemCommand({ TableName: TABLE, Key: k, ConsistentRead: true }))).Item;
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (error: unknown) => error as Error & { $metadata?: { attempts?: number }; $fault?: string },
  );

describe("faults beneath the SDK's own retries", () => {
  it("a 500 answered once is retried by the SDK, and the call succeeds", async () => {
    wire.arm({ operation: "PutItem", action: { type: "error", error: "InternalServerError" } });
    const k = key();
    const output = await putIfAbsent(k);
    expect(output.$metadata.attempts).toBe(2);
    expect(wire.fired()).toEqual([expect.objectContaining({ operation: "PutItem", action: "error" })]);
    expect(wire.requests("PutItem")).toHaveLength(2);
    expect(await read(k)).toBeDefined();
  });

  it.each<[DynamoErrorName, number]>([
    ["InternalServerError", 500],
    ["ThrottlingException", 400],
    ["ProvisionedThroughputExceededException", 400],
  ])("%s on every attempt reaches the caller as that error after the SDK's 3 attempts", async (error, status) => {
    wire.arm({ operation: "DynamoDB_20120810.PutItem", action: { type: "error", error }, count: 3 });
    const k = key();
    const thrown = await failure(putIfAbsent(k));
    expect(thrown.name).toBe(error);
    expect(thrown.$metadata?.attempts).toBe(3);
    expect((thrown.$metadata as { httpStatusCode?: number }).httpStatusCode).toBe(status);
    expect(wire.fired({ action: "error" })).toHaveLength(3);
    expect(wire.unfired()).toBe(0);
    expect(await read(k)).toBeUndefined();
  });

  it("a transaction conflict on a single write is a TransactionConflictException, not retried", async () => {
    wire.arm({ operation: "UpdateItem", action: { type: "error", error: "TransactionConflict" } });
    const thrown = await failure(
      client.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: key(),
          UpdateExpression: "SET a = :a",
          ExpressionAttributeValues: { ":a": { S: "x" } },
        }),
      ),
    );
    expect(thrown.name).toBe("TransactionConflictException");
    expect(wire.fired()).toHaveLength(1);
    expect(wire.requests("UpdateItem")).toHaveLength(1);
  });

  it("a transaction conflict on TransactWriteItems cancels it with a TransactionConflict reason per item", async () => {
    wire.arm({
      operation: "TransactWriteItems",
      keyPrefix: "TX#",
      action: { type: "error", error: "TransactionConflict" },
    });
    const thrown = await failure(
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: TABLE, Item: key("TX#") } },
            { Put: { TableName: TABLE, Item: key("TX#") } },
          ],
        }),
      ),
    );
    expect(thrown).toBeInstanceOf(TransactionCanceledException);
    expect((thrown as TransactionCanceledException).CancellationReasons?.map((reason) => reason.Code)).toEqual([
      "TransactionConflict",
      "TransactionConflict",
    ]);
    expect(wire.fired()).toHaveLength(1);
  });

  it("a reset before forwarding is resent by the SDK, and the table sees the write once", async () => {
    wire.arm({ operation: "PutItem", action: { type: "reset" } });
    const k = key();
    const output = await putIfAbsent(k); // the condition holds on the resend: the first never arrived
    expect(output.$metadata.attempts).toBe(2);
    expect(wire.fired({ action: "reset" })).toHaveLength(1);
    expect(await read(k)).toBeDefined();
  });

  it("a dropped answer after the table applied the write: the SDK's resend meets the write it already made", async () => {
    wire.arm({ operation: "PutItem", action: { type: "drop_response" } });
    const k = key();
    const thrown = await failure(putIfAbsent(k));
    expect(thrown).toBeInstanceOf(ConditionalCheckFailedException);
    expect(thrown.$metadata?.attempts).toBe(2);
    expect(wire.fired({ action: "drop_response" })).toHaveLength(1);
    const [first, resent] = wire.requests("PutItem");
    expect(resent?.body).toBe(first?.body); // the same request, resent by the SDK
    expect(await read(k)).toBeDefined();
  });

  it("an answer held past the client's requestTimeout: the SDK gives up, resends, and meets its own write", async () => {
    // Only here a shorter requestTimeout (500 ms): the test is about the proxy, not the code under test.
    const quick = new DynamoDBClient({
      region: "us-east-1",
      endpoint: wire.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 500, throwOnRequestTimeout: true },
    });
    try {
      wire.arm({ operation: "PutItem", action: { type: "late_response", ms: 1_000 } });
      const k = key();
      const thrown = await failure(putIfAbsent(k, quick));
      expect(thrown).toBeInstanceOf(ConditionalCheckFailedException);
      expect(wire.fired({ action: "late_response" })).toHaveLength(1);
      expect(wire.requests("PutItem")).toHaveLength(2);
    } finally {
      quick.destroy();
    }
  });

  it("a slow answer arrives late but arrives, on the first attempt", async () => {
    wire.arm({ operation: "GetItem", action: { type: "slow", ms: 200 } });
    const started = Date.now();
    const output = await client.send(new GetItemCommand({ TableName: TABLE, Key: key() }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(output.$metadata.attempts).toBe(1);
    expect(wire.fired({ action: "slow" })).toHaveLength(1);
  });

  it("a fault armed for a key prefix spares other keys and fires on the first matching one", async () => {
    wire.arm({
      operation: "PutItem",
      keyPrefix: "IDEMPOTENCY#",
      action: { type: "error", error: "ThrottlingException" },
    });
    await putIfAbsent(key("CUSTOMER#"));
    expect(wire.fired()).toHaveLength(0);
    expect(wire.unfired()).toBe(1);
    const output = await putIfAbsent(key("IDEMPOTENCY#"));
    expect(output.$metadata.attempts).toBe(2);
    expect(wire.fired()).toEqual([expect.objectContaining({ keys: [expect.stringMatching(/^IDEMPOTENCY#/)] })]);
  });

  it("a count of 2 is absorbed by the SDK's third attempt", async () => {
    wire.arm({ operation: "PutItem", action: { type: "error", error: "InternalServerError" }, count: 2 });
    expect((await putIfAbsent(key())).$metadata.attempts).toBe(3);
    expect(wire.fired()).toHaveLength(2);
  });
});

describe("index lag", () => {
  beforeAll(async () => {
    await wire.setLag({ table: TABLE, delay: ({ key: k }) => lagFor.get(k.pk?.S ?? "") ?? 0 });
  });
  afterAll(() => wire.setLag(undefined));

  const owned = (owner: string, id: string, sort: string) => ({
    pk: { S: `CUSTOMER#${id}` },
    sk: { S: "CUSTOMER" },
    gsi1pk: { S: `OWNER#${owner}` },
    gsi1sk: { S: sort },
  });
  const indexed = async (owner: string, extra: Partial<ConstructorParameters<typeof QueryCommand>[0]> = {}) => {
    const output = await client.send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: "gsi1",
        KeyConditionExpression: "gsi1pk = :owner",
        ExpressionAttributeValues: { ":owner": { S: `OWNER#${owner}` } },
        ...extra,
      }),
    );
    return output;
  };
  const ids = async (owner: string) => (await indexed(owner)).Items?.map((item) => item.pk?.S) ?? [];

  it("a just-written item is absent from an index query until its delay passes, then present", async () => {
    lagFor.set("CUSTOMER#fresh", 1_500);
    const item = owned("lag-fresh", "fresh", "2026-01-01");
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    expect(await read({ pk: item.pk, sk: item.sk })).toBeDefined(); // the table itself is consistent
    expect(await ids("lag-fresh")).toEqual([]);
    clock += 1_499;
    expect(await ids("lag-fresh")).toEqual([]);
    clock += 1;
    expect(await ids("lag-fresh")).toEqual(["CUSTOMER#fresh"]);
    expect(wire.lagPending()).toBe(0);
  });

  it("an update moves an item's index entry only after the delay", async () => {
    const item = owned("lag-from", "moved", "a");
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    expect(await ids("lag-from")).toEqual(["CUSTOMER#moved"]);
    lagFor.set("CUSTOMER#moved", 800);
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: item.pk, sk: item.sk },
        UpdateExpression: "SET gsi1pk = :to",
        ExpressionAttributeValues: { ":to": { S: "OWNER#lag-to" } },
      }),
    );
    expect(await ids("lag-from")).toEqual(["CUSTOMER#moved"]);
    expect(await ids("lag-to")).toEqual([]);
    clock += 800;
    expect(await ids("lag-from")).toEqual([]);
    expect(await ids("lag-to")).toEqual(["CUSTOMER#moved"]);
  });

  it("a deleted item lingers in the index until the delay passes", async () => {
    const item = owned("lag-gone", "gone", "a");
    await client.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    lagFor.set("CUSTOMER#gone", 2_000);
    await client.send(new DeleteItemCommand({ TableName: TABLE, Key: { pk: item.pk, sk: item.sk } }));
    expect(await read({ pk: item.pk, sk: item.sk })).toBeUndefined();
    expect(await ids("lag-gone")).toEqual(["CUSTOMER#gone"]);
    clock += 2_000;
    expect(await ids("lag-gone")).toEqual([]);
  });

  it("an item's images reach the index in the order written, even when a later one has a shorter delay", async () => {
    const item = owned("lag-order", "ordered", "a");
    lagFor.set("CUSTOMER#ordered", 1_000);
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { ...item, v: { S: "1" } } }));
    lagFor.set("CUSTOMER#ordered", 0);
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { ...item, v: { S: "2" } } }));
    expect(await ids("lag-order")).toEqual([]);
    clock += 1_000;
    expect((await indexed("lag-order")).Items?.map((row) => row.v?.S)).toEqual(["2"]);
  });

  it("pages through the lagged index with Limit, ordering and LastEvaluatedKey", async () => {
    for (const sort of ["c", "a", "d", "b", "e"]) {
      await client.send(new PutItemCommand({ TableName: TABLE, Item: owned("lag-pages", `page-${sort}`, sort) }));
    }
    const seen: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    let pages = 0;
    do {
      const page = await indexed("lag-pages", {
        Limit: 2,
        ScanIndexForward: false,
        ...(start ? { ExclusiveStartKey: start } : {}),
      });
      pages += 1;
      for (const row of page.Items ?? []) seen.push(row.gsi1sk?.S ?? "");
      start = page.LastEvaluatedKey;
    } while (start);
    expect(seen).toEqual(["e", "d", "c", "b", "a"]);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it("images of a write whose answer was dropped are queued too: the write applied", async () => {
    lagFor.set("CUSTOMER#dropped", 500);
    wire.arm({ operation: "PutItem", keyPrefix: "CUSTOMER#dropped", action: { type: "drop_response" } });
    await client.send(new PutItemCommand({ TableName: TABLE, Item: owned("lag-dropped", "dropped", "a") }));
    expect(wire.fired()).toHaveLength(1);
    expect(await ids("lag-dropped")).toEqual([]);
    clock += 500;
    expect(await ids("lag-dropped")).toEqual(["CUSTOMER#dropped"]);
  });
});
