import { createHash, randomUUID } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { conditionalWrite } from "../conditional-write.js";
import { ItemKind, itemKey } from "../table.js";

/** Receipts outlive any retry window Align could plausibly have (its schedule is undocumented). */
export const RECEIPT_TTL_SECONDS = 7 * 24 * 60 * 60;

/**
 * A delivery's identity. Align sends no event id, so a delivery is known by
 * its content: event type, entity, creation time and the body itself (two
 * different events in the same second, if Align's clock is that coarse, are
 * two deliveries; a retry of one event repeats its body).
 */
export function receiptId(eventType: string, entityId: string, createdAt: string, rawBody: Uint8Array): string {
  const body = createHash("sha256").update(rawBody).digest("hex");
  return createHash("sha256").update(`${eventType}\n${entityId}\n${createdAt}\n${body}`).digest("hex");
}

export type ClaimResult =
  | { kind: "claimed"; token: string }
  /** Already processed: answer 200 and do nothing. */
  | { kind: "duplicate" }
  /** Another invocation is processing it now; it may still fail, so this copy must not be acknowledged. */
  | { kind: "in_progress"; retryAfterSeconds: number };

/**
 * Webhook receipts: one item per delivery, claimed before processing with a
 * lease (so a receiver that died mid-way does not block Align's retry), marked
 * done after, and removed when processing fails. A copy that arrives while
 * another is being processed is not acknowledged: the first may still fail.
 */
export class ReceiptStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBClient, tableName: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  /** Claims the delivery, or says whether it was processed already or is being processed now. */
  async claim(id: string, eventType: string, leaseUntilMs: number): Promise<ClaimResult> {
    const now = this.#now();
    const token = randomUUID();
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: {
            ...itemKey(ItemKind.WebhookReceipt, id),
            status: { S: "processing" },
            event_type: { S: eventType },
            lock_token: { S: token },
            lease_expires_at: { N: String(leaseUntilMs) },
            received_at: { S: new Date(now).toISOString() },
            expires_at: { N: String(Math.floor(now / 1000) + RECEIPT_TTL_SECONDS) },
          },
          ConditionExpression:
            "attribute_not_exists(pk) OR expires_at < :now_s OR (#status = :processing AND lease_expires_at < :now_ms)",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":now_s": { N: String(Math.floor(now / 1000)) },
            ":now_ms": { N: String(now) },
            ":processing": { S: "processing" },
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { kind: "claimed", token };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) {
        // The write's outcome is unknown (say, the connection dropped): read it back.
        if ((await this.#read(id).catch(() => undefined))?.lock_token?.S === token) return { kind: "claimed", token };
        throw error;
      }
      const current = error.Item ?? (await this.#read(id));
      if (current?.status?.S === "processing") {
        const leaseLeft = Number(current.lease_expires_at?.N ?? 0) - now;
        return { kind: "in_progress", retryAfterSeconds: Math.min(30, Math.max(1, Math.ceil(leaseLeft / 1000))) };
      }
      return { kind: "duplicate" };
    }
  }

  async #read(id: string): Promise<Record<string, AttributeValue> | undefined> {
    const output = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key: itemKey(ItemKind.WebhookReceipt, id), ConsistentRead: true }),
    );
    return output.Item;
  }

  /** Marks the delivery processed, recording what happened. */
  async complete(id: string, token: string, outcome: string): Promise<void> {
    // A failed condition means another invocation took the receipt over after our lease: its outcome stands.
    await conditionalWrite(
      this.#client,
      new UpdateItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.WebhookReceipt, id),
        UpdateExpression: "SET #status = :done, outcome = :outcome REMOVE lock_token, lease_expires_at",
        ConditionExpression: "lock_token = :token",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":done": { S: "done" }, ":outcome": { S: outcome }, ":token": { S: token } },
      }),
    );
  }

  /** Forgets the delivery, so Align's retry is processed. */
  async remove(id: string, token: string): Promise<void> {
    // A failed condition means another invocation took the receipt over after our lease: its outcome stands.
    await conditionalWrite(
      this.#client,
      new DeleteItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.WebhookReceipt, id),
        ConditionExpression: "lock_token = :token",
        ExpressionAttributeValues: { ":token": { S: token } },
      }),
    );
  }
}
