import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  type PutItemCommandInput,
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
   * `earlierAt`: when the first attempt of the key began (epoch ms), carried across takeovers, where known.
   */
  | { kind: "acquired"; token: string; uncertain: boolean; earlierAt?: number }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "in_progress"; retryAfterSeconds: number }
  | { kind: "mismatch" };

type Item = Record<string, AttributeValue>;

/**
 * What a new key's lock may replace: nothing, or a record past its 24 hours
 * (forgotten). A live `open` record, or a lock past its lease, is taken over
 * by a second write conditioned on that record's token (`begin`).
 */
export const BEGIN_CONDITION = "attribute_not_exists(pk) OR expires_at < :now_s";

/** A conditional update of another item that belongs with a completion (see {@link IdempotencyStore.completeWith}). */
export type CompanionUpdate = Update;

/**
 * A lock's condition: fresh (nothing live there), or exactly the record it
 * replaces: its token, else (a record written without one) its creation.
 */
function lockCondition(
  replaced: Item | undefined,
  nowSeconds: number,
): Pick<PutItemCommandInput, "ConditionExpression" | "ExpressionAttributeValues"> {
  if (replaced === undefined) {
    return { ConditionExpression: BEGIN_CONDITION, ExpressionAttributeValues: { ":now_s": { N: String(nowSeconds) } } };
  }
  const token = replaced.lock_token?.S;
  if (token !== undefined) {
    return { ConditionExpression: "lock_token = :replaced", ExpressionAttributeValues: { ":replaced": { S: token } } };
  }
  const created = replaced.created_at?.S;
  return created === undefined
    ? { ConditionExpression: "attribute_not_exists(lock_token) AND attribute_not_exists(created_at)" }
    : {
        ConditionExpression: "attribute_not_exists(lock_token) AND created_at = :replaced",
        ExpressionAttributeValues: { ":replaced": { S: created } },
      };
}

/** A lock write's outcome: ours, or the item that refused it. */
type LockOutcome = { kind: "locked"; token: string } | { kind: "refused"; current: Item | undefined };

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
   * absent | expired -> `locked` (a fresh request); open | locked past its
   * lease -> `locked` (a takeover: `uncertain`, with the first attempt's
   * start), or says why not. One conditional PutItem for a fresh request; a
   * takeover is a second PutItem conditioned on the very lock it replaces, so
   * the first attempt's start is carried in the same write that takes the
   * lock: a chain of attempts that die at any point keeps it. Where the store
   * does not return the old item on a failed condition (dynalite), one
   * consistent GetItem more.
   */
  async begin(id: string, fingerprint: string, leaseUntilMs: number): Promise<BeginResult> {
    /** What the last refusal showed; undefined: nothing known, try a fresh lock. */
    let current: Item | undefined;
    for (let write = 0; write < 3; write++) {
      const now = this.#now();
      const live = current !== undefined && Number(current.expires_at?.N ?? 0) >= Math.floor(now / 1000);
      if (current !== undefined && live) {
        if (current.fingerprint?.S !== fingerprint) return { kind: "mismatch" };
        if (current.state?.S === RecordState.Completed && current.response?.S) {
          return { kind: "replay", response: JSON.parse(current.response.S) as StoredResponse };
        }
        const leaseLeft = Number(current.lease_expires_at?.N ?? 0) - now;
        if (current.state?.S === RecordState.Locked && leaseLeft >= 0) {
          return { kind: "in_progress", retryAfterSeconds: Math.min(5, Math.max(1, Math.ceil(leaseLeft / 1000))) };
        }
      }
      // Open, or locked past its lease: taken over by replacing exactly that record. A live one's earlier
      // attempt may have changed Align (`uncertain`); its first start is carried into our lock.
      const state = current?.state?.S;
      const leasePast = current?.lease_expires_at?.N !== undefined && Number(current.lease_expires_at.N) < now;
      const replaces =
        current?.fingerprint?.S === fingerprint &&
        (state === RecordState.Open || (state === RecordState.Locked && leasePast))
          ? current
          : undefined;
      const uncertain = replaces !== undefined && live;
      const earlier = uncertain ? Date.parse(replaces.first_attempt_at?.S ?? replaces.created_at?.S ?? "") : now;
      const earlierAt = Number.isNaN(earlier) ? undefined : earlier;
      const outcome = await this.#lock(id, fingerprint, leaseUntilMs, now, replaces, earlierAt);
      if (outcome.kind === "locked") {
        return {
          kind: "acquired",
          token: outcome.token,
          uncertain,
          ...(uncertain && earlierAt !== undefined ? { earlierAt } : {}),
        };
      }
      current = outcome.current;
    }
    return { kind: "in_progress", retryAfterSeconds: 1 };
  }

  /**
   * One conditional PutItem of a lock that records `firstAttemptAt` (when
   * known): fresh (nothing live there), or replacing exactly `replaced` (its
   * token, else its creation). `locked` when the write applied: also when the
   * SDK resent it after it had applied, or when the connection failed and a
   * read shows it; else the item that refused it (undefined: gone).
   */
  async #lock(
    id: string,
    fingerprint: string,
    leaseUntilMs: number,
    now: number,
    replaced: Item | undefined,
    firstAttemptAt: number | undefined,
  ): Promise<LockOutcome> {
    const nowSeconds = Math.floor(now / 1000);
    const token = randomUUID();
    try {
      await this.#db.send(
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
            ...(firstAttemptAt === undefined
              ? {}
              : { first_attempt_at: { S: new Date(firstAttemptAt).toISOString() } }),
          },
          ...lockCondition(replaced, nowSeconds),
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { kind: "locked", token };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) {
        // The write's outcome is unknown (say, the connection dropped): read it back.
        if ((await this.#read(id).catch(() => undefined))?.lock_token?.S === token) {
          return { kind: "locked", token };
        }
        throw error;
      }
      const current = error.Item ?? (await this.#read(id));
      // Our own put, resent by the SDK after it had applied: the lock is ours, and we know what it replaced.
      if (current?.lock_token?.S === token) return { kind: "locked", token };
      return { kind: "refused", current };
    }
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
