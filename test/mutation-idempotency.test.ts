/**
 * The idempotency rules pinned branch by branch (issue 17, mutation testing):
 * the store against dynalite through the real AWS SDK with a controllable
 * clock, and `runIdempotent` over that store, asserting what was written,
 * logged and counted.
 */

import {
  IDEMPOTENCY_KEY_PATTERN,
  IDEMPOTENCY_TTL_SECONDS,
  IdempotencyStore,
  Logger,
  ProblemError,
  requireIdempotencyKey,
} from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, startEmbeddedDynamo } from "@align-onboarding/local";
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type Update,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Disposition } from "../packages/core/src/http/problem.js";
import { canonicalJson, requestFingerprint, scopeId } from "../packages/core/src/idempotency/fingerprint.js";
import { type IdempotentCall, runIdempotent } from "../packages/core/src/idempotency/run.js";
import { installDynamoFaults } from "./support/dynamo-faults.js";
import { dynamoDbLocal, dynamoDbLocalSkip } from "./support/dynamodb-local.js";

const TABLE = "mutation-idempotency";
const local = dynamoDbLocal();
const T0 = Date.parse("2026-01-01T00:00:00Z");
let dynamo: EmbeddedDynamo;
let faults: ReturnType<typeof installDynamoFaults>;
let now = T0;
let store: IdempotencyStore;
let n = 0;
let id = "";
const response = { statusCode: 201, headers: { "content-type": "application/json" }, body: '{"ok":true}' };

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo();
  await ensureTable(dynamo.client, TABLE);
  faults = installDynamoFaults(dynamo.client as DynamoDBClient);
  store = new IdempotencyStore(dynamo.client, TABLE, () => now);
});
afterAll(() => dynamo.close());
beforeEach(() => {
  now = T0;
  id = `mut-${++n}`;
});
afterEach(() => faults.clear());

const key = (recordId: string) => ({ pk: { S: `IDEMPOTENCY#${recordId}` }, sk: { S: "IDEMPOTENCY" } });
const itemOf = async (recordId = id) =>
  (await dynamo.client.send(new GetItemCommand({ TableName: TABLE, Key: key(recordId), ConsistentRead: true }))).Item;

async function acquire(fingerprint = "fp", leaseMs = 10_000) {
  const begun = await store.begin(id, fingerprint, now + leaseMs);
  if (begun.kind !== "acquired") throw new Error(`expected to acquire, got ${begun.kind}`);
  return begun;
}

describe("IdempotencyStore.begin: what is written", () => {
  it("writes a locked record that expires exactly 24 hours (in seconds) after it began, with its lease in ms", async () => {
    now = T0 + 1_500; // 1.5 s past a whole second: the expiry counts from the floor of now
    const begun = await acquire("fp-1", 7_000);
    const item = await itemOf();
    expect(IDEMPOTENCY_TTL_SECONDS).toBe(86_400);
    expect(item?.expires_at?.N).toBe(String(Math.floor((T0 + 1_500) / 1000) + 86_400));
    expect(item?.lease_expires_at?.N).toBe(String(T0 + 1_500 + 7_000));
    expect(item?.created_at?.S).toBe(new Date(T0 + 1_500).toISOString());
    expect(item?.state?.S).toBe("locked");
    expect(item?.fingerprint?.S).toBe("fp-1");
    expect(item?.lock_token?.S).toBe(begun.token);
    // Nothing of an idempotency record is indexed.
    expect(item?.owner).toBeUndefined();
    expect(item?.gsi1pk).toBeUndefined();
    expect(item?.gsi1sk).toBeUndefined();
    expect(item?.intent_detail).toBeUndefined();
  });
});

describe("IdempotencyStore.begin: in progress and takeover", () => {
  it("tells a repeat to retry after the lease left, rounded up and bounded to 1..5 seconds", async () => {
    await acquire("fp", 2_500);
    expect(await store.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 3 });
    now += 2_300; // 200 ms left: at least 1 s
    expect(await store.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    now += 200; // the lease's very last millisecond: 0 ms left, still held
    expect(await store.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    id = `${id}-long`;
    await acquire("fp", 60_000);
    expect(await store.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 5 });
  });

  it("takes over an open record as uncertain up to its last second, and as new once it expired", async () => {
    const first = await acquire();
    expect(await store.release(id, first.token, true)).toBe(true);
    const expiresAt = Number((await itemOf())?.expires_at?.N);
    now = expiresAt * 1000; // the record's last second: still live, an earlier attempt may have acted
    const last = await acquire();
    expect(last.uncertain).toBe(true);
    expect(await store.release(id, last.token, true)).toBe(true);
    now = Number((await itemOf())?.expires_at?.N) * 1000 + 1_000; // one second past: absent
    const fresh = await acquire();
    expect(fresh.uncertain).toBe(false);
  });

  it("takes over a lock past its lease but in its 24 hours as uncertain, and a completed expired record as new", async () => {
    await acquire("fp", 1_000);
    now += 1_001;
    expect((await acquire("fp")).uncertain).toBe(true);
    id = `${id}-done`;
    const done = await acquire("fp");
    expect(await store.complete(id, done.token, response)).toBe(true);
    now += IDEMPOTENCY_TTL_SECONDS * 1000 + 1_000;
    const again = await acquire("another-body");
    expect(again.uncertain).toBe(false);
    expect((await itemOf())?.fingerprint?.S).toBe("another-body");
  });

  it("a takeover carries the first attempt's start in its own lock write: dying right after it loses nothing (long-run simulation, seed 20261208)", async () => {
    const first = now;
    await acquire("fp", 1_000);
    now += 1_001;
    // The second attempt takes over and dies at once: any write it would make after its lock never lands.
    faults.add({ command: "UpdateItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    expect(await acquire("fp", 1_000)).toMatchObject({ uncertain: true, earlierAt: first });
    expect((await itemOf())?.first_attempt_at?.S).toBe(new Date(first).toISOString());
    faults.clear();
    now += 1_001;
    // The third still learns when the first began: a KYC start's retry recognises the first attempt's session.
    expect(await acquire("fp", 1_000)).toMatchObject({ uncertain: true, earlierAt: first });
  });

  it("does not replay a completed record to another body, nor take a live lock for another body", async () => {
    await acquire("fp", 60_000);
    expect(await store.begin(id, "other", now + 1_000)).toEqual({ kind: "mismatch" });
    expect((await itemOf())?.fingerprint?.S).toBe("fp");
  });
});

describe("IdempotencyStore.begin: a write whose outcome is unknown", () => {
  it("a fresh lock that reached the table before the connection dropped is ours, certain (its condition says nothing live was there), with the stored token", async () => {
    faults.add({ command: "PutItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_after" });
    const begun = await store.begin(id, "fp", now + 10_000);
    expect(begun).toMatchObject({ kind: "acquired", uncertain: false });
    if (begun.kind !== "acquired") throw new Error("unreachable");
    expect((await itemOf())?.lock_token?.S).toBe(begun.token);
    expect(await store.complete(id, begun.token, response)).toBe(true);
  });

  it("a lock that never reached the table is the write's error, and nothing is stored", async () => {
    faults.add({ command: "PutItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    await expect(store.begin(id, "fp", now + 10_000)).rejects.toMatchObject({ code: "ECONNRESET" });
    expect(await itemOf()).toBeUndefined();
  });

  it("another holder's lock read back after a dropped write is not ours", async () => {
    const holder = await acquire("fp", 60_000);
    faults.add({ command: "PutItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    await expect(store.begin(id, "fp", now + 10_000)).rejects.toMatchObject({ code: "ECONNRESET" });
    expect((await itemOf())?.lock_token?.S).toBe(holder.token);
  });

  it("when the read-back fails too, the write's own error is the one thrown", async () => {
    faults.add({ command: "PutItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "throttle" });
    faults.add({ command: "GetItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    await expect(store.begin(id, "fp", now + 10_000)).rejects.toMatchObject({ name: "ThrottlingException" });
    expect(faults.injected()).toBeGreaterThanOrEqual(2);
  });
});

/** A sender over the real table that lets a racing writer act between our write and our read. */
function racingStore(race: (command: unknown) => Promise<void>) {
  const sender = {
    send: async (command: unknown) => {
      await race(command);
      // biome-ignore lint/suspicious/noExplicitAny: the SDK's overloads, forwarded as is
      return (dynamo.client as any).send(command);
    },
  } as unknown as DynamoDBClient;
  return new IdempotencyStore(sender, TABLE, () => now);
}
const putRecord = (recordId: string, attributes: Record<string, { S: string } | { N: string }>) =>
  dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...key(recordId), ...attributes } }));
/** A store on which `change` (another writer) runs once, just before the first read: after our refused write. */
function racedBeforeRead(change: () => Promise<unknown>) {
  let raced = false;
  const racing = racingStore(async (command) => {
    if (command instanceof GetItemCommand && !raced) {
      raced = true;
      await change();
    }
  });
  return { racing, raced: () => raced };
}
/** Sets one number attribute of the current record, as another writer would. */
const setNumber = (name: string, value: number) =>
  dynamo.client.send(
    new UpdateItemCommand({
      TableName: TABLE,
      Key: key(id),
      UpdateExpression: `SET ${name} = :value`,
      ExpressionAttributeValues: { ":value": { N: String(value) } },
    }),
  );

describe("IdempotencyStore.begin: races between the write and the read", () => {
  it("a record deleted between a refused write and the read is tried again and acquired as new", async () => {
    await acquire("fp", 60_000);
    const { racing, raced } = racedBeforeRead(() =>
      dynamo.client.send(new DeleteItemCommand({ TableName: TABLE, Key: key(id) })),
    );
    const begun = await racing.begin(id, "fp", now + 10_000);
    expect(begun).toMatchObject({ kind: "acquired", uncertain: false });
    expect(raced()).toBe(true);
  });

  it("a record that expired between a refused write and the read is tried again", async () => {
    await acquire("fp", 60_000);
    const { racing } = racedBeforeRead(() => setNumber("expires_at", Math.floor(now / 1000) - 1));
    const begun = await racing.begin(id, "other-body", now + 10_000);
    expect(begun).toMatchObject({ kind: "acquired", uncertain: false });
    expect((await itemOf())?.fingerprint?.S).toBe("other-body");
  });

  it("a lock that keeps being retaken and released under us gives up after three tries: retry in 1 s", async () => {
    const live = String(Math.floor(now / 1000) + 3_600);
    let puts = 0;
    const racing = racingStore(async (command) => {
      if (command instanceof PutItemCommand) {
        puts += 1;
        // Someone else locks it, live, just before each of our writes...
        await putRecord(id, {
          state: { S: "locked" },
          fingerprint: { S: "fp" },
          lock_token: { S: "theirs" },
          lease_expires_at: { N: String(now + 60_000) },
          expires_at: { N: live },
        });
      } else if (command instanceof GetItemCommand) {
        // ...and releases it as open before our read.
        await putRecord(id, { state: { S: "open" }, fingerprint: { S: "fp" }, expires_at: { N: live } });
      }
    });
    expect(await racing.begin(id, "fp", now + 10_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    expect(puts).toBe(3);
  });

  it("a completed record read back is replayed as stored", async () => {
    const first = await acquire();
    await store.complete(id, first.token, { ...response, body: '{"stored":1}' });
    expect(await store.begin(id, "fp", now + 1_000)).toEqual({
      kind: "replay",
      response: { ...response, body: '{"stored":1}' },
    });
  });
});

describe.skipIf(!local)(
  `IdempotencyStore.begin where a failed condition returns the old item (DynamoDB Local's ALL_OLD)${dynamoDbLocalSkip()}`,
  () => {
    it("decides from the returned item without reading it again", async () => {
      if (!local) return;
      const table = local.tableName("mutation-idempotency-old");
      await ensureTable(local.client, table);
      const reads: string[] = [];
      const client = new DynamoDBClient({
        endpoint: local.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      });
      client.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "GetItemCommand") reads.push("get");
          return next(args);
        },
        { step: "initialize", name: "countReads" },
      );
      try {
        const dynamoStore = new IdempotencyStore(client, table, () => now);
        const first = await dynamoStore.begin(id, "fp", now + 4_000);
        if (first.kind !== "acquired") throw new Error(`expected to acquire, got ${first.kind}`);
        expect(await dynamoStore.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 4 });
        expect(await dynamoStore.begin(id, "other", now + 1_000)).toEqual({ kind: "mismatch" });
        await dynamoStore.complete(id, first.token, response);
        expect(await dynamoStore.begin(id, "fp", now + 1_000)).toEqual({ kind: "replay", response });
        expect(reads).toEqual([]);
      } finally {
        client.destroy();
      }
    });
  },
);

describe("IdempotencyStore.begin over records missing attributes (written by hand or by an older version)", () => {
  /** Counts the writes begin makes. */
  function counting() {
    const puts: string[] = [];
    const gets: boolean[] = [];
    const sender = {
      send: (command: unknown) => {
        if (command instanceof PutItemCommand) puts.push("put");
        if (command instanceof GetItemCommand) gets.push(command.input.ConsistentRead === true);
        // biome-ignore lint/suspicious/noExplicitAny: the SDK's overloads, forwarded as is
        return (dynamo.client as any).send(command);
      },
    } as unknown as DynamoDBClient;
    return { store: new IdempotencyStore(sender, TABLE, () => now), puts, gets };
  }
  const liveSeconds = () => String(Math.floor(now / 1000) + 3_600);

  it("an open record without expires_at is taken over as certain (nothing says it is live)", async () => {
    await putRecord(id, { state: { S: "open" }, fingerprint: { S: "fp" } });
    expect(await store.begin(id, "fp", now + 1_000)).toMatchObject({ kind: "acquired", uncertain: false });
  });

  it("a refused write over a record without expires_at is retried as if it had expired, three times at most", async () => {
    await putRecord(id, {
      state: { S: "locked" },
      fingerprint: { S: "fp" },
      lock_token: { S: "t" },
      lease_expires_at: { N: String(now + 60_000) },
    });
    const { store: counted, puts } = counting();
    expect(await counted.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    expect(puts).toHaveLength(3);
  });

  it("a live record without a fingerprint is another request's", async () => {
    await putRecord(id, { state: { S: "locked" }, expires_at: { N: liveSeconds() } });
    expect(await store.begin(id, "fp", now + 1_000)).toEqual({ kind: "mismatch" });
  });

  it("a live record without a state, a completed one without a response, a lock without a lease: tried again", async () => {
    for (const attributes of [{}, { state: { S: "completed" } }, { state: { S: "locked" }, lock_token: { S: "t" } }]) {
      id = `${id}-x`;
      await putRecord(id, { fingerprint: { S: "other-fp" }, expires_at: { N: liveSeconds() }, ...attributes });
      const { store: counted, puts } = counting();
      expect(await counted.begin(id, "other-fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
      expect(puts).toHaveLength(3);
    }
  });

  it("a lock at its lease's last millisecond is in progress at once, without trying again", async () => {
    await acquire("fp", 1_000);
    now += 1_000;
    const { store: counted, puts, gets } = counting();
    expect(await counted.begin(id, "fp", now + 1_000)).toEqual({ kind: "in_progress", retryAfterSeconds: 1 });
    expect(puts).toHaveLength(1);
    // The read after a refused write is strongly consistent.
    expect(gets).toEqual([true]);
  });

  it("a lock whose lease ran out between the refused write and the read is taken over on the next try", async () => {
    await acquire("fp", 60_000);
    const { racing } = racedBeforeRead(() => setNumber("lease_expires_at", now - 1));
    expect(await racing.begin(id, "fp", now + 10_000)).toMatchObject({ kind: "acquired", uncertain: true });
  });

  it("after a dropped write, a completed record read back is not ours: the write's error is thrown", async () => {
    const first = await acquire();
    await store.complete(id, first.token, response);
    now += 1;
    faults.add({ command: "PutItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    await expect(store.begin(id, "fp", now + 10_000)).rejects.toMatchObject({ code: "ECONNRESET" });
  });
});

describe("IdempotencyStore: complete and release", () => {
  it("complete stores the response and drops the lease", async () => {
    const begun = await acquire("fp", 10_000);
    expect(await store.complete(id, begun.token, response)).toBe(true);
    const item = await itemOf();
    expect(item?.state?.S).toBe("completed");
    expect(JSON.parse(item?.response?.S ?? "null")).toEqual(response);
    // The holder's token stays: the same completion again (the SDK's resend) recognises itself; another's does not.
    expect(item?.lock_token?.S).toBe(begun.token);
    expect(item?.lease_expires_at).toBeUndefined();
    expect(await store.complete(id, begun.token, response)).toBe(true);
    expect(await store.complete(id, "someone-else", response)).toBe(false);
  });

  it("a certain release deletes the record; an uncertain one keeps it open with the holder's token, without a lease", async () => {
    const first = await acquire();
    expect(await store.release(id, first.token, false)).toBe(true);
    expect(await itemOf()).toBeUndefined();
    const second = await acquire();
    expect(await store.release(id, "someone-else", true)).toBe(false);
    expect((await itemOf())?.state?.S).toBe("locked");
    expect(await store.release(id, second.token, true)).toBe(true);
    const open = await itemOf();
    expect(open?.state?.S).toBe("open");
    expect(open?.lock_token?.S).toBe(second.token);
    expect(open?.lease_expires_at).toBeUndefined();
    // An open record is not locked: a certain release does not apply to it; the same uncertain release
    // again (the SDK's resend) recognises itself, another holder's does not.
    expect(await store.release(id, second.token, false)).toBe(false);
    expect(await store.release(id, second.token, true)).toBe(true);
    expect(await store.release(id, "someone-else", true)).toBe(false);
    expect((await itemOf())?.state?.S).toBe("open");
  });
});

describe("fingerprints and scope ids", () => {
  it("canonical JSON sorts keys at every depth and keeps arrays in order", () => {
    expect(canonicalJson({ b: 1, a: [3, { d: null, c: "x" }] })).toBe('{"a":[3,{"c":"x","d":null}],"b":1}');
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson("s")).toBe('"s"');
  });

  it("a fingerprint is the sha256 of method, path and canonical body, one per line", async () => {
    const { createHash } = await import("node:crypto");
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    expect(requestFingerprint("POST", "/customers", { b: 1, a: 2 })).toBe(sha('POST\n/customers\n{"a":2,"b":1}'));
    expect(scopeId("POST /customers", "user-a", "k1")).toBe(sha("POST /customers\nuser-a\nk1"));
  });
});

// --- runIdempotent over the real store -----------------------------------------------------------

interface Recorded {
  lines: Record<string, unknown>[];
  annotations: Record<string, unknown>[];
  counts: string[];
  reports: ProblemError[];
}

function callFor(recordId: string, overrides: Partial<IdempotentCall> = {}): { call: IdempotentCall; seen: Recorded } {
  const seen: Recorded = { lines: [], annotations: [], counts: [], reports: [] };
  const call: IdempotentCall = {
    store,
    id: recordId,
    fingerprint: "fp",
    leaseUntilMs: now + 10_000,
    requestId: "req-1",
    log: new Logger({}, "debug", (line) => seen.lines.push(JSON.parse(line) as Record<string, unknown>)),
    annotate: (fields) => seen.annotations.push(fields),
    count: (metric) => seen.counts.push(metric),
    report: (problem) => seen.reports.push(problem),
    ...overrides,
  };
  return { call, seen };
}
const ok = (body: unknown, requestId = "req-1") => ({
  statusCode: 201,
  headers: { "content-type": "application/json", "x-request-id": requestId },
  body: JSON.stringify(body),
});
async function problemOf(promise: Promise<unknown>): Promise<ProblemError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProblemError) return error;
    throw error;
  }
  throw new Error("expected a ProblemError");
}

describe("runIdempotent", () => {
  it("stores a success without its request id and replays it under the replay's own request id", async () => {
    const { call } = callFor(id);
    let runs = 0;
    const first = await runIdempotent(call, async (attempt) => {
      runs += 1;
      expect(attempt.uncertain).toBe(false);
      return ok({ n: 1 });
    });
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    const stored = JSON.parse((await itemOf())?.response?.S ?? "{}");
    expect(stored.headers).toEqual({ "content-type": "application/json" });
    const { call: again, seen } = callFor(id, { requestId: "req-2" });
    const replay = await runIdempotent(again, async () => {
      runs += 1;
      return ok({ n: 2 });
    });
    expect(runs).toBe(1);
    expect(replay).toEqual({
      statusCode: 201,
      headers: { "content-type": "application/json", "x-request-id": "req-2", "idempotent-replayed": "true" },
      body: '{"n":1}',
    });
    expect(seen.annotations).toEqual([{ event: "idempotent_replay" }]);
    expect(seen.counts).toEqual(["IdempotentReplays"]);
  });

  it("a stored problem names the replay's request id; a stored problem body that is not JSON is replayed as is", async () => {
    const { call, seen } = callFor(id);
    const stored = await runIdempotent(call, async () => {
      throw new ProblemError("upstream_rejected", { detail: "no" });
    });
    expect(stored.statusCode).toBe(422);
    expect(JSON.parse(stored.body).request_id).toBe("req-1");
    expect(seen.reports.map((p) => p.code)).toEqual(["upstream_rejected"]);
    const { call: again } = callFor(id, { requestId: "req-9" });
    const replay = await runIdempotent(again, async () => ok({}));
    expect(replay.statusCode).toBe(422);
    expect(JSON.parse(replay.body)).toMatchObject({ code: "upstream_rejected", request_id: "req-9" });

    id = `${id}-raw`;
    const { call: raw } = callFor(id);
    await runIdempotent(raw, async () => ({
      statusCode: 409,
      headers: { "content-type": "application/problem+json" },
      body: "not json",
    }));
    const { call: rawAgain } = callFor(id, { requestId: "req-10" });
    expect((await runIdempotent(rawAgain, async () => ok({}))).body).toBe("not json");
  });

  it("a repeat while the first runs is 409 in use with the lease's Retry-After; another body is 422", async () => {
    await acquire("fp", 3_000);
    const { call } = callFor(id);
    const inUse = await problemOf(runIdempotent(call, async () => ok({})));
    expect(inUse.code).toBe("idempotency_key_in_use");
    expect(inUse.retryAfter).toBe(3);
    const { call: other } = callFor(id, { fingerprint: "other" });
    expect((await problemOf(runIdempotent(other, async () => ok({})))).code).toBe("idempotency_key_reused");
  });

  it("a failure that changed nothing deletes the record; one that may have is released open", async () => {
    const { call } = callFor(id);
    const released = await problemOf(
      runIdempotent(call, async () => {
        throw new ProblemError("upstream_unavailable", { disposition: Disposition.Release });
      }),
    );
    expect(released.code).toBe("upstream_unavailable");
    expect(await itemOf()).toBeUndefined();

    const uncertain = await problemOf(
      runIdempotent(call, async () => {
        throw new ProblemError("upstream_error");
      }),
    );
    expect(uncertain.code).toBe("upstream_error");
    expect((await itemOf())?.state?.S).toBe("open");

    // After an uncertain release even a certain failure keeps the record open: the earlier attempt may have acted.
    const again = await problemOf(
      runIdempotent(call, async (attempt) => {
        expect(attempt.uncertain).toBe(true);
        throw new ProblemError("upstream_unavailable", { disposition: Disposition.Release });
      }),
    );
    expect(again.code).toBe("upstream_unavailable");
    expect((await itemOf())?.state?.S).toBe("open");
  });

  it("a release that fails is logged as a warning and the operation's problem still surfaces", async () => {
    const { call, seen } = callFor(id);
    faults.add({ command: "DeleteItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    const problem = await problemOf(
      runIdempotent(call, async () => {
        throw new ProblemError("upstream_unavailable", { disposition: Disposition.Release });
      }),
    );
    expect(problem.code).toBe("upstream_unavailable");
    expect(seen.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "idempotency release failed; the lease will expire" }),
    );
    expect((await itemOf())?.state?.S).toBe("locked");
  });

  it("a completion that fails releases the record as uncertain and answers 503 retry in 1 s", async () => {
    const { call, seen } = callFor(id);
    faults.add({ command: "UpdateItemCommand", keyPrefix: `IDEMPOTENCY#${id}`, kind: "drop_before" });
    const problem = await problemOf(runIdempotent(call, async () => ok({ made: true })));
    expect(problem.code).toBe("service_unavailable");
    expect(problem.retryAfter).toBe(1);
    expect(seen.lines).toContainEqual(
      expect.objectContaining({ level: "error", message: "idempotency completion failed; released as uncertain" }),
    );
    const item = await itemOf();
    expect(item?.state?.S).toBe("open");
    expect(item?.response).toBeUndefined();
  });

  it("a completion refused because the lock was taken over answers 409 in use, retry in 1 s, and stores nothing", async () => {
    const { call, seen } = callFor(id, { leaseUntilMs: now + 1_000 });
    const problem = await problemOf(
      runIdempotent(call, async () => {
        // The lease runs out while the operation works; a successor takes the record over.
        now += 1_001;
        const successor = await store.begin(id, "fp", now + 10_000);
        expect(successor).toMatchObject({ kind: "acquired", uncertain: true });
        return ok({ late: true });
      }),
    );
    expect(problem.code).toBe("idempotency_key_in_use");
    expect(problem.retryAfter).toBe(1);
    expect(seen.lines).toContainEqual(
      expect.objectContaining({ level: "warn", message: "idempotency lock lost before completion; result not stored" }),
    );
    const item = await itemOf();
    expect(item?.state?.S).toBe("locked");
    expect(item?.response).toBeUndefined();
  });
});

// --- completeWith: the completion together with a companion update (KYC start) ----------------------

const customerKey = (recordId = id) => ({ pk: { S: `CUSTOMER#${recordId}` }, sk: { S: "CUSTOMER" } });
const customerOf = async (recordId = id) =>
  (await dynamo.client.send(new GetItemCommand({ TableName: TABLE, Key: customerKey(recordId), ConsistentRead: true })))
    .Item;
/** A customer at version 1 with session `session-1`. */
const putCustomer = () =>
  dynamo.client.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { ...customerKey(), version: { N: "1" }, kyc_session: { S: "session-1" } },
    }),
  );
/** Moves the customer to `session-2` if it is still at `expectedVersion` (it is at 1). */
const companionUpdate = (expectedVersion = 1): Update => ({
  TableName: TABLE,
  Key: customerKey(),
  UpdateExpression: "SET kyc_session = :session, version = :next",
  ConditionExpression: "version = :expected",
  ExpressionAttributeValues: {
    ":session": { S: "session-2" },
    ":next": { N: String(expectedVersion + 1) },
    ":expected": { N: String(expectedVersion) },
  },
});
const companionUpdateOf = companionUpdate;
const UNCHANGED_CUSTOMER = { version: { N: "1" }, kyc_session: { S: "session-1" } };
const UPDATED_CUSTOMER = { version: { N: "2" }, kyc_session: { S: "session-2" } };

/** The token of the lock `sentBy` acquired last: a completion keeps it, so its own resend recognises itself. */
let heldToken = "";
function expectCompleted(
  item: Awaited<ReturnType<typeof itemOf>>,
  stored: unknown = response,
  token: unknown = heldToken,
) {
  expect(item?.state?.S).toBe("completed");
  expect(JSON.parse(item?.response?.S ?? "null")).toEqual(stored);
  expect(item?.lock_token?.S).toEqual(token);
}
function expectStillLocked(item: Awaited<ReturnType<typeof itemOf>>, token: string) {
  expect(item?.state?.S).toBe("locked");
  expect(item?.lock_token?.S).toBe(token);
  expect(item?.response).toBeUndefined();
}

/**
 * On AWS's DynamoDB Local (test/support/dynamodb-local.ts), whose
 * TransactWriteItems and cancellation reasons are DynamoDB's own; the
 * conflicts and errors DynamoDB Local would not produce on demand are thrown
 * in place of the call. Without Java it skips and says why.
 */
describe.skipIf(!local)(`IdempotencyStore.completeWith on DynamoDB Local${dynamoDbLocalSkip()}`, () => {
  let tx: DynamoDBClient;
  let table = "";
  /** Not counted: sets the scene and reads what was written. */
  let side: IdempotencyStore;
  /** What the store sent through `tx`: the command, and the partition key it wrote. */
  const sent: string[] = [];
  /** Thrown, once each, in place of the next TransactWriteItems (before DynamoDB Local sees it). */
  const cancellations: unknown[] = [];

  beforeAll(async () => {
    if (!local) return;
    table = local.tableName("mutation-idempotency");
    await ensureTable(local.client, table);
    side = new IdempotencyStore(local.client, table, () => now);
    tx = new DynamoDBClient({
      endpoint: local.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    tx.middlewareStack.add(
      (next, context) => async (args) => {
        const pk = (args.input as { Key?: Record<string, { S?: string }> }).Key?.pk?.S;
        sent.push(pk ? `${context.commandName} ${pk.split("#")[0]}` : String(context.commandName));
        return next(args);
      },
      { step: "initialize", priority: "high", name: "recordCalls" },
    );
    tx.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "TransactWriteItemsCommand" && cancellations.length > 0) {
          throw cancellations.shift();
        }
        return next(args);
      },
      { step: "initialize", priority: "normal", name: "injectCancellation" },
    );
  });
  afterAll(() => {
    tx?.destroy();
    local?.client.destroy();
  });
  beforeEach(() => {
    cancellations.length = 0;
  });

  // The file's helpers of the same names, on this table.
  const itemOf = async (recordId = id) =>
    (await local?.client.send(new GetItemCommand({ TableName: table, Key: key(recordId), ConsistentRead: true })))
      ?.Item;
  const customerOf = async (recordId = id) =>
    (
      await local?.client.send(
        new GetItemCommand({ TableName: table, Key: customerKey(recordId), ConsistentRead: true }),
      )
    )?.Item;
  const putCustomer = () =>
    local?.client.send(
      new PutItemCommand({
        TableName: table,
        Item: { ...customerKey(), version: { N: "1" }, kyc_session: { S: "session-1" } },
      }),
    );
  const companionUpdate = (expectedVersion = 1): Update => ({
    ...companionUpdateOf(expectedVersion),
    TableName: table,
  });
  async function acquire() {
    const begun = await side.begin(id, "fp", now + 10_000);
    if (begun.kind !== "acquired") throw new Error(`expected to acquire, got ${begun.kind}`);
    return begun;
  }

  /** A locked record and its customer; then `work`, with the calls it sent. */
  async function sentBy<T>(work: (token: string) => Promise<T>): Promise<{ result: T; calls: string[] }> {
    await putCustomer();
    const begun = await acquire();
    heldToken = begun.token;
    sent.length = 0;
    const result = await work(begun.token);
    return { result, calls: [...sent] };
  }
  const transactional = () => new IdempotencyStore(tx, table, () => now, { transactions: true });
  const cancelled = (...codes: string[]) =>
    new TransactionCanceledException({
      message: `Transaction cancelled [${codes.join(", ")}]`,
      $metadata: {},
      CancellationReasons: codes.map((Code) => ({ Code })),
    });

  it("with transactions, both conditions holding: one TransactWriteItems writes the customer and completes the record", async () => {
    const { result, calls } = await sentBy((token) =>
      transactional().completeWith(id, token, response, companionUpdate(1)),
    );
    expect(result).toEqual({ completed: true, companionApplied: true });
    expect(calls).toEqual(["TransactWriteItemsCommand"]);
    expect(await customerOf()).toMatchObject(UPDATED_CUSTOMER);
    expectCompleted(await itemOf());
  });

  it("with transactions, only the companion's condition failing: the record is completed alone, one UpdateItem more", async () => {
    const { result, calls } = await sentBy((token) =>
      transactional().completeWith(id, token, response, companionUpdate(5)),
    );
    expect(result).toEqual({ completed: true, companionApplied: false });
    expect(calls).toEqual(["TransactWriteItemsCommand", "UpdateItemCommand IDEMPOTENCY"]);
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expectCompleted(await itemOf());
  });

  it("with transactions, the lock lost: neither is written, and one consistent read tells a lost lock from our own resent completion", async () => {
    let token = "";
    const { result, calls } = await sentBy((held) => {
      token = held;
      return transactional().completeWith(id, "not-the-holders-token", response, companionUpdate(1));
    });
    expect(result).toEqual({ completed: false, companionApplied: false });
    expect(calls).toEqual(["TransactWriteItemsCommand", "GetItemCommand IDEMPOTENCY"]);
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expectStillLocked(await itemOf(), token);
  });

  it.each([
    ["TransactionConflict", "None"],
    ["None", "TransactionConflict"],
  ])("with transactions, a conflict [%s, %s]: written one after the other, customer first", async (...codes) => {
    cancellations.push(cancelled(...codes));
    const { result, calls } = await sentBy((token) =>
      transactional().completeWith(id, token, response, companionUpdate(1)),
    );
    expect(result).toEqual({ completed: true, companionApplied: true });
    expect(calls).toEqual(["TransactWriteItemsCommand", "UpdateItemCommand CUSTOMER", "UpdateItemCommand IDEMPOTENCY"]);
    expect(await customerOf()).toMatchObject(UPDATED_CUSTOMER);
    expectCompleted(await itemOf());
  });

  it.each([
    ["a cancellation for another reason", cancelled("ThrottlingError", "None")],
    ["a cancellation without reasons", new TransactionCanceledException({ message: "cancelled", $metadata: {} })],
    [
      "throttling",
      Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
        name: "ThrottlingException",
        $metadata: { httpStatusCode: 400 },
      }),
    ],
    [
      "an error that only looks like a conflict (not a TransactionCanceledException)",
      Object.assign(new Error("look-alike"), {
        name: "TransactionCanceledException",
        CancellationReasons: [{ Code: "TransactionConflict" }, { Code: "None" }],
      }),
    ],
  ])("with transactions, %s is rethrown and nothing is written after it", async (_, error) => {
    cancellations.push(error);
    let token = "";
    let thrown: unknown;
    const { calls } = await sentBy((held) => {
      token = held;
      return transactional()
        .completeWith(id, held, response, companionUpdate(1))
        .catch((caught: unknown) => {
          thrown = caught;
        });
    });
    expect(thrown).toBe(error);
    expect(calls).toEqual(["TransactWriteItemsCommand"]);
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expectStillLocked(await itemOf(), token);
  });

  it("without transactions (the default): no TransactWriteItems; the customer's UpdateItem, then the completion's", async () => {
    const plain = new IdempotencyStore(tx, table, () => now);
    const { result, calls } = await sentBy((token) => plain.completeWith(id, token, response, companionUpdate(1)));
    expect(result).toEqual({ completed: true, companionApplied: true });
    expect(calls).toEqual(["UpdateItemCommand CUSTOMER", "UpdateItemCommand IDEMPOTENCY"]);
    expect(await customerOf()).toMatchObject(UPDATED_CUSTOMER);
    expectCompleted(await itemOf());
  });

  it("without transactions, a companion whose condition fails is not applied, and the record still completes", async () => {
    const plain = new IdempotencyStore(tx, table, () => now);
    const { result, calls } = await sentBy((token) => plain.completeWith(id, token, response, companionUpdate(5)));
    expect(result).toEqual({ completed: true, companionApplied: false });
    expect(calls).toEqual(["UpdateItemCommand CUSTOMER", "UpdateItemCommand IDEMPOTENCY"]);
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expectCompleted(await itemOf());
  });
});

describe("runIdempotent with a companion update (Attempt.completeWith)", () => {
  it("writes the companion with the completion, and settled learns once that it applied", async () => {
    await putCustomer();
    const settled: boolean[] = [];
    const { call } = callFor(id);
    const result = await runIdempotent(call, async (attempt) => {
      attempt.completeWith(companionUpdate(1), (applied) => settled.push(applied));
      return ok({ kyc: "started" });
    });
    expect(result.statusCode).toBe(201);
    expect(settled).toEqual([true]);
    expect(await customerOf()).toMatchObject(UPDATED_CUSTOMER);
    // runIdempotent took the lock itself: its token, whatever it was, stays with the completion.
    expectCompleted(
      await itemOf(),
      { statusCode: 201, headers: { "content-type": "application/json" }, body: '{"kyc":"started"}' },
      expect.stringMatching(/^[0-9a-f-]{36}$/),
    );
  });

  it("a companion whose condition fails: settled(false), and the answer is still stored", async () => {
    await putCustomer();
    const settled: boolean[] = [];
    const { call } = callFor(id);
    const result = await runIdempotent(call, async (attempt) => {
      attempt.completeWith(companionUpdate(5), (applied) => settled.push(applied));
      return ok({ kyc: "started" });
    });
    expect(result.statusCode).toBe(201);
    expect(settled).toEqual([false]);
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expect((await itemOf())?.state?.S).toBe("completed");
  });

  it("a completion refused because the lock was lost: settled is not called, the answer is 409 in use", async () => {
    await putCustomer();
    const settled: boolean[] = [];
    const { call } = callFor(id, { leaseUntilMs: now + 1_000 });
    const problem = await problemOf(
      runIdempotent(call, async (attempt) => {
        now += 1_001;
        expect(await store.begin(id, "fp", now + 10_000)).toMatchObject({ kind: "acquired" });
        attempt.completeWith(companionUpdate(1), (applied) => settled.push(applied));
        return ok({ late: true });
      }),
    );
    expect(problem.code).toBe("idempotency_key_in_use");
    expect(problem.retryAfter).toBe(1);
    expect(settled).toEqual([]);
    const item = await itemOf();
    expect(item?.state?.S).toBe("locked");
    expect(item?.response).toBeUndefined();
  });

  it("a companion without settled is written all the same", async () => {
    await putCustomer();
    const { call } = callFor(id);
    const result = await runIdempotent(call, async (attempt) => {
      attempt.completeWith(companionUpdate(1));
      return ok({ kyc: "started" });
    });
    expect(result.statusCode).toBe(201);
    expect(await customerOf()).toMatchObject(UPDATED_CUSTOMER);
    expect((await itemOf())?.state?.S).toBe("completed");
  });

  it("an operation that recorded a companion and then failed drops it: a stored 4xx and a release write no customer", async () => {
    await putCustomer();
    const settled: boolean[] = [];
    const { call } = callFor(id);
    const stored = await runIdempotent(call, async (attempt) => {
      attempt.completeWith(companionUpdate(1), (applied) => settled.push(applied));
      throw new ProblemError("upstream_rejected", { detail: "no" });
    });
    expect(stored.statusCode).toBe(422);
    expect(JSON.parse((await itemOf())?.response?.S ?? "{}").statusCode).toBe(422);
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expect(settled).toEqual([]);

    id = `${id}-released`;
    await putCustomer();
    const { call: released } = callFor(id);
    const problem = await problemOf(
      runIdempotent(released, async (attempt) => {
        attempt.completeWith(companionUpdate(1), (applied) => settled.push(applied));
        throw new ProblemError("upstream_unavailable", { disposition: Disposition.Release });
      }),
    );
    expect(problem.code).toBe("upstream_unavailable");
    expect(await itemOf()).toBeUndefined();
    expect(await customerOf()).toMatchObject(UNCHANGED_CUSTOMER);
    expect(settled).toEqual([]);
  });
});

describe("Idempotency-Key header", () => {
  const request = (value?: string) => ({
    method: "POST",
    routeKey: "POST /customers",
    rawPath: "/customers",
    headers: value === undefined ? {} : { "idempotency-key": value },
    query: {},
    pathParameters: {},
    body: Buffer.alloc(0),
    requestId: "r",
    claims: undefined,
  });
  const read = (value?: string) => {
    try {
      return requireIdempotencyKey(request(value));
    } catch (error) {
      return `!${(error as ProblemError).code}: ${(error as ProblemError).detail}`;
    }
  };

  it("trims the value and unquotes only a quoted pair", () => {
    expect(read("  abc  ")).toBe("abc");
    expect(read('"abc"')).toBe("abc");
    expect(read('"')).toBe('"'); // one quote is a key, not an empty quoted one
    expect(read('"abc')).toBe('"abc');
    expect(read('abc"')).toBe('abc"');
    expect(read('a"b')).toBe('a"b');
    expect(read("a\\b")).toBe("a\\b"); // a backslash is refused only inside quotes
  });

  it("refuses an empty quoted key, and quotes or backslashes inside quotes, saying why", () => {
    expect(read('""')).toBe("!idempotency_key_invalid: The key must be 1 to 255 printable ASCII characters");
    expect(read('"a\\b"')).toBe("!idempotency_key_invalid: A quoted key may not contain quotes or backslashes");
    expect(read('"a"b"')).toBe("!idempotency_key_invalid: A quoted key may not contain quotes or backslashes");
    expect(read(undefined)).toBe("!idempotency_key_missing: undefined");
  });

  it("refuses a control character anywhere in the key, and accepts every printable one", () => {
    expect(read("a\u0001b")).toMatch(/^!idempotency_key_invalid/);
    expect(read("ab\u007f")).toMatch(/^!idempotency_key_invalid/);
    expect(read("\u0080ab")).toMatch(/^!idempotency_key_invalid/);
    expect(read(" ~!")).toBe("~!");
    expect(read(`"${"k".repeat(255)}"`)).toBe("k".repeat(255));
    expect(read(`"${"k".repeat(256)}"`)).toMatch(/^!idempotency_key_invalid/);
  });

  it("the OpenAPI pattern (IDEMPOTENCY_KEY_PATTERN) accepts exactly the keys requireIdempotencyKey accepts", () => {
    const pattern = new RegExp(IDEMPOTENCY_KEY_PATTERN);
    const keys = [
      "abc",
      '"abc"',
      "k".repeat(255),
      "k".repeat(256),
      `"${"k".repeat(255)}"`,
      `"${"k".repeat(256)}"`,
      "clé",
      '"clé"',
      '"a"b"',
      '"a\\b"',
      'a"b',
      '"abc',
      '"',
      '""',
      "a\u0001b",
    ];
    const accepted = keys.filter((k) => !read(k).startsWith("!"));
    expect(accepted).toEqual(["abc", '"abc"', "k".repeat(255), `"${"k".repeat(255)}"`, 'a"b', '"abc', '"']);
    expect(keys.filter((k) => pattern.test(k))).toEqual(accepted);
  });
});
