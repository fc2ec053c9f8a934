/**
 * The simulated world: dynalite and the Align emulator on loopback, the real
 * handlers and stores installed with two seams (a gate before every DynamoDB
 * and Align call, see scheduler.ts), and a virtual clock. One world serves
 * many runs; each run gets a fresh table and an emptied emulator. A run whose
 * table is "dynamodb" plays on AWS's DynamoDB Local instead (a test run's,
 * DYNAMODB_LOCAL_ENDPOINT, or one this world starts), with transactions on.
 */

import { randomUUID } from "node:crypto";
import { Align, type FetchLike, httpFetch } from "@align-onboarding/align";
import { type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { createRuntime, Logger, loadConfig, type Runtime, setClock, setRuntime } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, openDynamoDbLocal, startEmbeddedDynamo } from "@align-onboarding/local";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import type { TableKind } from "./schedule.js";
import type { AlignFault, Instruction, Scheduler } from "./scheduler.js";

export const SIM_KEY = "simulation-key";
/** Align calls time out after this (real ms): a timeout fault costs this much wall time, nothing else does. */
const ALIGN_TIMEOUT_MS = 200;

export interface World {
  /** The current run's DynamoDB (dynalite between runs). */
  readonly dynamo: EmbeddedDynamo;
  sandbox: AlignSandbox;
  /** Virtual now (epoch ms): the start, plus what the schedule advanced, plus 1 ms per I/O call. */
  now(): number;
  advance(ms: number): void;
  /**
   * A fresh table, an emptied emulator and a runtime whose I/O goes through
   * `scheduler`; `afterAlign` runs after every Align call, in its operation,
   * before the answer reaches it (what Align did and published is visible then).
   */
  beginRun(run: number, scheduler: Scheduler, table: TableKind, afterAlign?: AfterAlign): Promise<Runtime>;
  endRun(): Promise<void>;
  close(): Promise<void>;
}

/** Told of every Align call once Align is done with it: its label and the fault it met. */
export type AfterAlign = (label: string, fault: AlignFault | undefined) => void;

const pathLabel = (path: string) =>
  path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "{id}").replace(/\?.*$/, "");

function partitionPrefix(input: Record<string, unknown>): string {
  const item = (input.Item ?? input.Key) as Record<string, { S?: string }> | undefined;
  const pk = item?.pk?.S ?? (input.IndexName ? "INDEX" : "");
  return pk.replace(/#.*/, "#");
}

const throttled = () =>
  Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
    name: "ThrottlingException",
    $metadata: { httpStatusCode: 400 },
  });
const reset = () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

export async function startWorld(): Promise<World> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const dynamo = await startEmbeddedDynamo();
  // Deliveries go nowhere (a closed port, one attempt): the schedule delivers Align's events itself.
  const sandbox = await startAlignSandbox({ apiKey: SIM_KEY, webhooks: { maxAttempts: 1, timeoutMs: 50 } });
  // Virtual time moves only with the schedule (advances, calls in flight) and by 1 ms per I/O call, never
  // with the machine's own pace: leases, deadlines and the ordering rule see the same instants on every replay.
  let virtual = Math.floor(Date.now() / 1000) * 1000;
  const now = () => virtual;
  const tick = () => {
    virtual += 1;
  };
  setClock(now);
  let current: { tableName: string; runtime: Runtime; db: EmbeddedDynamo } | undefined;
  let dynamoDbLocal: Promise<EmbeddedDynamo> | undefined;
  // Table names apart from other users of a shared DynamoDB Local.
  const prefix = `sim-${randomUUID().slice(0, 8)}`;

  const world: World = {
    get dynamo() {
      return current?.db ?? dynamo;
    },
    sandbox,
    now,
    advance: (ms) => {
      virtual += ms;
    },
    async beginRun(run, scheduler, table, afterAlign) {
      sandbox.reset();
      sandbox.clearFaults();
      await new Align({ apiKey: SIM_KEY, baseUrl: sandbox.url, maxRetries: 0 }).webhooks.create({
        url: "http://127.0.0.1:9/simulation",
      });
      const tableName = `${prefix}-${run}`;
      if (table === "dynamodb") dynamoDbLocal ??= openDynamoDbLocal();
      const db = table === "dynamodb" && dynamoDbLocal ? await dynamoDbLocal : dynamo;
      await ensureTable(db.client, tableName);
      const config = loadConfig(
        {
          ALIGN_API_KEY: SIM_KEY,
          ALIGN_BASE_URL: sandbox.url,
          ALIGN_TIMEOUT_MS: String(ALIGN_TIMEOUT_MS),
          TABLE_NAME: tableName,
          SIGNING_SECRETS: `sim:${"s".repeat(32)}`,
          DYNAMODB_ENDPOINT: db.endpoint,
          KYC_REFRESH_AFTER_SECONDS: "30",
          LOG_LEVEL: "error",
          DYNAMODB_TRANSACTIONS: table === "dynamodb" ? "true" : "false",
        },
        {},
      );

      const alignFetch: FetchLike = async (url, init) => {
        const label = `${init.method} ${pathLabel(new URL(url).pathname)}`;
        const instruction: Instruction = await scheduler.gate({ kind: "align", label });
        tick();
        const fault = instruction.alignFault;
        try {
          if (fault?.type === "status") {
            sandbox.addFault({
              route: "*",
              action: {
                type: "status",
                status: fault.status,
                ...(fault.retry_after === undefined ? {} : { retry_after: fault.retry_after }),
              },
            });
          }
          if (fault?.type === "drop") sandbox.addFault({ route: "*", action: { type: "drop", when: fault.when } });
          if (fault?.type === "timeout") {
            // Align commits and answers, but too late: the client times out first.
            await httpFetch(url, { ...init, signal: new AbortController().signal });
            return await waitForAbort(init.signal);
          }
          // Without the client's signal: its timer runs in real time from before the gate, so a slow turn
          // at the gate would time calls out at random. Only the timeout fault times a call out.
          return await httpFetch(url, { ...init, signal: new AbortController().signal });
        } finally {
          afterAlign?.(label, fault);
          await scheduler.afterCall(instruction);
        }
      };

      const runtime = createRuntime(config, new Logger({}, "error", () => undefined), {
        alignFetch,
        alignMaxRetries: 0,
      });
      runtime.dynamo.middlewareStack.add(
        (next, context) => async (args) => {
          const input = args.input as Record<string, unknown>;
          const instruction = await scheduler.gate({
            kind: "dynamo",
            label: `${context.commandName} ${partitionPrefix(input)}`,
          });
          tick();
          try {
            if (instruction.dynamoFault === "throttle") throw throttled();
            if (instruction.dynamoFault === "drop_before") throw reset();
            const output = await next(args);
            if (instruction.dynamoFault === "drop_after") throw reset();
            return output;
          } finally {
            await scheduler.afterCall(instruction);
          }
        },
        { step: "initialize", name: "simulationGate" },
      );
      setRuntime(runtime);
      current = { tableName, runtime, db };
      return runtime;
    },
    async endRun() {
      if (!current) return;
      const { tableName, runtime, db } = current;
      current = undefined;
      runtime.dynamo.destroy();
      await db.client.send(new DeleteTableCommand({ TableName: tableName }));
    },
    async close() {
      await world.endRun().catch(() => undefined);
      setClock(Date.now);
      await sandbox.close();
      await dynamo.close();
      await (await dynamoDbLocal?.catch(() => undefined))?.close();
    },
  };
  return world;
}
