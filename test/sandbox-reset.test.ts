/**
 * sandbox-reset on a table holding thousands of items of each kind: a run
 * whose time budget is too small stops and reports; the second finishes;
 * foreign items are untouched; a dry run deletes nothing; production refuses,
 * and so does a table whose own stage marker is missing or says production,
 * whatever the invoking shell says.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getRuntime, type ResetReport, resetRuntime, SandboxResetRefusedError } from "@align-onboarding/core";
import { BatchWriteItemCommand, type WriteRequest } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handler, SandboxResetIncompleteError } from "../functions/sandbox-reset.js";
import { TableAccess } from "../infra/permissions.js";
import { ResetReliability } from "../infra/reset.js";
import { startTestStack, type TestStack } from "./support/stack.js";

const PER_KIND = 2_000;
const FOREIGN = 50;
/** The stage marker the local stack writes when it creates the table: never deleted, counted as untouched. */
const MARKER = 1;
let t: TestStack;

async function seed() {
  const requests: WriteRequest[] = [];
  for (let i = 0; i < PER_KIND; i++) {
    requests.push({
      PutRequest: {
        Item: { pk: { S: `CUSTOMER#c-${i}` }, sk: { S: "CUSTOMER" }, gsi1pk: { S: "OWNER#u" }, gsi1sk: { S: `${i}` } },
      },
    });
    requests.push({ PutRequest: { Item: { pk: { S: `IDEMPOTENCY#i-${i}` }, sk: { S: "IDEMPOTENCY" } } } });
  }
  for (let i = 0; i < FOREIGN; i++)
    requests.push({ PutRequest: { Item: { pk: { S: `OTHER#${i}` }, sk: { S: "OTHER" } } } });
  for (let offset = 0; offset < requests.length; offset += 25) {
    await t.stack.dynamo.client.send(
      new BatchWriteItemCommand({ RequestItems: { [t.stack.tableName]: requests.slice(offset, offset + 25) } }),
    );
  }
}

/** `count` customers more, written past the runtime's client (its calls are not the reset's). */
async function seedSome(count: number) {
  for (let offset = 0; offset < count; offset += 25) {
    const requests: WriteRequest[] = [];
    for (let i = offset; i < Math.min(count, offset + 25); i++) {
      requests.push({ PutRequest: { Item: { pk: { S: `CUSTOMER#more-${i}` }, sk: { S: "CUSTOMER" } } } });
    }
    await t.stack.dynamo.client.send(new BatchWriteItemCommand({ RequestItems: { [t.stack.tableName]: requests } }));
  }
}

const countBy = async () => {
  const counts: Record<string, number> = {};
  for (const item of await t.items()) counts[item.sk as string] = (counts[item.sk as string] ?? 0) + 1;
  return counts;
};

const budget = (ms: number) => {
  const deadline = Date.now() + ms;
  return { awsRequestId: "reset-test", getRemainingTimeInMillis: () => deadline - Date.now() };
};

beforeAll(async () => {
  t = await startTestStack();
  await seed();
}, 120_000);
afterAll(() => t.close());

describe("sandbox-reset", () => {
  it("a dry run counts every kind and deletes nothing", async () => {
    const report = (await handler({ dryRun: true }, budget(60_000))) as ResetReport;
    expect(report).toMatchObject({
      dry_run: true,
      complete: true,
      counts: { customer: PER_KIND, idempotency: PER_KIND },
      untouched: FOREIGN + MARKER,
    });
    expect(await countBy()).toEqual({
      CUSTOMER: PER_KIND,
      IDEMPOTENCY: PER_KIND,
      OTHER: FOREIGN,
      STAGE: MARKER,
    });
  });

  it("the core function itself refuses outside the sandbox, whoever calls it", async () => {
    const { Logger, resetSandboxData } = await import("@align-onboarding/core");
    await expect(
      resetSandboxData(t.stack.dynamo.client, t.stack.tableName, {
        alignEnvironment: "production",
        dryRun: false,
        remainingMs: () => 60_000,
        log: new Logger({}, "error"),
      }),
    ).rejects.toThrow(SandboxResetRefusedError);
    expect((await t.items()).length).toBe(2 * PER_KIND + FOREIGN + MARKER);
  });

  it("production refuses with a clear error and deletes nothing", async () => {
    process.env.ALIGN_ENVIRONMENT = "production";
    resetRuntime();
    try {
      await expect(handler({}, budget(60_000))).rejects.toThrow(SandboxResetRefusedError);
      await expect(handler({}, budget(60_000))).rejects.toThrow(/only where ALIGN_ENVIRONMENT is sandbox/);
      expect((await t.items()).length).toBe(2 * PER_KIND + FOREIGN + MARKER);
    } finally {
      process.env.ALIGN_ENVIRONMENT = "sandbox";
      resetRuntime();
    }
  });

  it("stops before a too-small budget runs out; a second run finishes; nothing else is touched", async () => {
    const first = (await handler({}, budget(400))) as ResetReport;
    expect(first.complete).toBe(false);
    const firstTotal = first.counts.customer + first.counts.idempotency;
    expect(firstTotal).toBeLessThan(2 * PER_KIND);
    expect((await t.items()).length).toBe(2 * PER_KIND + FOREIGN + MARKER - firstTotal); // counts are what was deleted
    expect(first.elapsed_ms).toBeLessThan(400);

    const second = (await handler({}, budget(120_000))) as ResetReport;
    expect(second.complete).toBe(true);
    for (const kind of ["customer", "idempotency"] as const) {
      expect(first.counts[kind] + second.counts[kind]).toBe(PER_KIND);
    }
    expect(await countBy()).toEqual({ OTHER: FOREIGN, STAGE: MARKER });
    expect(t.logs.some((line) => line.includes('"message":"sandbox reset page"'))).toBe(true);
  }, 120_000);

  it("sends only what its role is granted: GetItem, Scan, BatchWriteItem (infra/permissions.ts)", async () => {
    const sent = new Set<string>();
    getRuntime().dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        sent.add(`dynamodb:${(context.commandName ?? "").replace(/Command$/, "")}`);
        return next(args);
      },
      { step: "initialize", name: "recordResetCalls" },
    );
    try {
      await seedSome(60);
      const report = (await handler({}, budget(60_000))) as ResetReport;
      expect(report.counts.customer).toBe(60);
    } finally {
      getRuntime().dynamo.middlewareStack.remove("recordResetCalls");
    }
    expect([...sent].sort()).toEqual(["dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:Scan"]);
    for (const action of sent) expect(TableAccess.reset as readonly string[]).toContain(action);
  });

  it("with the schedule's event, a run that stops before the end fails, so Lambda retries it (infra/reset.ts)", async () => {
    // Under 100 ms of budget the reset stops before its first page.
    await expect(handler({ ...ResetReliability.event }, budget(50))).rejects.toThrow(SandboxResetIncompleteError);
    const finished = (await handler({ ...ResetReliability.event }, budget(60_000))) as ResetReport;
    expect(finished.complete).toBe(true);
    // Without that event (npm run invoke, a dry run) an incomplete run reports, as before.
    expect(((await handler({}, budget(50))) as ResetReport).complete).toBe(false);
    expect(((await handler({ ...ResetReliability.event, dryRun: true }, budget(50))) as ResetReport).complete).toBe(
      false,
    );
  });

  it("runs from `npm run invoke -- sandbox-reset` (a dry run by default)", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url));
    const { stdout } = await promisify(execFile)("npm", ["run", "--silent", "invoke", "--", "sandbox-reset"], {
      cwd: root,
      env: {
        ...process.env,
        ...t.functionEnv(),
      },
    });
    expect(JSON.parse(stdout)).toMatchObject({ dry_run: true, complete: true, untouched: FOREIGN + MARKER });
  });
});

describe("unprocessed items", () => {
  it("are retried with backoff until deleted (throttling injected through the SDK middleware stack)", async () => {
    const { DynamoDBClient, PutItemCommand } = await import("@aws-sdk/client-dynamodb");
    const { Logger, resetSandboxData } = await import("@align-onboarding/core");
    for (let i = 0; i < 60; i++) {
      await t.stack.dynamo.client.send(
        new PutItemCommand({
          TableName: t.stack.tableName,
          Item: { pk: { S: `IDEMPOTENCY#u-${i}` }, sk: { S: "IDEMPOTENCY" } },
        }),
      );
    }
    const client = new DynamoDBClient({
      endpoint: t.stack.dynamo.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    let withheld = 0;
    // Like a throttled DynamoDB: the first attempt of each batch writes only part and returns the rest unprocessed.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== "BatchWriteItemCommand") return next(args);
        const input = args.input as { RequestItems: Record<string, WriteRequest[]> };
        const [table, requests] = Object.entries(input.RequestItems)[0] ?? ["", []];
        if (requests.length < 2) return next(args);
        const kept = requests.slice(0, Math.ceil(requests.length / 2));
        const rest = requests.slice(kept.length);
        withheld += rest.length;
        const result = await next({ ...args, input: { ...input, RequestItems: { [table]: kept } } });
        (result.output as { UnprocessedItems?: unknown }).UnprocessedItems = { [table]: rest };
        return result;
      },
      { step: "initialize", name: "throttleHalf" },
    );
    const report = await resetSandboxData(client, t.stack.tableName, {
      alignEnvironment: "sandbox",
      dryRun: false,
      remainingMs: () => 60_000,
      log: new Logger({}, "error"),
    });
    client.destroy();
    expect(withheld).toBeGreaterThan(0);
    expect(report.complete).toBe(true);
    expect(report.counts.idempotency).toBe(60);
    expect(await t.items("IDEMPOTENCY")).toHaveLength(0);
  });
});
