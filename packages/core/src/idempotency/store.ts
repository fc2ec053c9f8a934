import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type Update,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { now as clockNow } from "../clock.js";
import { conditionalWrite, type DynamoSender } from "../conditional-write.js";
import { ItemKind, itemKey } from "../table.js";

/** Results are kept this long, as Stripe does. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** The answer stored for replay (request id excluded: a replay gets its own). */
export interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The states of an idempotency record (attribute `state`):
 *
 * ```
 *             begin                  complete(token)
 *  (absent) ─────────▶ locked ───────────────────────▶ completed ──▶ replayed for 24 h
 *     ▲                │  ▲ │
 *     │ release(token) │  │ │ release(token, uncertain)
 *     └────────────────┘  │ ▼
 *                         open          (an attempt may have changed Align)
 *          begin (uncertain)│
 *                           └──▶ locked
 * ```
 * - `locked`: an invocation holds it (`lock_token`) until `lease_expires_at`.
 *   Past the lease, a request with the same fingerprint takes it over as
 *   uncertain (the holder died, maybe after changing Align).
 * - `open`: released after an unknown outcome; the next attempt takes it as
 *   uncertain and converges before acting again.
 * - `completed`: the final answer, replayed as stored.
 * - Absent: never begun, released with nothing done, or expired (a record past
 *   `expires_at` counts as absent whether or not TTL has removed it).
 *
 * Completing and releasing are conditional on the holder's token, so an
 * invocation that outlived its lease cannot overwrite its successor's work.
 * The token stays on the record through `completed` and `open`, so every
 * write recognises its own earlier write when its condition fails: the AWS
 * SDK resends a write whose answer was lost (a 500, a request timeout), and
 * that resend finds the write already made, not "someone else".
 */
export const RecordState = {
  Locked: "locked",
  Open: "open",
  Completed: "completed",
} as const;
export type RecordState = (typeof RecordState)[keyof typeof RecordState];

export type BeginResult =
  /**
   * This invocation holds the lock. `uncertain`: an earlier attempt with this key may have changed Align;
   * `earlierAt`: when the attempt it takes over from began (epoch ms), where known.
   */
  | { kind: "acquired"; token: string; uncertain: boolean; earlierAt?: number }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "in_progress"; retryAfterSeconds: number }
  | { kind: "mismatch" };

type Item = Record<string, AttributeValue>;

/**
 * What `begin` may take: absent, expired, `open`, or `locked` past its lease
 * with the same fingerprint. Written flat (a disjunction of conjunctions):
 * equivalent to the nested form, and dynalite's parser backtracks on nested
 * brackets (milliseconds per request).
 */
export const BEGIN_CONDITION =
  "attribute_not_exists(pk) OR expires_at < :now_s OR (fingerprint = :fingerprint AND #state = :open) OR " +
  "(fingerprint = :fingerprint AND #state = :locked AND lease_expires_at < :now_ms)";

/** A conditional update of another item that belongs with a completion (see {@link IdempotencyStore.completeWith}). */
export type CompanionUpdate = Update;

export interface IdempotencyStoreOptions {
  /** The table takes TransactWriteItems (DynamoDB does, dynalite does not). Default false. */
  transactions?: boolean;
}

/**
 * Idempotency records in DynamoDB, with single-item conditional writes (and,
 * where the table has them, one transaction: {@link completeWith}). See
 * {@link RecordState}.
 *
 * @example
 * ```ts
 * const begun = await store.begin(id, fingerprint, Date.now() + context.getRemainingTimeInMillis());
 * if (begun.kind === "acquired") await store.complete(id, begun.token, response);
 * ```
 */
export class IdempotencyStore {
  readonly #db: DynamoSender;
  readonly #table: string;
  readonly #now: () => number;
  readonly #transactions: boolean;

  constructor(
    db: DynamoSender,
    tableName: string,
    now: () => number = clockNow,
    { transactions = false }: IdempotencyStoreOptions = {},
  ) {
    this.#db = db;
    this.#table = tableName;
    this.#now = now;
    this.#transactions = transactions;
  }

  /**
   * absent | expired | open | locked past its lease -> `locked`, or says why
   * not. One conditional PutItem; where the store does not return the old item
   * on a failed condition (dynalite), one consistent GetItem more.
   */
  async begin(id: string, fingerprint: string, leaseUntilMs: number): Promise<BeginResult> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#now();
      const nowSeconds = Math.floor(now / 1000);
      const token = randomUUID();
      try {
        const output = await this.#db.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: {
              ...itemKey(ItemKind.Idempotency, id),
              state: { S: RecordState.Locked },
              fingerprint: { S: fingerprint },
              lock_token: { S: token },
              lease_expires_at: { N: String(leaseUntilMs) },
              expires_at: { N: String(nowSeconds + IDEMPOTENCY_TTL_SECONDS) },
              created_at: { S: new Date(now).toISOString() },
            },
            ConditionExpression: BEGIN_CONDITION,
            ExpressionAttributeNames: { "#state": "state" },
            ExpressionAttributeValues: {
              ":now_s": { N: String(nowSeconds) },
              ":now_ms": { N: String(now) },
              ":open": { S: RecordState.Open },
              ":locked": { S: RecordState.Locked },
              ":fingerprint": { S: fingerprint },
            },
            ReturnValues: "ALL_OLD",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        const previous = output.Attributes;
        // Taking over a live `open` or `locked` record: an earlier attempt may have changed Align.
        const uncertain = previous !== undefined && Number(previous.expires_at?.N ?? 0) >= nowSeconds;
        if (!uncertain) return { kind: "acquired", token, uncertain };
        // The first attempt's start, carried across takeovers (a chain of dead attempts keeps the first).
        const earlierAt = Date.parse(previous.first_attempt_at?.S ?? previous.created_at?.S ?? "");
        if (Number.isNaN(earlierAt)) return { kind: "acquired", token, uncertain };
        await this.#db
          .send(
            new UpdateItemCommand({
              TableName: this.#table,
              Key: itemKey(ItemKind.Idempotency, id),
              UpdateExpression: "SET first_attempt_at = :first",
              ConditionExpression: "lock_token = :token",
              ExpressionAttributeValues: { ":first": { S: new Date(earlierAt).toISOString() }, ":token": { S: token } },
            }),
          )
          .catch(() => undefined); // only a hint for a later takeover: losing it costs nothing now
        return { kind: "acquired", token, uncertain, earlierAt };
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
        // Our own put, resent by the SDK after it had applied: the lock is ours. What it replaced was lost
        // with the first answer, so an earlier attempt may have run.
        if (current?.lock_token?.S === token) return { kind: "acquired", token, uncertain: true };
        if (!current || Number(current.expires_at?.N ?? 0) < nowSeconds) continue; // gone or expired meanwhile
        if (current.fingerprint?.S !== fingerprint) return { kind: "mismatch" };
        const state = current.state?.S;
        if (state === RecordState.Completed && current.response?.S) {
          return { kind: "replay", response: JSON.parse(current.response.S) as StoredResponse };
        }
        if (state === RecordState.Locked) {
          const leaseLeft = Number(current.lease_expires_at?.N ?? 0) - now;
          if (leaseLeft >= 0) {
            return { kind: "in_progress", retryAfterSeconds: Math.min(5, Math.max(1, Math.ceil(leaseLeft / 1000))) };
          }
        }
        // Released or past its lease between our write and our read: try to take it over.
      }
    }
    return { kind: "in_progress", retryAfterSeconds: 1 };
  }

  /**
   * `locked` -> `completed`: stores the final response. False when the lock
   * was lost (another invocation took over); true again for the same token
   * (its own completion, resent by the SDK).
   */
  async complete(id: string, token: string, response: StoredResponse): Promise<boolean> {
    if (await conditionalWrite(this.#db, new UpdateItemCommand(this.#completion(id, token, response)))) return true;
    return this.#completedBy(id, token);
  }

  /** Whether `token`'s completion is the one stored (its own write, resent by the SDK after it applied). */
  async #completedBy(id: string, token: string): Promise<boolean> {
    const current = await this.#read(id);
    return current?.state?.S === RecordState.Completed && current.lock_token?.S === token;
  }

  /**
   * {@link complete} together with `companion`, a conditional update of
   * another item that records what the operation did (KYC start: the
   * customer's new session). With transactions, one TransactWriteItems: both
   * or neither. Should only the companion's condition fail (a fresher copy is
   * stored), the record is completed alone, one write more; on a transaction
   * conflict, both are written one after the other. Without transactions
   * (dynalite), the companion first, then the completion.
   *
   * @returns `completed` (false: the lock was lost, and with transactions the
   * companion was not written) and whether the companion applied.
   */
  async completeWith(
    id: string,
    token: string,
    response: StoredResponse,
    companion: CompanionUpdate,
  ): Promise<{ completed: boolean; companionApplied: boolean }> {
    const completion = this.#completion(id, token, response);
    if (this.#transactions) {
      try {
        await this.#db.send(
          new TransactWriteItemsCommand({
            TransactItems: [{ Update: companion }, { Update: completion }],
            // The lock token completes once: DynamoDB answers the SDK's resend of this very transaction
            // (within 10 minutes) as the first, instead of running it again.
            ClientRequestToken: token,
          }),
        );
        return { completed: true, companionApplied: true };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [onCompanion, onCompletion] = (error.CancellationReasons ?? []).map((reason) => reason.Code);
        if (onCompletion === "ConditionalCheckFailed") {
          // Completed by this very transaction, resent after it applied (both items, atomically), or lost.
          const ours = await this.#completedBy(id, token);
          return { completed: ours, companionApplied: ours };
        }
        if (onCompanion === "ConditionalCheckFailed") {
          return { completed: await this.complete(id, token, response), companionApplied: false };
        }
        if (onCompanion !== "TransactionConflict" && onCompletion !== "TransactionConflict") throw error;
        // Another write to one of the items was under way: write them one after the other instead.
      }
    }
    const companionApplied = await conditionalWrite(this.#db, new UpdateItemCommand(companion));
    return { completed: await this.complete(id, token, response), companionApplied };
  }

  #completion(id: string, token: string, response: StoredResponse): Update {
    return {
      TableName: this.#table,
      Key: itemKey(ItemKind.Idempotency, id),
      UpdateExpression: "SET #state = :completed, #response = :response REMOVE lease_expires_at",
      ConditionExpression: "#state = :locked AND lock_token = :token",
      ExpressionAttributeNames: {
        "#state": "state",
        "#response": "response",
      },
      ExpressionAttributeValues: {
        ":completed": { S: RecordState.Completed },
        ":locked": { S: RecordState.Locked },
        ":response": { S: JSON.stringify(response) },
        ":token": { S: token },
      },
    };
  }

  /**
   * `locked` -> absent (nothing changed upstream: a retry runs afresh), or
   * `locked` -> `open` when the attempt may have changed Align (the retry
   * converges first). False when the lock was lost.
   */
  async release(id: string, token: string, uncertain: boolean): Promise<boolean> {
    if (!uncertain) {
      const deleted = await conditionalWrite(
        this.#db,
        new DeleteItemCommand({
          TableName: this.#table,
          Key: itemKey(ItemKind.Idempotency, id),
          ConditionExpression: "#state = :locked AND lock_token = :token",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":locked": { S: RecordState.Locked }, ":token": { S: token } },
        }),
      );
      // Gone: our own delete, resent by the SDK after it had applied.
      return deleted || (await this.#read(id)) === undefined;
    }
    const opened = await conditionalWrite(
      this.#db,
      new UpdateItemCommand({
        TableName: this.#table,
        Key: itemKey(ItemKind.Idempotency, id),
        UpdateExpression: "SET #state = :open REMOVE lease_expires_at",
        ConditionExpression: "#state = :locked AND lock_token = :token",
        ExpressionAttributeNames: { "#state": "state" },
        ExpressionAttributeValues: {
          ":open": { S: RecordState.Open },
          ":locked": { S: RecordState.Locked },
          ":token": { S: token },
        },
      }),
    );
    if (opened) return true;
    const current = await this.#read(id);
    return current?.state?.S === RecordState.Open && current.lock_token?.S === token;
  }

  async #read(id: string): Promise<Item | undefined> {
    const output = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: itemKey(ItemKind.Idempotency, id), ConsistentRead: true }),
    );
    return output.Item;
  }
}
