import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import type { Logger } from "./log.js";
import { ItemKind, TableKeys } from "./table.js";

/** What a reset deletes, by the item kind (sort key) it owns. Anything else is left alone. */
const KINDS = {
  [ItemKind.Customer]: "customer",
  [ItemKind.Idempotency]: "idempotency",
} as const;
type CountName = (typeof KINDS)[keyof typeof KINDS];

export interface ResetOptions {
  /** The stage's Align environment: anything but `sandbox` is refused before any read or delete (and so is a table whose stage marker does not say `sandbox`). */
  alignEnvironment: "sandbox" | "production";
  /** Count what would be deleted, delete nothing. */
  dryRun: boolean;
  /** The invocation's remaining time (Lambda's `getRemainingTimeInMillis`). */
  remainingMs: () => number;
  log: Logger;
  /** Items per Scan page (default 500). */
  pageSize?: number;
}

export interface ResetReport {
  dry_run: boolean;
  /** False when the time budget ran out first; running again finishes the job. */
  complete: boolean;
  pages: number;
  scanned: number;
  /** Deleted (or, in a dry run, found) items by kind. */
  counts: Record<CountName, number>;
  /** Items of other kinds, left untouched. */
  untouched: number;
  elapsed_ms: number;
}

/** Raised by {@link resetSandboxData} instead of deleting anything outside the sandbox. */
export class SandboxResetRefusedError extends Error {
  override name = "SandboxResetRefusedError";
}

/**
 * The item that says which Align environment a table serves, written when the
 * stage's table is created (sst.config.ts, packages/local) and never deleted
 * by a reset. The same key as infra/stage-marker.ts, which core cannot import
 * (it depends on nothing above it); test/sandbox-reset.test.ts proves they agree.
 */
export const STAGE_MARKER = { partition: "STAGE", sort: "STAGE", attribute: "align_environment" } as const;

/**
 * Reads the table's own stage marker. The shell that invokes a reset may say
 * sandbox while the table is production's, so only the table is believed.
 *
 * @throws {SandboxResetRefusedError} unless the marker exists and says `sandbox`.
 */
async function requireSandboxTable(client: DynamoDBClient, table: string): Promise<void> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: table,
      Key: {
        [TableKeys.partition]: { S: STAGE_MARKER.partition },
        [TableKeys.sort]: { S: STAGE_MARKER.sort },
      },
      ConsistentRead: true,
    }),
  );
  const environment = Item?.[STAGE_MARKER.attribute]?.S;
  if (environment !== "sandbox") {
    throw new SandboxResetRefusedError(
      environment === undefined
        ? `sandbox-reset found no stage marker in table ${table}, so it cannot tell sandbox from production; nothing was deleted`
        : `sandbox-reset deletes data only from a sandbox table; table ${table} is marked ${environment}; nothing was deleted`,
    );
  }
}

const BATCH = 25;
const MAX_BATCH_ATTEMPTS = 8;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** BatchWriteItem deletes, retrying unprocessed items with backoff and jitter. */
async function deleteBatch(client: DynamoDBClient, table: string, requests: WriteRequest[]): Promise<void> {
  let pending = requests;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= MAX_BATCH_ATTEMPTS) {
      throw new Error(`BatchWriteItem left ${pending.length} items unprocessed after ${MAX_BATCH_ATTEMPTS} attempts`);
    }
    if (attempt > 0) await pause(Math.min(2_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
    const output = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
    pending = output.UnprocessedItems?.[table] ?? [];
  }
}

/**
 * Deletes the stage's customers and idempotency records, a
 * Scan page at a time, stopping while there is still time to report (10% of
 * the budget, between 100 ms and 10 s). Deleting is idempotent, so a second run simply
 * finishes the job.
 *
 * @throws {SandboxResetRefusedError} before any Scan or delete, unless both `alignEnvironment`
 * and the table's stage marker say `sandbox`.
 * @example
 * ```ts
 * const report = await resetSandboxData(client, table, { alignEnvironment: "sandbox", dryRun: true, remainingMs: () => 60_000, log });
 * ```
 */
export async function resetSandboxData(
  client: DynamoDBClient,
  table: string,
  options: ResetOptions,
): Promise<ResetReport> {
  if (options.alignEnvironment !== "sandbox") {
    throw new SandboxResetRefusedError(
      `sandbox-reset deletes data only where ALIGN_ENVIRONMENT is sandbox (this is ${options.alignEnvironment}); nothing was deleted`,
    );
  }
  // Both must say sandbox: the function's setting and, above all, the table itself.
  await requireSandboxTable(client, table);
  const started = Date.now();
  // Room to finish the batch in hand and report: 10% of the budget, at least 100 ms, at most 10 s.
  const reserveMs = Math.min(10_000, Math.max(100, Math.floor(options.remainingMs() * 0.1)));
  const report: ResetReport = {
    dry_run: options.dryRun,
    complete: false,
    pages: 0,
    scanned: 0,
    counts: { customer: 0, idempotency: 0 },
    untouched: 0,
    elapsed_ms: 0,
  };
  let startKey: Record<string, AttributeValue> | undefined;
  const outOfTime = () => options.remainingMs() <= reserveMs;
  scan: do {
    if (outOfTime()) break;
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        ProjectionExpression: "#pk, #sk",
        ExpressionAttributeNames: { "#pk": TableKeys.partition, "#sk": TableKeys.sort },
        Limit: options.pageSize ?? 500,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    report.pages += 1;
    const items = page.Items ?? [];
    report.scanned += items.length;
    const doomed: { kind: CountName; request: WriteRequest }[] = [];
    for (const item of items) {
      const kind = KINDS[item[TableKeys.sort]?.S as keyof typeof KINDS];
      if (kind === undefined) {
        report.untouched += 1;
        continue;
      }
      const key = { [TableKeys.partition]: item[TableKeys.partition], [TableKeys.sort]: item[TableKeys.sort] };
      doomed.push({ kind, request: { DeleteRequest: { Key: key as Record<string, AttributeValue> } } });
    }
    for (let offset = 0; offset < doomed.length; offset += BATCH) {
      const batch = doomed.slice(offset, offset + BATCH);
      if (!options.dryRun) {
        if (outOfTime()) break scan;
        await deleteBatch(
          client,
          table,
          batch.map((entry) => entry.request),
        );
      }
      for (const entry of batch) report.counts[entry.kind] += 1;
    }
    options.log.info("sandbox reset page", {
      page: report.pages,
      scanned: report.scanned,
      customers: report.counts.customer,
      idempotency_records: report.counts.idempotency,
      dry_run: options.dryRun,
    });
    startKey = page.LastEvaluatedKey;
    if (!startKey) report.complete = true;
  } while (startKey);
  report.elapsed_ms = Date.now() - started;
  return report;
}
