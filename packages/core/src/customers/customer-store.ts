import { createHmac, timingSafeEqual } from "node:crypto";
import { type Customer, KycStatus, type Kycs } from "@align-onboarding/align";
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
import { conditionalWrite, type DynamoSender } from "../conditional-write.js";
import type { SigningSecret } from "../config.js";
import { queryItems } from "../query-pages.js";
import { ItemKind, itemKey, TableKeys } from "../table.js";
import { API_CUSTOMER_TYPES, API_KYC_STATUSES } from "./api-values.js";

/** A customer we created, owned by the caller (`sub`) that created it. */
export interface CustomerRecord {
  customerId: string;
  owner: string;
  /** Align's customer as last observed, projected to the fields we serve (see {@link projectCustomer}). */
  customer: Customer;
  /** When we last had Align's state (epoch ms, our clock): drives GET's refresh. */
  syncedAt: number;
  /** The instant of the Align observation the stored copy comes from (epoch ms; see {@link CustomerStore.observe}). */
  asOf: number;
  /** The idempotency record whose create recorded it; undefined for a customer claimed otherwise. */
  createdBy: string | undefined;
  /** When the stored KYC link was issued to us (epoch ms), if we opened its session; else unknown. */
  kycLinkAt: number | undefined;
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
  /** Epoch ms: when we asked Align (our calls) or the event's `created_at` (webhooks, clamped). */
  asOf: number;
  /** Identifies a webhook delivery (a hash of its body): the same delivery again is a `duplicate`. */
  source?: string;
  /** When the observation's KYC link was issued, if we opened that session (see {@link CustomerRecord.kycLinkAt}). */
  linkIssuedAt?: number;
}

export type ObserveResult = "applied" | "stale" | "duplicate" | "unknown";

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

/**
 * Observations closer than this are ordered by KYC progress, not by their
 * instants: our own instants are when we *asked* (Align answered somewhat
 * later), and Align's clock may differ from ours by a little.
 */
export const OBSERVATION_WINDOW_MS = 10_000;

/** KYC progress: none < pending < rejected < approved (an unknown status counts as pending). */
const KYC_RANK = new Map<string, number>([
  ["pending", 1],
  ["rejected", 2],
  ["approved", 3],
]);
export function kycRank(kycs: Kycs | null | undefined): number {
  if (kycs === null || kycs === undefined) return 0;
  return KYC_RANK.get(kycs.status) ?? 1;
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
    createdAt: required(item, "created_at", "S"),
  };
}

/**
 * Customers in DynamoDB: one item per customer, found by id or through the
 * owner index. The Align customer (with the email, which is PII) is kept as a
 * JSON attribute, never in a key.
 *
 * One write rule covers every write after the first (create's read-back, KYC
 * start, GET's refresh, webhooks): see {@link CustomerStore.observe}.
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
    const record: CustomerRecord = {
      customerId: customer.customer_id,
      owner,
      customer,
      syncedAt: now,
      asOf: observation.asOf,
      createdBy,
      kycLinkAt: observation.linkIssuedAt,
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
            as_of: { N: String(observation.asOf) },
            kyc_rank: { N: String(kycRank(customer.kycs)) },
            created_at: { S: createdAt },
            ...(createdBy === undefined ? {} : { created_by: { S: createdBy } }),
            ...(observation.linkIssuedAt === undefined ? {} : { kyc_link_at: { N: String(observation.linkIssuedAt) } }),
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
      await this.observe(customer.customer_id, observation, now);
      return (await this.get(customer.customer_id)) ?? existing;
    }
  }

  /**
   * The as-of rule, the one write rule for a recorded customer: store Align's
   * customer as observed at `asOf` unless a fresher observation is stored.
   * - An observation more than {@link OBSERVATION_WINDOW_MS} newer than the
   *   stored one replaces it; one more than that older is refused.
   * - Within the window, KYC progress decides (none < pending < rejected <
   *   approved) and, at equal progress, the later instant (ties: arrival
   *   order). So a slow answer to an early question never undoes a later
   *   answer, and two events of one instant never move a status back.
   *
   * A delivery that was the last one applied (same `source`) is refused as a
   * `duplicate`, so a redelivery writes nothing.
   *
   * @returns `applied`, `stale` (a fresher copy is stored), `duplicate` or `unknown` (no such record).
   */
  async observe(customerId: string, observation: Observation, now = clockNow()): Promise<ObserveResult> {
    const applied = await conditionalWrite(
      this.#db,
      new UpdateItemCommand(this.observeUpdate(customerId, observation, now)),
    );
    if (applied) return "applied";
    const { source } = observation;
    const current = await this.#read(customerId);
    if (!current) return "unknown";
    return source !== undefined && current.last_source?.S === source ? "duplicate" : "stale";
  }

  /**
   * The conditional update {@link observe} makes, to be written elsewhere
   * (with an idempotency completion: see `IdempotencyStore.completeWith`).
   * Its condition fails when a fresher copy is stored or the record is gone.
   */
  observeUpdate(customerId: string, observation: Observation, now = clockNow()): Update {
    const customer = projectCustomer(observation.customer);
    const { asOf, source, linkIssuedAt } = observation;
    const sets = ["#data = :data", "synced_at = :now", "as_of = :as_of", "kyc_rank = :rank"];
    if (source !== undefined) sets.push("last_source = :source");
    if (linkIssuedAt !== undefined) sets.push("kyc_link_at = :link_at");
    return {
      TableName: this.#table,
      Key: itemKey(ItemKind.Customer, customerId),
      UpdateExpression: `SET ${sets.join(", ")}`,
      ConditionExpression:
        "attribute_exists(pk) AND (attribute_not_exists(as_of) OR as_of < :window_start OR " +
        "(as_of <= :window_end AND (kyc_rank < :rank OR (kyc_rank = :rank AND as_of <= :as_of))))" +
        (source === undefined ? "" : " AND (attribute_not_exists(last_source) OR last_source <> :source)"),
      ExpressionAttributeNames: { "#data": "data" },
      ExpressionAttributeValues: {
        ":data": { S: JSON.stringify(customer) },
        ":now": { N: String(now) },
        ":as_of": { N: String(asOf) },
        ":rank": { N: String(kycRank(customer.kycs)) },
        ":window_start": { N: String(asOf - OBSERVATION_WINDOW_MS) },
        ":window_end": { N: String(asOf + OBSERVATION_WINDOW_MS) },
        ...(source === undefined ? {} : { ":source": { S: source } }),
        ...(linkIssuedAt === undefined ? {} : { ":link_at": { N: String(linkIssuedAt) } }),
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
