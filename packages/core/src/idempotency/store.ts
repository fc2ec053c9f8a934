import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { conditionalWrite } from "../conditional-write.js";
import { ItemKind, itemKey, TableKeys } from "../table.js";

/** Results are kept this long, as Stripe does. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** The answer stored for replay (request id excluded: a replay gets its own). */
export interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * What an attempt is about, indexed so a later recovery can see who else
 * attempted it. `subject` is a keyed hash (never the email itself).
 */
export interface Intent {
  owner: string;
  subject: string;
}

export type BeginResult =
  /** This invocation holds the lock. `uncertain`: an earlier attempt with this key may have run. */
  | { kind: "acquired"; token: string; uncertain: boolean }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "in_progress"; retryAfterSeconds: number }
  | { kind: "mismatch" };

const Status = { InProgress: "in_progress", Completed: "completed" } as const;

type Item = Record<string, AttributeValue>;

/**
 * Idempotency records in DynamoDB, with single-item conditional writes only
 * (no transactions, so it runs on dynalite too).
 *
 * A record is locked by a random token with a lease; completing or releasing
 * is conditional on the token, so an invocation that outlived its lease cannot
 * overwrite the work of the one that took over. Expired records count as
 * absent whether or not TTL has removed them.
 *
 * @example
 * ```ts
 * const begun = await store.begin(id, fingerprint, Date.now() + context.getRemainingTimeInMillis());
 * if (begun.kind === "acquired") await store.complete(id, begun.token, response);
 * ```
 */
export class IdempotencyStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBClient, tableName: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  /**
   * Takes the lock, or says why not. One conditional PutItem; where the store
   * does not return the old item on a failed condition (dynalite), one
   * consistent GetItem more.
   */
  async begin(id: string, fingerprint: string, leaseUntilMs: number, intent?: Intent): Promise<BeginResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#now();
      const nowSeconds = Math.floor(now / 1000);
      const token = randomUUID();
      try {
        const output = await this.#client.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: {
              ...itemKey(ItemKind.Idempotency, id),
              status: { S: Status.InProgress },
              fingerprint: { S: fingerprint },
              lock_token: { S: token },
              lease_expires_at: { N: String(leaseUntilMs) },
              expires_at: { N: String(nowSeconds + IDEMPOTENCY_TTL_SECONDS) },
              created_at: { S: new Date(now).toISOString() },
              ...(intent
                ? {
                    owner: { S: intent.owner },
                    [TableKeys.ownerPartition]: { S: `INTENT#${intent.subject}` },
                    [TableKeys.ownerSort]: { S: id },
                  }
                : {}),
            },
            ConditionExpression:
              "attribute_not_exists(pk) OR expires_at < :now_s OR " +
              "(#status = :in_progress AND lease_expires_at < :now_ms AND fingerprint = :fingerprint)",
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ":now_s": { N: String(nowSeconds) },
              ":now_ms": { N: String(now) },
              ":in_progress": { S: Status.InProgress },
              ":fingerprint": { S: fingerprint },
            },
            ReturnValues: "ALL_OLD",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        const previous = output.Attributes;
        // A live record was taken over: its holder crashed (still has a token) or released an unknown outcome.
        const uncertain =
          previous !== undefined &&
          Number(previous.expires_at?.N ?? 0) >= nowSeconds &&
          (previous.uncertain?.BOOL === true || previous.lock_token !== undefined);
        return { kind: "acquired", token, uncertain };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) {
          // The write's outcome is unknown (say, the connection dropped): read it back. Having lost the
          // old item, assume an earlier attempt may have run; that only enables convergence checks.
          if ((await this.#read(id).catch(() => undefined))?.lock_token?.S === token) {
            return { kind: "acquired", token, uncertain: true };
          }
          throw error;
        }
        const current = error.Item ?? (await this.#read(id));
        if (!current || Number(current.expires_at?.N ?? 0) < nowSeconds) continue; // gone or expired meanwhile
        if (current.fingerprint?.S !== fingerprint) return { kind: "mismatch" };
        if (current.status?.S === Status.Completed && current.response?.S) {
          return { kind: "replay", response: JSON.parse(current.response.S) as StoredResponse };
        }
        const leaseLeft = Number(current.lease_expires_at?.N ?? 0) - now;
        if (leaseLeft >= 0) {
          return { kind: "in_progress", retryAfterSeconds: Math.min(5, Math.max(1, Math.ceil(leaseLeft / 1000))) };
        }
        // The lease ran out between our write and our read: try to take over.
      }
    }
    return { kind: "in_progress", retryAfterSeconds: 1 };
  }

  /**
   * Who else has tried, in the last 24 hours, the operation an intent names
   * (for a create: the same email): the owners of the live records indexed
   * under `subject`. The index is eventually consistent, which is enough here:
   * an attempt is indexed long before another caller could find its result.
   */
  async intentOwners(subject: string): Promise<string[]> {
    const nowSeconds = Math.floor(this.#now() / 1000);
    const output = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: TableKeys.ownerIndex,
        KeyConditionExpression: "#intent = :intent",
        ExpressionAttributeNames: { "#intent": TableKeys.ownerPartition },
        ExpressionAttributeValues: { ":intent": { S: `INTENT#${subject}` } },
      }),
    );
    return (output.Items ?? [])
      .filter((item) => Number(item.expires_at?.N ?? 0) >= nowSeconds)
      .map((item) => item.owner?.S ?? "");
  }

  /** Stores the final response. False when the lock was lost (another invocation took over). */
  async complete(id: string, token: string, response: StoredResponse): Promise<boolean> {
    return conditionalWrite(
      this.#client,
      new UpdateItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.Idempotency, id),
        UpdateExpression:
          "SET #status = :completed, #response = :response REMOVE lock_token, lease_expires_at, uncertain",
        ConditionExpression: "lock_token = :token",
        ExpressionAttributeNames: { "#status": "status", "#response": "response" },
        ExpressionAttributeValues: {
          ":completed": { S: Status.Completed },
          ":response": { S: JSON.stringify(response) },
          ":token": { S: token },
        },
      }),
    );
  }

  /**
   * Gives the lock up without an outcome, so a retry with the same key runs
   * again. When the attempt may have changed something upstream, the record
   * stays, marked `uncertain`, so the retry knows to converge.
   */
  async release(id: string, token: string, uncertain: boolean): Promise<boolean> {
    if (!uncertain) {
      return conditionalWrite(
        this.#client,
        new DeleteItemCommand({
          TableName: this.#table,
          Key: itemKey(ItemKind.Idempotency, id),
          ConditionExpression: "lock_token = :token",
          ExpressionAttributeValues: { ":token": { S: token } },
        }),
      );
    }
    return conditionalWrite(
      this.#client,
      new UpdateItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.Idempotency, id),
        UpdateExpression: "SET uncertain = :true, lease_expires_at = :zero REMOVE lock_token",
        ConditionExpression: "lock_token = :token",
        ExpressionAttributeValues: { ":true": { BOOL: true }, ":zero": { N: "0" }, ":token": { S: token } },
      }),
    );
  }

  async #read(id: string): Promise<Item | undefined> {
    const output = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key: itemKey(ItemKind.Idempotency, id), ConsistentRead: true }),
    );
    return output.Item;
  }
}
