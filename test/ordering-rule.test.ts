/**
 * The ordering rule (packages/core/src/customers/ordering.ts) as properties
 * over generated states and observations, with hostile instants (far-future,
 * extended-year, equal, negative), and the store applying it under a race:
 * a write between its read and its write makes it decide again.
 */
import { CustomerStore } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLOCK_SKEW_MS,
  FINAL_KYC_RANK,
  type IncomingOrder,
  nextAsOf,
  type OrderingState,
  order,
} from "../packages/core/src/customers/ordering.js";

const NOW = Date.parse("2026-12-04T00:00:00Z");
const instant = fc.oneof(
  fc.integer({ min: NOW - 3_600_000, max: NOW + 60_000 }),
  fc.constantFrom(NOW, NOW + CLOCK_SKEW_MS, NOW + CLOCK_SKEW_MS + 1, 8.64e15, Number.MAX_SAFE_INTEGER, 0),
);
const session = fc.option(fc.constantFrom("s1", "s2", "s3"), { nil: undefined });
const storedState: fc.Arbitrary<OrderingState> = fc.record({
  rank: fc.integer({ min: 0, max: 3 }),
  session,
  linkAt: fc.option(instant, { nil: undefined }),
  asOf: fc.integer({ min: NOW - 3_600_000, max: NOW + CLOCK_SKEW_MS }),
  lastSource: fc.option(fc.constantFrom("d1", "d2"), { nil: undefined }),
});
const incoming: fc.Arbitrary<IncomingOrder> = fc.record({
  rank: fc.integer({ min: 0, max: 3 }),
  session,
  linkIssuedAt: fc.option(instant, { nil: undefined }),
  asOf: instant,
  source: fc.option(fc.constantFrom("d1", "d2", "d3"), { nil: undefined }),
});

describe("order: the ordering rule's properties", () => {
  it("approved never moves back, whatever arrives", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        fc.pre(stored.rank === FINAL_KYC_RANK && next.rank < FINAL_KYC_RANK);
        expect(order(stored, next, NOW)).not.toBe("apply");
      }),
    );
  });

  it("the delivery applied last is a duplicate, whenever it comes again", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        fc.pre(next.source !== undefined && next.source === stored.lastSource);
        expect(order(stored, next, NOW)).toBe("duplicate");
      }),
    );
  });

  it("a read or event showing another session never replaces a session we opened after its instant", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        fc.pre(stored.session !== undefined && stored.linkAt !== undefined);
        fc.pre(next.session !== stored.session && next.linkIssuedAt === undefined);
        fc.pre(next.asOf <= stored.linkAt + CLOCK_SKEW_MS);
        expect(order(stored, next, NOW)).not.toBe("apply");
      }),
    );
  });

  it("no session never replaces a session", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        fc.pre(stored.session !== undefined && next.session === undefined);
        expect(order(stored, next, NOW)).not.toBe("apply");
      }),
    );
  });

  it("an observation dated beyond now plus the skew wins only by progress, and never moves the stored instant", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        fc.pre(next.asOf > NOW + CLOCK_SKEW_MS);
        fc.pre(next.session === stored.session);
        const verdict = order(stored, next, NOW);
        if (next.rank <= stored.rank) expect(verdict).not.toBe("apply");
        expect(nextAsOf(stored, next, NOW)).toBe(stored.asOf);
      }),
    );
  });

  it("the answer that issued a link later than the stored one replaces it; one issued earlier never does", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        fc.pre(stored.session !== undefined && stored.linkAt !== undefined);
        fc.pre(next.session !== undefined && next.session !== stored.session && next.linkIssuedAt !== undefined);
        fc.pre(stored.rank < FINAL_KYC_RANK && next.source === undefined);
        expect(order(stored, next, NOW)).toBe(next.linkIssuedAt > stored.linkAt ? "apply" : "stale");
      }),
    );
  });

  it("the stored instant never goes back", () => {
    fc.assert(
      fc.property(storedState, incoming, (stored, next) => {
        expect(nextAsOf(stored, next, NOW)).toBeGreaterThanOrEqual(stored.asOf);
      }),
    );
  });

  it("the answer that issued the stored link but lost the race still leaves its issue instant", () => {
    const stored: OrderingState = { rank: 3, session: "s1", linkAt: undefined, asOf: NOW, lastSource: "d1" };
    const ours: IncomingOrder = { rank: 1, session: "s1", linkIssuedAt: NOW - 5, asOf: NOW - 10, source: undefined };
    expect(order(stored, ours, NOW)).toBe("bookkeeping");
    expect(order({ ...stored, linkAt: NOW - 5 }, ours, NOW)).toBe("stale");
  });
});

describe("CustomerStore.observe applies the rule under a race", () => {
  const TABLE = "ordering-race";
  const id = "0rdered0-0000-4000-8000-000000000001";
  let dynamo: EmbeddedDynamo;
  let store: CustomerStore;
  beforeAll(async () => {
    dynamo = await startEmbeddedDynamo();
    await ensureTable(dynamo.client, TABLE);
    store = new CustomerStore(dynamo.client, TABLE, [{ version: "v1", secret: "c".repeat(32) }]);
  });
  afterAll(() => dynamo.close());

  const customer = (status: string, link: string) => ({
    customer_id: id,
    email: "race@example.com",
    type: "individual",
    first_name: "Ada",
    last_name: "Lovelace",
    kycs: { status, kyc_flow_link: link },
  });

  it("a write between its read and its write makes it read and decide again (an approval is not overwritten)", async () => {
    await store.create("alice", { customer: customer("pending", "https://l/1"), asOf: NOW }, "idem", NOW);
    const known = await store.get(id);
    if (!known) throw new Error("no record");
    // Another writer approves the customer after our read (version 1 -> 2).
    const approve = store.observeUpdate(known, { customer: customer("approved", "https://l/1"), asOf: NOW + 1 }, NOW);
    if (!approve) throw new Error("approval not planned");
    await dynamo.client.send(new UpdateItemCommand(approve.update));
    // Our pending observation, planned on the old read, must not land on the approval.
    const result = await store.observe(id, { customer: customer("pending", "https://l/1"), asOf: NOW + 2 }, NOW, known);
    expect(result).toBe("stale");
    expect((await store.get(id))?.customer.kycs?.status).toBe("approved");
    expect((await store.get(id))?.version).toBe(2);
  });
});
