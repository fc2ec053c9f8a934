import type { Customer } from "@align-onboarding/align";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { conditionalWrite } from "../conditional-write.js";
import { ItemKind, itemKey, TableKeys } from "../table.js";

/** A customer we created, owned by the caller (`sub`) that created it. */
export interface CustomerRecord {
  customerId: string;
  owner: string;
  /** Align's customer, as last seen (from create, a KYC call, a refresh or a webhook). */
  customer: Customer;
  /** When we last had Align's state (epoch ms). */
  syncedAt: number;
  /** Align's `created_at` of the last KYC event applied, or when a refresh observed the state. */
  kycEventAt: string | undefined;
  createdAt: string;
  /** Increments on every write; guards read-modify-write. */
  version: number;
}

export interface CustomerPage {
  items: CustomerRecord[];
  /** Opaque; pass back to read the next page. */
  nextCursor: string | undefined;
}

type Item = Record<string, AttributeValue>;

/** Raised when a customer id is already recorded for another owner. */
export class CustomerOwnedElsewhereError extends Error {
  override name = "CustomerOwnedElsewhereError";
}

function decode(item: Item): CustomerRecord {
  return {
    customerId: item.customer_id?.S ?? "",
    owner: item.owner?.S ?? "",
    customer: JSON.parse(item.data?.S ?? "{}") as Customer,
    syncedAt: Number(item.synced_at?.N ?? 0),
    kycEventAt: item.kyc_event_at?.S,
    createdAt: item.created_at?.S ?? "",
    version: Number(item.version?.N ?? 0),
  };
}

/**
 * Customers in DynamoDB: one item per customer, found by id or through the
 * owner index. The Align customer (with the email, which is PII) is kept as a
 * JSON attribute, never in a key.
 */
export class CustomerStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, tableName: string) {
    this.#client = client;
    this.#table = tableName;
  }

  async get(customerId: string): Promise<CustomerRecord | undefined> {
    const output = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key: itemKey(ItemKind.Customer, customerId), ConsistentRead: true }),
    );
    return output.Item ? decode(output.Item) : undefined;
  }

  /**
   * Records `customer` as owned by `owner`. Idempotent for the same owner;
   * a record held by another owner is never overwritten.
   *
   * @throws {CustomerOwnedElsewhereError} when another owner holds it.
   */
  async create(owner: string, customer: Customer, now = Date.now()): Promise<CustomerRecord> {
    const createdAt = new Date(now).toISOString();
    const record: CustomerRecord = {
      customerId: customer.customer_id,
      owner,
      customer,
      syncedAt: now,
      kycEventAt: undefined,
      createdAt,
      version: 1,
    };
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: {
            ...itemKey(ItemKind.Customer, customer.customer_id),
            [TableKeys.ownerPartition]: { S: `OWNER#${owner}` },
            [TableKeys.ownerSort]: { S: `${createdAt}#${customer.customer_id}` },
            customer_id: { S: customer.customer_id },
            owner: { S: owner },
            data: { S: JSON.stringify(customer) },
            synced_at: { N: String(now) },
            created_at: { S: createdAt },
            version: { N: "1" },
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return record;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.get(customer.customer_id);
      if (existing?.owner === owner) return existing;
      throw new CustomerOwnedElsewhereError("Customer is recorded for another owner", { cause: error });
    }
  }

  /**
   * Replaces the stored Align customer with a fresher copy (Align's answer to
   * a call made at `askedAt`), only if nothing else wrote since `record` was
   * read (a webhook may have applied a newer status meanwhile). Returns the new
   * record, or undefined when it lost the race.
   */
  async replace(record: CustomerRecord, customer: Customer, askedAt: number): Promise<CustomerRecord | undefined> {
    // Stamped with when we *asked* Align: an event Align created after that may be newer than this
    // answer, so it must still apply (stamping the arrival time would wrongly make it look stale).
    const now = askedAt;
    const observedAt = new Date(now).toISOString();
    const written = await conditionalWrite(
      this.#client,
      new UpdateItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.Customer, record.customerId),
        UpdateExpression: "SET #data = :data, synced_at = :now, kyc_event_at = :observed, version = version + :one",
        ConditionExpression: "version = :version",
        ExpressionAttributeNames: { "#data": "data" },
        ExpressionAttributeValues: {
          ":data": { S: JSON.stringify(customer) },
          ":now": { N: String(now) },
          ":observed": { S: observedAt },
          ":one": { N: "1" },
          ":version": { N: String(record.version) },
        },
      }),
    );
    return written
      ? { ...record, customer, syncedAt: now, kycEventAt: observedAt, version: record.version + 1 }
      : undefined;
  }

  /**
   * Applies a KYC event: stores `customer` (Align's state as of `eventAt`) only
   * if no newer event (or observation) was applied, so out-of-order deliveries
   * never move a status backwards. Events with the same time apply in arrival
   * order: with a coarse clock they cannot be told apart otherwise.
   *
   * @returns `applied`, `stale` (a newer state is stored) or `unknown` (no such customer).
   */
  async applyEvent(
    customerId: string,
    customer: Customer,
    eventAt: string,
    now = Date.now(),
  ): Promise<"applied" | "stale" | "unknown"> {
    const applied = await conditionalWrite(
      this.#client,
      new UpdateItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.Customer, customerId),
        UpdateExpression: "SET #data = :data, synced_at = :now, kyc_event_at = :event_at, version = version + :one",
        ConditionExpression:
          "attribute_exists(pk) AND (attribute_not_exists(kyc_event_at) OR kyc_event_at <= :event_at)",
        ExpressionAttributeNames: { "#data": "data" },
        ExpressionAttributeValues: {
          ":data": { S: JSON.stringify(customer) },
          ":now": { N: String(now) },
          ":event_at": { S: eventAt },
          ":one": { N: "1" },
        },
      }),
    );
    if (applied) return "applied";
    return (await this.get(customerId)) ? "stale" : "unknown";
  }

  /** The owner's customers, newest first. */
  async listByOwner(owner: string, limit: number, cursor?: string): Promise<CustomerPage> {
    const output = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: TableKeys.ownerIndex,
        KeyConditionExpression: "#owner_pk = :owner",
        ExpressionAttributeNames: { "#owner_pk": TableKeys.ownerPartition },
        ExpressionAttributeValues: { ":owner": { S: `OWNER#${owner}` } },
        ScanIndexForward: false,
        Limit: limit,
        ...(cursor === undefined ? {} : { ExclusiveStartKey: decodeCursor(cursor) }),
      }),
    );
    return {
      items: (output.Items ?? []).map(decode),
      nextCursor: output.LastEvaluatedKey ? encodeCursor(output.LastEvaluatedKey) : undefined,
    };
  }
}

function encodeCursor(key: Item): string {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(key)) if (value.S !== undefined) flat[name] = value.S;
  return Buffer.from(JSON.stringify(flat)).toString("base64url");
}

/** @throws {Error} on a cursor we did not issue. */
export function decodeCursor(cursor: string): Item {
  const parsed: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  if (typeof parsed !== "object" || parsed === null) throw new Error("Invalid cursor");
  const key: Item = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value !== "string") throw new Error("Invalid cursor");
    key[name] = { S: value };
  }
  const expected = [TableKeys.partition, TableKeys.sort, TableKeys.ownerPartition, TableKeys.ownerSort];
  if (Object.keys(key).sort().join() !== [...expected].sort().join()) throw new Error("Invalid cursor");
  return key;
}
