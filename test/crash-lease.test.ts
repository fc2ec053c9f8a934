/**
 * Crash and lease: an invocation that dies holding a lock is taken over after
 * its lease, and a late original cannot overwrite its successor's work.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { getRuntime } from "@align-onboarding/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler as createCustomer } from "../functions/create-customer.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const root = fileURLToPath(new URL("..", import.meta.url));
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sandbox = () => {
  if (!t.stack.sandbox) throw new Error("emulator expected");
  return t.stack.sandbox;
};

/** An API Gateway event for POST /customers, as the gateway would build it for `user-a`. */
function createEvent(key: string, body: unknown) {
  const sample = JSON.parse(readFileSync(`${root}packages/local/events/create-customer.json`, "utf8"));
  sample.headers["idempotency-key"] = key;
  sample.requestContext.authorizer.jwt.claims.sub = "user-a";
  sample.body = JSON.stringify(body);
  return sample;
}

async function waitForLock(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await t.items("IDEMPOTENCY")).some((item) => item.state === "locked" && item.lock_token)) return;
    await sleep(10);
  }
  throw new Error("the lock never appeared");
}

describe("an invocation that dies holding the lock", () => {
  it("is taken over after its lease, and the retry converges on one owned customer", async () => {
    const body = individual("killed@example.com");
    const key = "killed-1";
    const dir = mkdtempSync(`${tmpdir()}/crash-`);
    writeFileSync(`${dir}/event.json`, JSON.stringify(createEvent(key, body)));
    // Align answers slowly, so the process is inside the call when it is killed.
    sandbox().addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 1_500 } });
    const child = spawn(
      "npm",
      ["run", "--silent", "invoke", "--", "create-customer", "--event", `${dir}/event.json`, "--timeout", "3"],
      {
        cwd: root,
        env: {
          ...process.env,
          ...t.functionEnv(),
        },
        detached: true,
        stdio: "ignore",
      },
    );
    await waitForLock();
    process.kill(-(child.pid ?? 0), "SIGKILL"); // never completes, never releases
    const locked = Date.now();

    const during = await t.api("POST", "/customers", { key, body });
    expect(during.status).toBe(409);
    expect(during.json.code).toBe("idempotency_key_in_use");

    // The lease is the dead invocation's deadline (3 s) plus 2 s.
    let after = during;
    while (after.status === 409 && Date.now() - locked < 10_000) {
      await sleep(250);
      after = await t.api("POST", "/customers", { key, body });
    }
    expect(after.status).toBe(201);
    expect(Date.now() - locked).toBeGreaterThan(1_500);
    await sleep(1_600); // let the killed call's slow create land at Align, if it will
    const atAlign = sandbox()
      .state()
      .customers.filter((c) => c.email === body.email);
    expect(atAlign).toHaveLength(1);
    expect(after.json.customer_id).toBe(atAlign[0]?.customer_id);
    const records = (await t.items("CUSTOMER")).filter((r) => r.customer_id === atAlign[0]?.customer_id);
    expect(records.map((r) => r.owner)).toEqual(["user-a"]);
  }, 30_000);
});

describe("a late original", () => {
  it("cannot overwrite the record of the invocation that took over", async () => {
    const body = individual("late@example.com");
    const key = "late-1";
    // Stall the original's customer write well past its lease (2.6 s + 2 s).
    let stalled = false;
    getRuntime().dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const pk = (args.input as { Item?: { pk?: { S?: string } } }).Item?.pk?.S ?? "";
        if (!stalled && context.commandName === "PutItemCommand" && pk.startsWith("CUSTOMER#")) {
          stalled = true;
          await sleep(6_500);
        }
        return next(args);
      },
      { step: "initialize", name: "stallFirstCustomerWrite" },
    );
    // Its Align call gets the deadline less 1.5 s (about 1.1 s); its lease ends 2 s after the deadline.
    const deadline = Date.now() + 2_600;
    const original = createCustomer(createEvent(key, body), {
      awsRequestId: "late-original",
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    });
    await sleep(4_800); // past the original's lease, while its write is still stalled
    const successor = await t.api("POST", "/customers", { key, body });
    expect(successor.status).toBe(201);
    const recordAfterSuccessor = (await t.items("IDEMPOTENCY")).find(
      (item) => item.state === "completed" && String(item.response).includes("late@example.com"),
    );
    expect(recordAfterSuccessor).toBeDefined();

    // Its stalled write is aborted at its deadline (every DynamoDB call is bounded by it): it answers a
    // retryable 503 and writes nothing; were its release to run, the token check would refuse it.
    const late = await original;
    expect(late.statusCode).toBe(503);
    expect(late.headers["retry-after"]).toBeDefined();
    const recordAfterLate = (await t.items("IDEMPOTENCY")).find((item) => item.pk === recordAfterSuccessor?.pk);
    expect(recordAfterLate).toEqual(recordAfterSuccessor);
    const customers = (await t.items("CUSTOMER")).filter((r) => String(r.data).includes("late@example.com"));
    expect(customers.map((r) => r.customer_id)).toEqual([successor.json.customer_id]);
    expect(
      sandbox()
        .state()
        .customers.filter((c) => c.email === body.email),
    ).toHaveLength(1);
  }, 30_000);
});
