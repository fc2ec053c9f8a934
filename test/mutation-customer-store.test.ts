/**
 * The customer store's rules pinned branch by branch (issue 17, mutation
 * testing): the as-of rule's window from both sides, what each write stores,
 * the projection's bounds and the list cursor's guards, against dynalite
 * through the real AWS SDK.
 */
import { createHmac } from "node:crypto";
import { CustomerStore } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CorruptRecordError,
  CustomerOwnedElsewhereError,
  InvalidCursorError,
  kycRank,
  projectCustomer,
} from "../packages/core/src/customers/customer-store.js";

const TABLE = "mutation-customers";
const SECRET = "cursor-secret";
const S = Date.parse("2026-01-01T00:00:00Z");
let dynamo: EmbeddedDynamo;
let store: CustomerStore;
let n = 0;
let id = "";

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  await ensureTable(dynamo.client, TABLE);
  store = new CustomerStore(dynamo.client, TABLE, [{ version: "v1", secret: SECRET }]);
});
afterAll(() => dynamo.close());
beforeEach(() => {
  id = `c0ffee00-0000-4000-8000-${String(++n).padStart(12, "0")}`;
});

const customer = (status?: string, extra: Record<string, unknown> = {}) => ({
  customer_id: id,
  email: `${id}@example.com`,
  type: "individual",
  first_name: "Ada",
  last_name: "Lovelace",
  kycs: status === undefined ? null : { status, kyc_flow_link: `https://kyc.example/${status}` },
  ...extra,
});
const itemOf = async (customerId = id) =>
  (
    await dynamo.client.send(
      new GetItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `CUSTOMER#${customerId}` }, sk: { S: "CUSTOMER" } },
        ConsistentRead: true,
      }),
    )
  ).Item;
const statusOf = async () => JSON.parse((await itemOf())?.data?.S ?? "{}").kycs?.status;

describe("CustomerStore.create", () => {
  it("writes the record with its owner index entry, instants, rank, creator and link instant", async () => {
    const record = await store.create(
      "alice",
      { customer: customer("pending"), asOf: S - 5, linkIssuedAt: S - 7 },
      "idem-1",
      S,
    );
    const item = await itemOf();
    const createdAt = new Date(S).toISOString();
    expect(item?.gsi1pk?.S).toBe("OWNER#alice");
    expect(item?.gsi1sk?.S).toBe(`${createdAt}#${id}`);
    expect(item?.owner?.S).toBe("alice");
    expect(item?.customer_id?.S).toBe(id);
    expect(item?.synced_at?.N).toBe(String(S));
    expect(item?.as_of?.N).toBe(String(S - 5));
    expect(item?.kyc_rank?.N).toBe("1");
    expect(item?.created_at?.S).toBe(createdAt);
    expect(item?.created_by?.S).toBe("idem-1");
    expect(item?.kyc_link_at?.N).toBe(String(S - 7));
    expect(record).toMatchObject({
      customerId: id,
      owner: "alice",
      syncedAt: S,
      asOf: S - 5,
      createdBy: "idem-1",
      kycLinkAt: S - 7,
    });
    const read = await store.get(id);
    expect(read).toEqual(record);
  });

  it("writes no creator and no link instant when there are none", async () => {
    await store.create("alice", { customer: customer(), asOf: S }, undefined, S);
    const item = await itemOf();
    expect(item?.created_by).toBeUndefined();
    expect(item?.kyc_link_at).toBeUndefined();
    expect(item?.kyc_rank?.N).toBe("0");
    const read = await store.get(id);
    expect(read?.createdBy).toBeUndefined();
    expect(read?.kycLinkAt).toBeUndefined();
  });

  it("for the same owner again, applies the observation and returns the updated record", async () => {
    await store.create("alice", { customer: customer(), asOf: S }, "idem-1", S);
    const again = await store.create(
      "alice",
      { customer: customer("approved"), asOf: S + 60_000 },
      "idem-2",
      S + 60_000,
    );
    expect(again.customer.kycs?.status).toBe("approved");
    expect(again.createdBy).toBe("idem-1"); // the record's creator is kept
    expect(again.syncedAt).toBe(S + 60_000);
  });

  it("for another owner, refuses and leaves the record untouched", async () => {
    await store.create("alice", { customer: customer(), asOf: S }, "idem-1", S);
    await expect(
      store.create("mallory", { customer: customer("approved"), asOf: S + 60_000 }, "idem-3", S + 60_000),
    ).rejects.toBeInstanceOf(CustomerOwnedElsewhereError);
    const refusal = await store
      .create("mallory", { customer: customer(), asOf: S }, "idem-3", S)
      .catch((error: unknown) => error);
    expect(refusal).toMatchObject({
      name: "CustomerOwnedElsewhereError",
      message: "Customer is recorded for another owner",
    });
    expect((refusal as Error).cause).toBeInstanceOf(ConditionalCheckFailedException);
    const item = await itemOf();
    expect(item?.owner?.S).toBe("alice");
    expect(item?.synced_at?.N).toBe(String(S));
  });

  it("a record gone between the refused put and the read back is not taken either", async () => {
    await store.create("alice", { customer: customer(), asOf: S }, "idem-1", S);
    const removeAfterRefusal = "removeAfterRefusal";
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if (context.commandName === "PutItemCommand" && error instanceof ConditionalCheckFailedException) {
            await dynamo.client.send(
              new DeleteItemCommand({ TableName: TABLE, Key: { pk: { S: `CUSTOMER#${id}` }, sk: { S: "CUSTOMER" } } }),
            );
          }
          throw error;
        }
      },
      { step: "initialize", name: removeAfterRefusal },
    );
    try {
      await expect(store.create("alice", { customer: customer(), asOf: S }, "idem-1", S)).rejects.toBeInstanceOf(
        CustomerOwnedElsewhereError,
      );
    } finally {
      dynamo.client.middlewareStack.remove(removeAfterRefusal);
    }
    expect(await itemOf()).toBeUndefined();
  });

  it("a lost get is no customer", async () => {
    expect(await store.get("00000000-0000-4000-8000-000000000000")).toBeUndefined();
  });
});

describe("CustomerStore.observe: the as-of rule, each bound from both sides", () => {
  const seed = async (status: string | undefined, asOf = S) => {
    await store.create("alice", { customer: customer(status), asOf }, "idem", S);
  };

  it("approved never moves back, however much later the observation", async () => {
    await seed("approved");
    expect(await store.observe(id, { customer: customer("pending"), asOf: S + 60_000 }, S + 60_000)).toBe("stale");
    expect(await store.observe(id, { customer: customer("rejected"), asOf: S + 60_000 }, S + 60_000)).toBe("stale");
    expect(await statusOf()).toBe("approved");
  });

  it("a lower progress replaces the stored one only when more than 10 s newer", async () => {
    await seed("rejected");
    expect(await store.observe(id, { customer: customer("pending"), asOf: S + 10_000 }, S + 1)).toBe("stale");
    expect(await statusOf()).toBe("rejected");
    expect(await store.observe(id, { customer: customer("pending"), asOf: S + 10_001 }, S + 2)).toBe("applied");
    expect(await statusOf()).toBe("pending");
    const item = await itemOf();
    expect(item?.as_of?.N).toBe(String(S + 10_001));
    expect(item?.synced_at?.N).toBe(String(S + 2));
    expect(item?.kyc_rank?.N).toBe("1");
  });

  it("a higher progress wins within 10 s before the stored instant, not beyond", async () => {
    await seed("pending");
    expect(await store.observe(id, { customer: customer("approved"), asOf: S - 10_001 })).toBe("stale");
    expect(await statusOf()).toBe("pending");
    expect(await store.observe(id, { customer: customer("approved"), asOf: S - 10_000 })).toBe("applied");
    expect(await statusOf()).toBe("approved");
  });

  it("at equal progress the later instant wins, a tie going to the arrival", async () => {
    await seed("pending");
    expect(await store.observe(id, { customer: customer("pending", { first_name: "Old" }), asOf: S - 1 })).toBe(
      "stale",
    );
    expect(await store.observe(id, { customer: customer("pending", { first_name: "Tie" }), asOf: S })).toBe("applied");
    expect(JSON.parse((await itemOf())?.data?.S ?? "{}").first_name).toBe("Tie");
  });

  it("ranks none < pending < rejected < approved, an unknown status as pending", async () => {
    expect(kycRank(null)).toBe(0);
    expect(kycRank(undefined)).toBe(0);
    expect(kycRank({ status: "pending" })).toBe(1);
    expect(kycRank({ status: "in_review" })).toBe(1);
    expect(kycRank({ status: "rejected" })).toBe(2);
    expect(kycRank({ status: "approved" })).toBe(3);
    await seed("rejected");
    expect(await store.observe(id, { customer: customer("mystery"), asOf: S + 5_000 })).toBe("stale");
    expect(await store.observe(id, { customer: customer("approved"), asOf: S - 5_000 })).toBe("applied");
  });

  it("a delivery already applied last is a duplicate; another delivery, or no source, is judged by the rule", async () => {
    await seed("pending");
    const event = { customer: customer("approved"), asOf: S + 1_000, source: "delivery-1" };
    expect(await store.observe(id, event)).toBe("applied");
    expect((await itemOf())?.last_source?.S).toBe("delivery-1");
    expect(await store.observe(id, event)).toBe("duplicate");
    expect(await store.observe(id, { ...event, source: "delivery-2" })).toBe("applied");
    expect(await store.observe(id, { ...event, asOf: S - 60_000, source: "delivery-3" })).toBe("stale");
    expect(await store.observe(id, { customer: customer("approved"), asOf: S + 2_000 })).toBe("applied");
    expect((await itemOf())?.last_source?.S).toBe("delivery-2");
  });

  it("a refused delivery on a record that never had one is stale, not a duplicate", async () => {
    await seed("approved");
    expect(await store.observe(id, { customer: customer("pending"), asOf: S - 60_000, source: "delivery-1" })).toBe(
      "stale",
    );
    expect((await itemOf())?.last_source).toBeUndefined();
  });

  it("records the link instant only when given, and answers unknown for no record", async () => {
    await seed("pending");
    await store.observe(id, { customer: customer("pending"), asOf: S + 1, linkIssuedAt: S + 1 });
    expect((await itemOf())?.kyc_link_at?.N).toBe(String(S + 1));
    await store.observe(id, { customer: customer("pending"), asOf: S + 2 });
    expect((await itemOf())?.kyc_link_at?.N).toBe(String(S + 1));
    expect(
      await store.observe("00000000-0000-4000-8000-0000000000ff", { customer: customer("pending"), asOf: S }),
    ).toBe("unknown");
  });
});

describe("projectCustomer: every field bounded", () => {
  it("keeps the document's types and statuses as they are", () => {
    for (const type of ["individual", "corporate"]) {
      for (const status of ["pending", "approved", "rejected"]) {
        const projected = projectCustomer({ customer_id: "c", email: "e", type, kycs: { status } } as never);
        expect([projected.type, projected.kycs?.status]).toEqual([type, status]);
      }
    }
  });

  it("caps each string to its bound and keeps nulls", () => {
    const long = (c: string) => c.repeat(5_000);
    const projected = projectCustomer({
      customer_id: long("i"),
      email: long("e"),
      type: long("t"),
      first_name: long("f"),
      last_name: null,
      company_name: long("c"),
      kycs: {
        status: long("s"),
        sub_status: long("u"),
        kyc_flow_link: long("l"),
        status_breakdown: Array.from({ length: 60 }, () => ({
          currency: long("x"),
          payment_rails: long("r"),
          status: long("y"),
        })),
      },
      extra: "dropped",
    } as never);
    expect(projected.customer_id).toHaveLength(128);
    expect(projected.email).toHaveLength(320);
    // Only the document's enums pass: an unknown type is left out, an unknown status reads as pending.
    expect(projected).not.toHaveProperty("type");
    expect(projected.first_name).toHaveLength(1024);
    expect(projected.last_name).toBeNull();
    expect(projected.company_name).toHaveLength(1024);
    expect(projected).not.toHaveProperty("extra");
    const kycs = projected.kycs;
    expect(kycs?.status).toBe("pending");
    expect(kycs?.sub_status).toHaveLength(128);
    expect(kycs?.kyc_flow_link).toHaveLength(4096);
    expect(kycs?.status_breakdown).toHaveLength(50);
    expect(kycs?.status_breakdown?.[0]).toEqual({
      currency: "x".repeat(64),
      payment_rails: "r".repeat(64),
      status: "y".repeat(64),
    });
  });

  it("leaves absent fields absent, keeps a null breakdown, fills missing strings with empty ones (a status with pending)", () => {
    const projected = projectCustomer({
      customer_id: 7,
      email: undefined,
      kycs: { status: 5, sub_status: null, kyc_flow_link: null, status_breakdown: null },
    } as never);
    expect(projected).toStrictEqual({
      customer_id: "",
      email: "",
      kycs: { status: "pending", sub_status: null, kyc_flow_link: null, status_breakdown: null },
    });
    const bare = projectCustomer({ customer_id: "x", email: "y", kycs: { status: "pending" } } as never);
    // Absent, not present as undefined.
    expect(bare).toStrictEqual({ customer_id: "x", email: "y", kycs: { status: "pending" } });
    const lines = projectCustomer({
      customer_id: "x",
      email: "y",
      kycs: { status: "pending", status_breakdown: [{ currency: 1, payment_rails: null, status: undefined }] },
    } as never);
    expect(lines.kycs?.status_breakdown).toEqual([{ currency: "", payment_rails: "", status: "" }]);
  });
});

describe("list cursors", () => {
  const key = createHmac("sha256", SECRET).update("align-onboarding/list-cursor").digest();
  const sign = (values: unknown) => {
    const payload = Buffer.from(typeof values === "string" ? values : JSON.stringify(values)).toString("base64url");
    const mac = createHmac("sha256", key).update(`v1.${payload}`).digest().subarray(0, 16).toString("base64url");
    return `v1.${payload}.${mac}`;
  };
  let lister = "";
  const owner = () => lister;
  const fill = async (count: number) => {
    lister = `lister-${n}`;
    for (let i = 0; i < count; i++) {
      id = `c0ffee00-0000-4000-8000-${String(++n).padStart(12, "0")}`;
      await store.create(owner(), { customer: customer(), asOf: S }, undefined, S + i * 1_000);
    }
  };

  it("issues a signed cursor naming the last key, and reads the next page with it", async () => {
    await fill(3);
    const first = await store.listByOwner(owner(), 2);
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).toBeDefined();
    const [version, payload] = String(first.nextCursor).split(".");
    expect(version).toBe("v1");
    const values = JSON.parse(Buffer.from(String(payload), "base64url").toString("utf8"));
    expect(values).toEqual([
      `CUSTOMER#${first.items[1]?.customerId}`,
      "CUSTOMER",
      `OWNER#${owner()}`,
      `${first.items[1]?.createdAt}#${first.items[1]?.customerId}`,
    ]);
    const second = await store.listByOwner(owner(), 2, first.nextCursor);
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeUndefined();
    // A correctly signed cursor of our own making is accepted too: the signature is what counts.
    const forged = await store.listByOwner(owner(), 2, sign(values));
    expect(forged.items.map((r) => r.customerId)).toEqual(second.items.map((r) => r.customerId));
  });

  it("refuses, each alone: another owner's cursor, a bad MAC, extra parts, and malformed signed payloads", async () => {
    await fill(1);
    const good = [`CUSTOMER#${id}`, "CUSTOMER", `OWNER#${owner()}`, `2026-01-01T00:00:00.000Z#${id}`];
    const refuse = async (cursor: string, as = owner()) => {
      const error = await store.listByOwner(as, 2, cursor).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidCursorError);
      expect(error).toMatchObject({ name: "InvalidCursorError", message: "Invalid cursor" });
      return error as Error;
    };
    await expect(store.listByOwner(owner(), 2, sign(good))).resolves.toBeDefined();
    await refuse(sign(good), "someone-else");
    const [version, payload, mac] = sign(good).split(".");
    await refuse(`${sign(good)}.extra`);
    await refuse(`${version}.${payload}.${Buffer.alloc(16).toString("base64url")}`);
    await refuse(`${version}.${payload}.${Buffer.alloc(15).toString("base64url")}`);
    await refuse(`${payload}.${mac}`);
    await refuse(`v2.${payload}.${mac}`);
    await refuse(`${version}.${payload}${mac}`);
    await refuse(`${version}..${mac}`);
    await refuse(`${version}.${payload}.`);
    // A signed payload that is not JSON: refused as a cursor (400), with the parse error as its cause.
    expect((await refuse(sign("not json"))).cause).toBeInstanceOf(SyntaxError);
    await refuse(sign({ 0: "a" }));
    await refuse(sign(good.slice(0, 3)));
    await refuse(sign([...good, "x"]));
    await refuse(sign([good[0], "", good[2], good[3]]));
    await refuse(sign([good[0], 5, good[2], good[3]]));
    await refuse(sign([good[0], ["CUSTOMER"], good[2], good[3]]));
  });
});

describe("what the store refuses to serve or follow", () => {
  const put = (item: Record<string, { S: string } | { N: string }>) =>
    dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: item }));

  for (const attribute of ["customer_id", "owner", "data", "synced_at", "as_of", "created_at"]) {
    it(`a stored customer without ${attribute} is a CorruptRecordError naming it, never blanks`, async () => {
      await store.create("alice", { customer: customer("pending"), asOf: S }, "idem-1", S);
      await dynamo.client.send(
        new UpdateItemCommand({
          TableName: TABLE,
          Key: { pk: { S: `CUSTOMER#${id}` }, sk: { S: "CUSTOMER" } },
          UpdateExpression: "REMOVE #attribute",
          ExpressionAttributeNames: { "#attribute": attribute },
        }),
      );
      const error = await store.get(id).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect(error).toMatchObject({ name: "CorruptRecordError", message: `Customer item without ${attribute}` });
    });
  }

  it("an attribute of the wrong type counts as missing", async () => {
    await store.create("alice", { customer: customer(), asOf: S }, "idem-1", S);
    await dynamo.client.send(
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: `CUSTOMER#${id}` }, sk: { S: "CUSTOMER" } },
        UpdateExpression: "SET synced_at = :text",
        ExpressionAttributeValues: { ":text": { S: "yesterday" } },
      }),
    );
    await expect(store.get(id)).rejects.toBeInstanceOf(CorruptRecordError);
  });

  it("findCreatedBy follows the index only to a table record of the same owner and creator", async () => {
    const owner = `finder-${n}`;
    const otherId = (k: number) => `c0ffee00-0000-4000-9000-${String(n * 10 + k).padStart(12, "0")}`;
    // Index entries (items of another kind in the owner's partition) naming records that do not qualify.
    const ghost = (k: number, customerId: string) =>
      put({
        pk: { S: `GHOST#${customerId}` },
        sk: { S: "GHOST" },
        gsi1pk: { S: `OWNER#${owner}` },
        // Older than every record below, so the index lists them first (it is read oldest first).
        gsi1sk: { S: `2025-12-0${k}T00:00:00.000Z#${customerId}` },
        customer_id: { S: customerId },
        created_by: { S: "idem-x" },
      });
    const record = async (customerId: string, recordOwner: string, createdBy: string) => {
      id = customerId;
      await store.create(recordOwner, { customer: customer(), asOf: S }, createdBy, S);
    };
    await record(otherId(1), "someone-else", "idem-x"); // another owner, the same creator
    await record(otherId(2), owner, "idem-y"); // the same owner, another creator
    await ghost(9, otherId(1));
    await ghost(8, otherId(2));
    await ghost(7, otherId(3)); // no record at all
    expect(await store.findCreatedBy(owner, "idem-x")).toBeUndefined();
    // Found past them.
    await record(otherId(4), owner, "idem-x");
    expect((await store.findCreatedBy(owner, "idem-x"))?.customerId).toBe(otherId(4));
  });

  it("findCreatedBy refuses an index entry without a customer id", async () => {
    const owner = `finder-${n}`;
    await put({
      pk: { S: `GHOST#${n}` },
      sk: { S: "GHOST" },
      gsi1pk: { S: `OWNER#${owner}` },
      gsi1sk: { S: `2026-01-01T00:00:00.000Z#${n}` },
      created_by: { S: "idem-x" },
    });
    await expect(store.findCreatedBy(owner, "idem-x")).rejects.toBeInstanceOf(CorruptRecordError);
  });
});
