/**
 * The idempotency store's rules, against dynalite through the real AWS SDK,
 * with a controllable clock.
 */
import { IDEMPOTENCY_TTL_SECONDS, IdempotencyStore } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const TABLE = "idempotency-test";
let dynamo: EmbeddedDynamo;
let now = 0;
let store: IdempotencyStore;
let n = 0;
let id = "";
const response = { statusCode: 201, headers: { "content-type": "application/json" }, body: '{"ok":true}' };

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  await ensureTable(dynamo.client, TABLE);
  store = new IdempotencyStore(dynamo.client, TABLE, () => now);
});
afterAll(() => dynamo.close());
beforeEach(() => {
  now = Date.parse("2026-01-01T00:00:00Z");
  id = `record-${++n}`;
});

async function acquire(fingerprint = "fp", leaseMs = 10_000) {
  const begun = await store.begin(id, fingerprint, now + leaseMs);
  if (begun.kind !== "acquired") throw new Error(`expected to acquire, got ${begun.kind}`);
  return begun;
}

describe("IdempotencyStore", () => {
  it("acquires a new key, and reports it in progress to a repeat", async () => {
    const first = await acquire();
    expect(first.uncertain).toBe(false);
    const repeat = await store.begin(id, "fp", now + 10_000);
    expect(repeat).toEqual({ kind: "in_progress", retryAfterSeconds: 5 });
  });

  it("replays a completed record and refuses another fingerprint", async () => {
    const first = await acquire();
    expect(await store.complete(id, first.token, response)).toBe(true);
    expect(await store.begin(id, "fp", now + 10_000)).toEqual({ kind: "replay", response });
    expect(await store.begin(id, "other-body", now + 10_000)).toEqual({ kind: "mismatch" });
  });

  it("completes and releases only with the holder's token", async () => {
    await acquire();
    expect(await store.complete(id, "not-the-token", response)).toBe(false);
    expect(await store.release(id, "not-the-token", false)).toBe(false);
    expect((await store.begin(id, "fp", now + 10_000)).kind).toBe("in_progress");
  });

  it("lets another invocation take over after the lease, and fences the late original", async () => {
    const crashed = await acquire("fp", 1_000);
    now += 1_001;
    const takeover = await acquire("fp");
    expect(takeover.uncertain).toBe(true); // the crashed holder may have done the work
    expect(await store.complete(id, crashed.token, { ...response, body: "late" })).toBe(false);
    expect(await store.release(id, crashed.token, false)).toBe(false);
    expect(await store.complete(id, takeover.token, response)).toBe(true);
    expect(await store.begin(id, "fp", now + 10_000)).toEqual({ kind: "replay", response });
  });

  it("tells each takeover when the first attempt began, across a chain of dead attempts", async () => {
    const first = now;
    await acquire("fp", 1_000);
    now += 1_001;
    const second = await acquire("fp", 1_000);
    expect(second).toMatchObject({ uncertain: true, earlierAt: first });
    now += 1_001;
    const third = await acquire("fp", 1_000);
    expect(third).toMatchObject({ uncertain: true, earlierAt: first });
  });

  it("does not take over an expired lease for another body", async () => {
    await acquire("fp", 1_000);
    now += 1_001;
    expect(await store.begin(id, "other-body", now + 10_000)).toEqual({ kind: "mismatch" });
  });

  it("counts a record past its 24 hours as absent, whether or not TTL removed it", async () => {
    const first = await acquire();
    await store.complete(id, first.token, response);
    now += 24 * 60 * 60 * 1000 + 1_000;
    const fresh = await acquire("a-new-body");
    expect(fresh.uncertain).toBe(false);
  });

  it("a certain release forgets the attempt; an uncertain one is remembered by the next holder", async () => {
    const first = await acquire();
    expect(await store.release(id, first.token, false)).toBe(true);
    expect((await acquire()).uncertain).toBe(false);

    id = `${id}-uncertain`;
    const second = await acquire();
    expect(await store.release(id, second.token, true)).toBe(true);
    const retry = await acquire();
    expect(retry.uncertain).toBe(true);
  });

  const stateOf = async (recordId: string) =>
    (
      await dynamo.client.send(
        new GetItemCommand({
          TableName: TABLE,
          Key: { pk: { S: `IDEMPOTENCY#${recordId}` }, sk: { S: "IDEMPOTENCY" } },
          ConsistentRead: true,
        }),
      )
    ).Item;

  it("names its state explicitly: locked, then open after an uncertain release, then completed", async () => {
    const first = await acquire();
    expect((await stateOf(id))?.state?.S).toBe("locked");
    expect(await store.release(id, first.token, true)).toBe(true);
    const open = await stateOf(id);
    expect(open?.state?.S).toBe("open");
    // The releasing holder's token stays, so its own resent release recognises itself (issue 21 #2).
    expect(open?.lock_token?.S).toBe(first.token);
    const second = await acquire();
    expect(second.uncertain).toBe(true);
    expect(await store.complete(id, second.token, response)).toBe(true);
    const done = await stateOf(id);
    expect(done?.state?.S).toBe("completed");
    expect(done?.lock_token?.S).toBe(second.token);
    expect(done?.lease_expires_at).toBeUndefined();
  });

  it("holds a lease to the millisecond: in progress at its last instant, taken over just after", async () => {
    await acquire("fp", 1_000);
    now += 1_000;
    expect((await store.begin(id, "fp", now + 1_000)).kind).toBe("in_progress");
    now += 1;
    const taken = await store.begin(id, "fp", now + 1_000);
    expect(taken).toMatchObject({ kind: "acquired", uncertain: true });
  });

  it("keeps a completed record exactly 24 hours", async () => {
    const first = await acquire();
    await store.complete(id, first.token, response);
    now += IDEMPOTENCY_TTL_SECONDS * 1000;
    expect((await store.begin(id, "fp", now + 1_000)).kind).toBe("replay");
    now += 1_000;
    expect(await store.begin(id, "fp", now + 1_000)).toMatchObject({ kind: "acquired", uncertain: false });
  });
});
