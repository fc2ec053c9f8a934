import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { type Customer, KycStatus } from "@align-onboarding/align";
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type Update,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { now as clockNow } from "../clock.js";
import type { DynamoSender } from "../conditional-write.js";
import type { SigningSecret } from "../config.js";
import { queryItems } from "../query-pages.js";
import { ItemKind, itemKey, TableKeys } from "../table.js";
import { API_CUSTOMER_TYPES, API_KYC_STATUSES } from "./api-values.js";
import {
  CLOCK_SKEW_MS,
  type IncomingOrder,
  kycRank,
  nextAsOf,
  nextLinkAt,
  nextSession,
  type OrderingState,
  order,
  sessionOf,
  UNNAMED_SESSION,
} from "./ordering.js";

export { kycRank } from "./ordering.js";

/** A customer we created, owned by the caller (`sub`) that created it. */
export interface CustomerRecord {
  customerId: string;
  owner: string;
  /** Align's customer as last observed, projected to the fields we serve (see {@link projectCustomer}). */
  customer: Customer;
  /** When we last had Align's state (epoch ms, our clock): drives GET's refresh. */
  syncedAt: number;
  /** The instant of the Align observation the stored copy comes from (epoch ms; see `order` in ordering.ts). */
  asOf: number;
  /** The idempotency record whose create recorded it; undefined for a customer claimed otherwise. */
  createdBy: string | undefined;
  /** When the stored KYC link was issued to us (epoch ms), if we opened its session; else unknown. */
  kycLinkAt: number | undefined;
  /** The delivery last applied (a hash of its bytes), if the stored copy came from a webhook. */
  lastSource: string | undefined;
  /** The stored KYC session's identity (see `sessionOf` in ordering.ts). */
  kycSession: string | undefined;
  /** Counts the record's writes: every write after the first is conditional on the version it read. */
  version: number;
  createdAt: string;
}

export interface CustomerPage {
  items: CustomerRecord[];
  /** Opaque and signed; pass back to read the next page. */
  nextCursor: string | undefined;
}

/** An Align observation to record: Align's customer, and the instant it describes. */
export interface Observation {
  customer: Customer;
  /** Epoch ms: when we asked Align (our calls) or the event's `created_at` (webhooks, as sent). */
  asOf: number;
  /** Identifies a webhook delivery (a hash of its body): the same delivery again is a `duplicate`. */
  source?: string;
  /** When the observation's KYC link was issued, if we opened that session (see {@link CustomerRecord.kycLinkAt}). */
  linkIssuedAt?: number;
}

export type ObserveResult = "applied" | "stale" | "duplicate" | "unknown";

/** A write {@link CustomerStore.observeUpdate} decided on, to be sent elsewhere (with an idempotency completion). */
export interface PlannedObservation {
  /** The conditional update; its condition fails when the record changed since it was read. */
  update: Update;
  /** What the ordering rule decided (`apply` or `bookkeeping`). */
  verdict: "apply" | "bookkeeping";
}

type Item = Record<string, AttributeValue>;

/** Raised when a customer id is already recorded for another owner. */
export class CustomerOwnedElsewhereError extends Error {
  override name = "CustomerOwnedElsewhereError";
}

/** Raised for a list cursor we did not issue to this caller. */
export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}

/** Raised for a stored item that lacks an attribute every write sets: it is never served with blanks. */
export class CorruptRecordError extends Error {
  override name = "CorruptRecordError";
}

const cap = (value: unknown, max: number): string | undefined =>
  typeof value === "string" ? value.slice(0, max) : undefined;
const capNullable = (value: unknown, max: number): string | null | undefined =>
  value === null ? null : cap(value, max);

/** At most this many `status_breakdown` lines are kept (Align documents 3 currencies and 5 rails). */
const MAX_BREAKDOWN = 50;

/**
 * The fields of Align's customer we store and serve, each bounded, so a
 * record (and a stored response) stays far below DynamoDB's 400 KB item limit
 * whatever Align sends: about 20 KB at most.
 */
export function projectCustomer(customer: Customer): Customer {
  const kycs = customer.kycs;
  const optional = (name: string, value: string | null | undefined) => (value === undefined ? {} : { [name]: value });
  return {
    customer_id: cap(customer.customer_id, 128) ?? "",
    email: cap(customer.email, 320) ?? "",
    // Only the types and statuses the document lists (see response-schemas.ts): an unknown type is left
    // out, and an unknown status reads as pending, the rank the ordering gives it anyway.
    ...optional(
      "type",
      API_CUSTOMER_TYPES.find((type) => type === customer.type),
    ),
    ...optional("first_name", capNullable(customer.first_name, 1024)),
    ...optional("last_name", capNullable(customer.last_name, 1024)),
    ...optional("company_name", capNullable(customer.company_name, 1024)),
    kycs: kycs
      ? {
          status: API_KYC_STATUSES.find((status) => status === kycs.status) ?? KycStatus.Pending,
          ...optional("sub_status", capNullable(kycs.sub_status, 128)),
          ...optional("kyc_flow_link", capNullable(kycs.kyc_flow_link, 4096)),
          ...(Array.isArray(kycs.status_breakdown)
            ? {
                status_breakdown: kycs.status_breakdown.slice(0, MAX_BREAKDOWN).map((line) => ({
                  currency: cap(line.currency, 64) ?? "",
                  payment_rails: cap(line.payment_rails, 64) ?? "",
                  status: cap(line.status, 64) ?? "",
                })),
              }
            : kycs.status_breakdown === null
              ? { status_breakdown: null }
              : {}),
        }
      : null,
  } as Customer;
}

/** An attribute every customer write sets (the names only, never values, in the error). */
function required(item: Item, name: string, type: "S" | "N"): string {
  const value = (item[name] as Partial<Record<"S" | "N", string>> | undefined)?.[type];
  if (value === undefined) throw new CorruptRecordError(`Customer item without ${name}`);
  return value;
}

function decode(item: Item): CustomerRecord {
  return {
    customerId: required(item, "customer_id", "S"),
    owner: required(item, "owner", "S"),
    customer: JSON.parse(required(item, "data", "S")) as Customer,
    syncedAt: Number(required(item, "synced_at", "N")),
    asOf: Number(required(item, "as_of", "N")),
    createdBy: item.created_by?.S,
    kycLinkAt: item.kyc_link_at?.N === undefined ? undefined : Number(item.kyc_link_at.N),
    lastSource: item.last_source?.S,
    // Written with every copy; derived from the copy for items written before it was.
    kycSession: item.kyc_session?.S ?? sessionOf((JSON.parse(required(item, "data", "S")) as Customer).kycs),
    version: item.version?.N === undefined ? 0 : Number(item.version.N),
    createdAt: required(item, "created_at", "S"),
  };
}

function orderingState(record: CustomerRecord): OrderingState {
  return {
    rank: kycRank(record.customer.kycs),
    session: record.kycSession,
    linkAt: record.kycLinkAt,
    asOf: record.asOf,
    lastSource: record.lastSource,
  };
}

function incomingOrder(customer: Customer, observation: Observation): IncomingOrder {
  return {
    rank: kycRank(customer.kycs),
    session: sessionOf(customer.kycs),
    linkIssuedAt: observation.linkIssuedAt,
    asOf: observation.asOf,
    source: observation.source,
  };
}

/** The record's version condition: unchanged since it was read (items written before versions count as 0). */
function unchangedSince(version: number): { expression: string; values: Record<string, AttributeValue> } {
  return version === 0
    ? { expression: "attribute_exists(pk) AND attribute_not_exists(version)", values: {} }
    : { expression: "version = :version", values: { ":version": { N: String(version) } } };
}

/**
 * Customers in DynamoDB: one item per customer, found by id or through the
 * owner index. The Align customer (with the email, which is PII) is kept as a
 * JSON attribute, never in a key.
 *
 * One ordering rule covers every write after the first (create's read-back,
 * KYC start, GET's refresh, webhooks): `order` in ordering.ts, applied by
 * {@link CustomerStore.observe} as a read and a write conditional on the
 * version read.
 */
export class CustomerStore {
  readonly #db: DynamoSender;
  readonly #table: string;
  readonly #signingSecrets: () => readonly SigningSecret[];
  readonly #cursorKeys = new Map<string, Buffer>();

  /**
   * @param signingSecrets sign list cursors: our own versioned secrets, current first (read on
   * first use). A cursor names its version; the others still verify, so a rotation voids nothing.
   */
  constructor(
    db: DynamoSender,
    tableName: string,
    signingSecrets: readonly SigningSecret[] | (() => readonly SigningSecret[]),
  ) {
    this.#db = db;
    this.#table = tableName;
    this.#signingSecrets = typeof signingSecrets === "function" ? signingSecrets : () => signingSecrets;
  }

  async get(customerId: string): Promise<CustomerRecord | undefined> {
    const item = await this.#read(customerId);
    return item ? decode(item) : undefined;
  }

  async #read(customerId: string): Promise<Item | undefined> {
    const output = await this.#db.send(
      new GetItemCommand({ TableName: this.#table, Key: itemKey(ItemKind.Customer, customerId), ConsistentRead: true }),
    );
    return output.Item;
  }

  /**
   * Records Align's customer as owned by `owner`, made by idempotency record
   * `createdBy`. Idempotent for the same owner (the stored copy is then
   * updated by the as-of rule); a record held by another owner is never
   * touched.
   *
   * @throws {CustomerOwnedElsewhereError} when another owner holds it.
   */
  async create(
    owner: string,
    observation: Observation,
    createdBy: string | undefined,
    now = clockNow(),
  ): Promise<CustomerRecord> {
    const customer = projectCustomer(observation.customer);
    const createdAt = new Date(now).toISOString();
    const incoming = incomingOrder(customer, observation);
    const linkAt = incoming.session === undefined ? undefined : observation.linkIssuedAt;
    const record: CustomerRecord = {
      customerId: customer.customer_id,
      owner,
      customer,
      syncedAt: now,
      asOf: nextAsOf(undefined, incoming, now),
      createdBy,
      kycLinkAt: linkAt,
      lastSource: observation.source,
      kycSession: incoming.session,
      version: 1,
      createdAt,
    };
    try {
      await this.#db.send(
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
            as_of: { N: String(record.asOf) },
            kyc_rank: { N: String(incoming.rank) },
            version: { N: "1" },
            created_at: { S: createdAt },
            ...(createdBy === undefined ? {} : { created_by: { S: createdBy } }),
            ...(incoming.session === undefined ? {} : { kyc_session: { S: incoming.session } }),
            ...(linkAt === undefined ? {} : { kyc_link_at: { N: String(linkAt) } }),
            ...(observation.source === undefined ? {} : { last_source: { S: observation.source } }),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return record;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const existing = await this.get(customer.customer_id);
      if (existing?.owner !== owner) {
        throw new CustomerOwnedElsewhereError("Customer is recorded for another owner", { cause: error });
      }
      // Ours already (the SDK resent a put that had applied, or another attempt of this owner recorded it).
      await this.observe(customer.customer_id, observation, now, existing);
      return (await this.get(customer.customer_id)) ?? existing;
    }
  }

  /**
   * Records an Align observation of a recorded customer under the ordering
   * rule (`order` in ordering.ts): reads the record (or starts from `known`),
   * decides, and writes on condition that the record is unchanged since that
   * read; a concurrent write makes it read and decide again. A write of its
   * own that the SDK resent after it applied is recognised by its write id.
   *
   * @returns `applied` (the observation, or just its link's issue instant,
   * was written), `stale` (a newer copy is stored), `duplicate` (the same
   * delivery was the last applied) or `unknown` (no such record).
   */
  async observe(
    customerId: string,
    observation: Observation,
    now = clockNow(),
    known?: CustomerRecord,
  ): Promise<ObserveResult> {
    const writeId = randomUUID();
    let record = known;
    if (record === undefined) {
      // Most observations are simply newer within the same session: one write decides, no read first.
      const fast = await this.#observeNewer(customerId, observation, now, writeId);
      if (fast === "applied") return "applied";
      if (fast?.write_id?.S === writeId) return "applied";
      record = fast ? decode(fast) : undefined;
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      record ??= await this.get(customerId);
      if (!record) return "unknown";
      const planned = this.#plan(record, observation, now, writeId);
      if (!planned.update) return planned.verdict === "duplicate" ? "duplicate" : "stale";
      try {
        await this.#db.send(new UpdateItemCommand(planned.update));
        return "applied";
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const current = await this.#read(customerId);
      if (current?.write_id?.S === writeId) return "applied";
      record = current ? decode(current) : undefined;
    }
    // Five writers in a row changed it under us: the newest of them stands, and this is older than it.
    return "stale";
  }

  /**
   * One write for the common case, on a condition that implies the ordering
   * rule's `apply` (same session, progress and instant not behind the stored
   * ones, not the delivery applied last): `applied`, or the current item as
   * the refusal returned it (DynamoDB) or as read (dynalite), for the full
   * rule to decide; undefined when there is no such item, or when the
   * observation is not a candidate (no session, or no usable instant).
   */
  async #observeNewer(
    customerId: string,
    observation: Observation,
    now: number,
    writeId: string,
  ): Promise<"applied" | Item | undefined> {
    const customer = projectCustomer(observation.customer);
    const incoming = incomingOrder(customer, observation);
    if (incoming.session === undefined || incoming.asOf > now + CLOCK_SKEW_MS) return this.#read(customerId);
    const { source, linkIssuedAt } = observation;
    // One that does not show its link is of the stored session, whichever it is.
    const unnamed = incoming.session === UNNAMED_SESSION;
    const conditions = [
      unnamed ? "attribute_exists(kyc_session)" : "kyc_session = :session",
      "as_of <= :as_of",
      "kyc_rank <= :rank",
    ];
    if (source !== undefined) conditions.push("(attribute_not_exists(last_source) OR last_source <> :source)");
    const sets = ["#data = :data", "synced_at = :now", "as_of = :as_of", "kyc_rank = :rank", "write_id = :write_id"];
    if (source !== undefined) sets.push("last_source = :source");
    if (linkIssuedAt !== undefined) sets.push("kyc_link_at = if_not_exists(kyc_link_at, :link_at)");
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: itemKey(ItemKind.Customer, customerId),
          UpdateExpression: `SET ${sets.join(", ")} ADD version :one`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: { "#data": "data" },
          ExpressionAttributeValues: {
            ":data": { S: JSON.stringify(customer) },
            ":now": { N: String(now) },
            ":as_of": { N: String(incoming.asOf) },
            ":rank": { N: String(incoming.rank) },
            ...(unnamed ? {} : { ":session": { S: incoming.session } }),
            ":write_id": { S: writeId },
            ":one": { N: "1" },
            ...(source === undefined ? {} : { ":source": { S: source } }),
            ...(linkIssuedAt === undefined ? {} : { ":link_at": { N: String(linkIssuedAt) } }),
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return "applied";
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item ?? (await this.#read(customerId));
    }
  }

  /**
   * The write {@link observe} would make first, given the record as read: to
   * be sent elsewhere (with an idempotency completion; see
   * `IdempotencyStore.completeWith`), followed by {@link observe} if its
   * condition fails. Undefined when the ordering rule writes nothing.
   */
  observeUpdate(record: CustomerRecord, observation: Observation, now = clockNow()): PlannedObservation | undefined {
    const planned = this.#plan(record, observation, now, randomUUID());
    return planned.update && { update: planned.update, verdict: planned.verdict as "apply" | "bookkeeping" };
  }

  #plan(
    record: CustomerRecord,
    observation: Observation,
    now: number,
    writeId: string,
  ): { verdict: ReturnType<typeof order>; update?: Update } {
    const customer = projectCustomer(observation.customer);
    const stored = orderingState(record);
    const incoming = incomingOrder(customer, observation);
    const verdict = order(stored, incoming, now);
    const condition = unchangedSince(record.version);
    const base = {
      TableName: this.#table,
      Key: itemKey(ItemKind.Customer, record.customerId),
      ConditionExpression: condition.expression,
    };
    const version = { ":next": { N: String(record.version + 1) }, ":write_id": { S: writeId } };
    if (verdict === "bookkeeping") {
      return {
        verdict,
        update: {
          ...base,
          UpdateExpression: "SET kyc_link_at = :link_at, version = :next, write_id = :write_id",
          ExpressionAttributeValues: {
            ...condition.values,
            ...version,
            ":link_at": { N: String(incoming.linkIssuedAt) },
          },
        },
      };
    }
    if (verdict !== "apply") return { verdict };
    const linkAt = nextLinkAt(stored, incoming);
    const session = nextSession(stored, incoming);
    const sets = [
      "#data = :data",
      "synced_at = :now",
      "as_of = :as_of",
      "kyc_rank = :rank",
      "version = :next",
      "write_id = :write_id",
    ];
    const removes: string[] = [];
    if (session === undefined) removes.push("kyc_session");
    else sets.push("kyc_session = :session");
    if (linkAt === undefined) removes.push("kyc_link_at");
    else sets.push("kyc_link_at = :link_at");
    if (observation.source !== undefined) sets.push("last_source = :source");
    return {
      verdict,
      update: {
        ...base,
        UpdateExpression: `SET ${sets.join(", ")}${removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : ""}`,
        ExpressionAttributeNames: { "#data": "data" },
        ExpressionAttributeValues: {
          ...condition.values,
          ...version,
          ":data": { S: JSON.stringify(customer) },
          ":now": { N: String(now) },
          ":as_of": { N: String(nextAsOf(stored, incoming, now)) },
          ":rank": { N: String(incoming.rank) },
          ...(session === undefined ? {} : { ":session": { S: session } }),
          ...(linkAt === undefined ? {} : { ":link_at": { N: String(linkAt) } }),
          ...(observation.source === undefined ? {} : { ":source": { S: observation.source } }),
        },
      },
    };
  }

  /**
   * The customer `owner` recorded through idempotency record `createdBy`, if
   * any: found through the owner index (every page), confirmed by a consistent
   * read of the table. Used only to converge after an unknown outcome.
   */
  async findCreatedBy(owner: string, createdBy: string): Promise<CustomerRecord | undefined> {
    const items = queryItems(this.#db, {
      TableName: this.#table,
      IndexName: TableKeys.ownerIndex,
      KeyConditionExpression: "#owner_pk = :owner",
      FilterExpression: "created_by = :created_by",
      ExpressionAttributeNames: { "#owner_pk": TableKeys.ownerPartition },
      ExpressionAttributeValues: { ":owner": { S: `OWNER#${owner}` }, ":created_by": { S: createdBy } },
    });
    // The index only points: the table, read consistently, decides (an index can hold what the table
    // does not, e.g. dynalite after a kill between its two writes).
    for await (const item of items) {
      const record = await this.get(required(item, "customer_id", "S"));
      if (record?.owner === owner && record.createdBy === createdBy) return record;
    }
    return undefined;
  }

  /**
   * The owner's customers, newest first, each once and as the table holds it.
   *
   * The owner index only points: it may hold an entry the table no longer
   * matches (dynalite killed between an item's write and its index entry's;
   * DynamoDB's index is eventually consistent and may show an older copy).
   * So each page's entries name customers, the customers are read from the
   * table (one consistent BatchGetItem), and an entry whose item is gone, is
   * another owner's, or sits under another sort key is dropped, so a customer
   * appears once, at its own entry. Pages dropped short are filled from the
   * next entries, a few queries at most; the cursor is the last entry read.
   *
   * @throws {InvalidCursorError} for a cursor that this store did not issue to `owner`.
   */
  async listByOwner(owner: string, limit: number, cursor?: string): Promise<CustomerPage> {
    let start = cursor === undefined ? undefined : this.#decodeCursor(owner, cursor);
    const items: CustomerRecord[] = [];
    const seen = new Set<string>();
    for (let round = 0; round < MAX_LIST_QUERIES && items.length < limit; round++) {
      const output = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: TableKeys.ownerIndex,
          KeyConditionExpression: "#owner_pk = :owner",
          // The entry's pointer and position only: the customer itself comes from the table.
          ProjectionExpression: "customer_id, #owner_sk",
          ExpressionAttributeNames: { "#owner_pk": TableKeys.ownerPartition, "#owner_sk": TableKeys.ownerSort },
          ExpressionAttributeValues: { ":owner": { S: `OWNER#${owner}` } },
          ScanIndexForward: false,
          Limit: limit - items.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      const entries = output.Items ?? [];
      const current = await this.#readCustomers(entries.map((entry) => entry.customer_id?.S ?? ""));
      for (const entry of entries) {
        const customerId = entry.customer_id?.S;
        const item = customerId === undefined ? undefined : current.get(customerId);
        if (
          customerId === undefined ||
          item === undefined ||
          seen.has(customerId) ||
          item.owner?.S !== owner ||
          item[TableKeys.ownerPartition]?.S !== `OWNER#${owner}` ||
          item[TableKeys.ownerSort]?.S !== entry[TableKeys.ownerSort]?.S
        ) {
          continue;
        }
        seen.add(customerId);
        items.push(decode(item));
      }
      start = output.LastEvaluatedKey;
      if (!start) break;
    }
    return { items, nextCursor: start ? this.#encodeCursor(start) : undefined };
  }

  /** The table's items of these customers, read consistently in one BatchGetItem (plus its unprocessed keys). */
  async #readCustomers(customerIds: string[]): Promise<Map<string, Item>> {
    const found = new Map<string, Item>();
    // DynamoDB refuses a batch that names one key twice; two entries may point at one customer.
    let keys: Item[] | undefined = [...new Set(customerIds.filter((id) => id !== ""))].map((id) =>
      itemKey(ItemKind.Customer, id),
    );
    for (let attempt = 0; keys && keys.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(200, 20 * 2 ** attempt)));
      if (attempt >= MAX_BATCH_ATTEMPTS) throw new UnprocessedReadError("Customers left unread by BatchGetItem");
      const output: BatchGetItemCommandOutput = await this.#db.send(
        new BatchGetItemCommand({ RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of output.Responses?.[this.#table] ?? []) {
        const id = item.customer_id?.S;
        if (id !== undefined && item[TableKeys.partition]?.S === `${ItemKind.Customer}#${id}`) found.set(id, item);
      }
      keys = output.UnprocessedKeys?.[this.#table]?.Keys;
    }
    return found;
  }

  /** The MAC of `<version>.<payload>` under that version's secret; undefined for a version we do not hold. */
  #mac(version: string, payload: string): Buffer | undefined {
    let key = this.#cursorKeys.get(version);
    if (key === undefined) {
      const secret = this.#signingSecrets().find((candidate) => candidate.version === version)?.secret;
      if (secret === undefined) return undefined;
      key = createHmac("sha256", secret).update("align-onboarding/list-cursor").digest();
      this.#cursorKeys.set(version, key);
    }
    return createHmac("sha256", key).update(`${version}.${payload}`).digest().subarray(0, 16);
  }

  /**
   * `<version>.<payload>.<mac>` (payload and MAC base64url): the last key read, signed with the
   * current secret so a forged cursor never reaches DynamoDB.
   */
  #encodeCursor(key: Item): string {
    const values = CURSOR_FIELDS.map((name) => required(key, name, "S"));
    const payload = Buffer.from(JSON.stringify(values)).toString("base64url");
    const [current] = this.#signingSecrets();
    if (current === undefined) throw new TypeError("No signing secret");
    const mac = this.#mac(current.version, payload) as Buffer;
    return `${current.version}.${payload}.${mac.toString("base64url")}`;
  }

  #decodeCursor(owner: string, cursor: string): Item {
    const parts = cursor.split(".");
    if (parts.length !== 3) throw new InvalidCursorError("Invalid cursor");
    const [version, payload, mac] = parts as [string, string, string];
    // Signed by a secret we no longer (or never) held: refused like any forgery.
    const expected = this.#mac(version, payload);
    if (expected === undefined) throw new InvalidCursorError("Invalid cursor");
    const given = Buffer.from(mac, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new InvalidCursorError("Invalid cursor");
    }
    let values: unknown;
    try {
      values = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch (cause) {
      throw new InvalidCursorError("Invalid cursor", { cause });
    }
    if (
      !Array.isArray(values) ||
      values.length !== CURSOR_FIELDS.length ||
      !values.every((value) => typeof value === "string" && value.length > 0) ||
      values[2] !== `OWNER#${owner}`
    ) {
      throw new InvalidCursorError("Invalid cursor");
    }
    const key: Item = {};
    CURSOR_FIELDS.forEach((name, index) => {
      key[name] = { S: values[index] as string };
    });
    return key;
  }
}

/** Queries one list page may make when entries are dropped (each a Query and a BatchGetItem). */
const MAX_LIST_QUERIES = 4;
/** BatchGetItem rounds for keys DynamoDB left unprocessed (throttling) before giving up. */
const MAX_BATCH_ATTEMPTS = 5;

/** Raised when DynamoDB keeps leaving a batch read unprocessed (throttled): a 5xx, so the caller retries. */
export class UnprocessedReadError extends Error {
  override name = "UnprocessedReadError";
}

/** The attributes of a GSI page's last key, in cursor order (the owner partition third). */
const CURSOR_FIELDS = [TableKeys.partition, TableKeys.sort, TableKeys.ownerPartition, TableKeys.ownerSort] as const;
