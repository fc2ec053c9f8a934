/**
 * Concurrency, with invariants asserted on Align's state and ours, not just on
 * status codes.
 */
import { randomUUID } from "node:crypto";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.close());

const sandbox = () => {
  if (!t.stack.sandbox) throw new Error("emulator expected");
  return t.stack.sandbox;
};
/** Customers whose KYC start and simulate race (the race found a real ordering bug; more pairs, more chances). */
const RACERS = 25;
const recordsFor = async (id: unknown) => (await t.items("CUSTOMER")).filter((r) => r.customer_id === id);

describe("concurrency", () => {
  it("100 identical creates with one key: one customer, one 201, the rest in-flight or replays", async () => {
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 100 } });
    const body = individual("hundred@example.com");
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => t.api("POST", "/customers", { key: "hundred", body })),
    );
    const original = answers.filter((a) => a.status === 201 && a.headers.get("idempotent-replayed") === null);
    const others = answers.filter((a) => a !== original[0]);
    expect(original).toHaveLength(1);
    // Every other answer is one of the two, asserted whichever it is: a replay of the one customer, or in use.
    const replays = others.filter((a) => a.status === 201);
    const inUse = others.filter((a) => a.status !== 201);
    expect(replays.map((a) => [a.headers.get("idempotent-replayed"), a.json])).toEqual(
      replays.map(() => ["true", original[0]?.json]),
    );
    expect(inUse.map((a) => [a.status, a.json.code])).toEqual(inUse.map(() => [409, "idempotency_key_in_use"]));
    expect(
      sandbox()
        .state()
        .customers.filter((c) => c.email === body.email),
    ).toHaveLength(1);
    expect(await recordsFor(original[0]?.json.customer_id)).toHaveLength(1);
    expect((await t.items("IDEMPOTENCY")).filter((r) => String(r.response ?? "").includes(body.email))).toHaveLength(1);
  });

  it("100 creates with distinct keys and one email: one customer at Align, one record, one 201, the rest 409", async () => {
    const body = individual("one-email@example.com");
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => t.api("POST", "/customers", { key: randomUUID(), body })),
    );
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    const conflicts = answers.filter((a) => a.status === 409 && a.json.code === "email_already_exists");
    expect(conflicts).toHaveLength(99);
    // A conflict names the one customer or none (one that raced ahead of the record), never another.
    const createdId = created[0]?.json.customer_id;
    expect(conflicts.map((c) => c.json.customer_id).filter((id) => id !== undefined && id !== createdId)).toEqual([]);
    // Once the record is written, a conflict is told which customer it is.
    const after = await t.api("POST", "/customers", { key: randomUUID(), body });
    expect([after.status, after.json.code, after.json.customer_id]).toEqual([409, "email_already_exists", createdId]);
    expect(
      sandbox()
        .state()
        .customers.filter((c) => c.email === body.email),
    ).toHaveLength(1);
    expect((await recordsFor(created[0]?.json.customer_id)).map((r) => r.owner)).toEqual(["user-a"]);
  });

  it("KYC start racing simulate (and its webhook): every customer ends approved at Align and in our record", async () => {
    const ids: string[] = [];
    for (let i = 0; i < RACERS; i++) {
      const created = await t.api("POST", "/customers", { body: individual(`race-${i}@example.com`) });
      ids.push(created.json.customer_id as string);
      // Align approves only a customer with a session: the race is a repeated start against the approval.
      expect((await t.api("POST", `/customers/${created.json.customer_id}/kyc-sessions`)).status).toBe(201);
    }
    const answers = await Promise.all(
      ids.flatMap((id) => [
        t.api("POST", `/customers/${id}/kyc-sessions`),
        t.api("POST", `/sandbox/customers/${id}/simulate`, { body: { action: "kyc.status.approve" } }),
      ]),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(RACERS).fill(200), ...Array(RACERS).fill(201)]);
    await sandbox().deliveriesSettled();
    for (const id of ids) {
      const atAlign = sandbox()
        .state()
        .customers.find((c) => c.customer_id === id);
      const [record] = await recordsFor(id);
      expect(atAlign?.kycs?.status).toBe("approved");
      expect(JSON.parse(record?.data as string).kycs).toEqual(atAlign?.kycs);
    }
  });
});
