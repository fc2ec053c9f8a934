/**
 * The simulated world: dynalite and the Align emulator on loopback, the real
 * handlers and stores installed with two seams (a gate before every DynamoDB
 * and Align call, see scheduler.ts), and a virtual clock. One world serves
 * many runs; each run gets a fresh table and an emptied emulator. A run whose
 * table is "dynamodb" plays on AWS's DynamoDB Local instead (a test run's,
 * DYNAMODB_LOCAL_ENDPOINT, or one this world starts), with transactions on.
 *
 * DynamoDB is reached through the wire proxy (test/support/dynamo-wire.ts),
 * with the SDK's production client settings: a gate's DynamoDB fault is armed
 * at the wire, beneath the SDK, so the SDK's own retries (a resend of a write
 * that already applied among them) happen as on AWS; and a schedule can make
 * the owner index lag the table, as DynamoDB's eventually consistent index
 * does. The Align emulator runs on the virtual clock too, so its KYC links
 * expire as the schedule's time passes.
 */

import { randomUUID } from "node:crypto";
import { Align, type FetchLike, httpFetch } from "@align-onboarding/align";
import { type AlignSandbox, type KycSessions, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { createRuntime, Logger, loadConfig, type Runtime, setClock, setRuntime } from "@align-onboarding/core";
import { type EmbeddedDynamo, ensureTable, openDynamoDbLocal, startEmbeddedDynamo } from "@align-onboarding/local";
import { DeleteTableCommand, ResourceNotFoundException } from "@aws-sdk/client-dynamodb";
import { type DynamoWire, startDynamoWire, type WireAction } from "../support/dynamo-wire.js";
import type { TableKind } from "./schedule.js";
import { type AlignFault, type DynamoFault, type Instruction, prng, type Scheduler } from "./scheduler.js";

export const SIM_KEY = "simulation-key";
/** Align calls time out after this (real ms): a timeout fault costs this much wall time, nothing else does. */
const ALIGN_TIMEOUT_MS = 200;
/** Align's KYC links live this long (virtual ms): a schedule's 40 s step expires some, a day's step all. */
export const SIM_KYC_LINK_TTL_MS = 60_000;

/**
 * Each DynamoDB fault as the wire plays it: what happens to each SDK attempt
 * (the SDK makes up to three), and for how many attempts. Once: the SDK's own
 * retry absorbs it (after an applied write, its resend meets that write).
 * Three times: the SDK gives up and the application sees it.
 */
export const WIRE_FAULTS: Record<DynamoFault, { action: WireAction; count: number }> = {
  throttle_once: { action: { type: "error", error: "ThrottlingException" }, count: 1 },
  throttle: { action: { type: "error", error: "ThrottlingException" }, count: 3 },
  throughput: { action: { type: "error", error: "ProvisionedThroughputExceededException" }, count: 3 },
  server_error_once: { action: { type: "error", error: "InternalServerError" }, count: 1 },
  server_error: { action: { type: "error", error: "InternalServerError" }, count: 3 },
  conflict: { action: { type: "error", error: "TransactionConflict" }, count: 3 },
  reset: { action: { type: "reset" }, count: 3 },
  answer_lost_once: { action: { type: "drop_response" }, count: 1 },
  answer_lost: { action: { type: "drop_response" }, count: 3 },
  slow: { action: { type: "slow", ms: 50 }, count: 1 },
};

/** What a run's world is like, beyond its table: drawn by the schedule. */
export interface RunWorld {
  /** The owner index lags each write by up to this (virtual ms; 0: strongly consistent, as dynalite is). */
  indexLagMs: number;
  /** Align's clock ahead of ours (ms; negative: behind): events dated in our future or past, a far-future one among them. */
  alignSkewMs: number;
  /** What Align does with a KYC start while a session is open: hand it back, or open another. */
  kycSessions: KycSessions;
  /** Align's customer list misses a new customer this long (its ms; 0 or absent: listed at once). */
  alignListLagMs?: number;
}

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
  beginRun(
    run: number,
    scheduler: Scheduler,
    table: TableKind,
    afterAlign?: AfterAlign,
    runWorld?: RunWorld,
  ): Promise<Runtime>;
  /** DynamoDB faults that fired at the wire in this run (SDK attempts hit), by kind. */
  firedFaults(): Record<string, number>;
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

function waitForAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

export async function startWorld(): Promise<World> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const dynamo = await startEmbeddedDynamo();
  // Virtual time moves only with the schedule (advances, calls in flight) and by 1 ms per I/O call, never
  // with the machine's own pace: leases, deadlines and the ordering rule see the same instants on every replay.
  let virtual = Math.floor(Date.now() / 1000) * 1000;
  const now = () => virtual;
  let alignSkewMs = 0;
  // Deliveries go nowhere (a closed port, one attempt): the schedule delivers Align's events itself. Align's
  // clock is the virtual one, ahead by the run's skew.
  const sandbox = await startAlignSandbox({
    apiKey: SIM_KEY,
    webhooks: { maxAttempts: 1, timeoutMs: 50 },
    now: () => virtual + alignSkewMs,
    kycLinkTtlMs: SIM_KYC_LINK_TTL_MS,
  });
  const wires = new Map<string, Promise<DynamoWire>>();
  const wireFor = (endpoint: string) => {
    let wire = wires.get(endpoint);
    if (!wire) {
      wire = startDynamoWire({ target: endpoint, now });
      wires.set(endpoint, wire);
    }
    return wire;
  };
  let fired: Record<string, number> = {};
  const tick = () => {
    virtual += 1;
  };
  setClock(now);
  let current: { tableName: string; runtime: Runtime; db: EmbeddedDynamo; wire: DynamoWire } | undefined;
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
    firedFaults: () => ({ ...fired }),
    async beginRun(run, scheduler, table, afterAlign, runWorld) {
      alignSkewMs = runWorld?.alignSkewMs ?? 0;
      fired = {};
      sandbox.reset();
      sandbox.setKycSessions(runWorld?.kycSessions ?? "reuse_active");
      // Align's search, eventually consistent: a create's retry may meet the 409 before its customer is listed.
      sandbox.setListLag(runWorld?.alignListLagMs ?? 0);
      sandbox.clearFaults();
      await new Align({ apiKey: SIM_KEY, baseUrl: sandbox.url, maxRetries: 0 }).webhooks.create({
        url: "http://127.0.0.1:9/simulation",
      });
      const tableName = `${prefix}-${run}`;
      if (table === "dynamodb") dynamoDbLocal ??= openDynamoDbLocal();
      const db = table === "dynamodb" && dynamoDbLocal ? await dynamoDbLocal : dynamo;
      await ensureTable(db.client, tableName);
      const wire = await wireFor(db.endpoint);
      wire.clear();
      const lagMs = runWorld?.indexLagMs ?? 0;
      if (lagMs > 0) {
        // Per write, a delay drawn from the run's own generator: the same schedule lags the same writes.
        const random = prng(run * 7919 + lagMs);
        await wire.setLag({ table: tableName, delay: () => Math.floor(random() * lagMs) });
      } else {
        await wire.setLag(undefined);
      }
      const config = loadConfig(
        {
          ALIGN_API_KEY: SIM_KEY,
          ALIGN_BASE_URL: sandbox.url,
          ALIGN_TIMEOUT_MS: String(ALIGN_TIMEOUT_MS),
          TABLE_NAME: tableName,
          SIGNING_SECRETS: `sim:${"s".repeat(32)}`,
          DYNAMODB_ENDPOINT: wire.endpoint,
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
      // The gate sits above the SDK's retries (one gate per call); its fault is armed at the wire, beneath
      // them. Only this operation runs until its next gate, so the next requests on the wire are its own.
      runtime.dynamo.middlewareStack.add(
        (next, context) => async (args) => {
          const input = args.input as Record<string, unknown>;
          const instruction = await scheduler.gate({
            kind: "dynamo",
            label: `${context.commandName} ${partitionPrefix(input)}`,
          });
          tick();
          const fault = instruction.dynamoFault;
          if (fault)
            wire.arm({ operation: (context.commandName ?? "").replace(/Command$/, ""), ...WIRE_FAULTS[fault] });
          try {
            return await next(args);
          } finally {
            if (fault) {
              const hits = WIRE_FAULTS[fault].count - wire.unfired();
              if (hits > 0) fired[fault] = (fired[fault] ?? 0) + 1;
              wire.clear();
            }
            await scheduler.afterCall(instruction);
          }
        },
        { step: "initialize", name: "simulationGate" },
      );
      setRuntime(runtime);
      current = { tableName, runtime, db, wire };
      return runtime;
    },
    async endRun() {
      if (!current) return;
      const { tableName, runtime, db, wire } = current;
      current = undefined;
      runtime.dynamo.destroy();
      await wire.setLag(undefined);
      wire.clear();
      for (const name of [tableName, `${tableName}-lagged`]) {
        await db.client.send(new DeleteTableCommand({ TableName: name })).catch((error: unknown) => {
          if (!(error instanceof ResourceNotFoundException)) throw error;
        });
      }
    },
    async close() {
      await world.endRun().catch(() => undefined);
      setClock(Date.now);
      await sandbox.close();
      for (const wire of wires.values()) await (await wire.catch(() => undefined))?.close();
      await dynamo.close();
      await (await dynamoDbLocal?.catch(() => undefined))?.close();
    },
  };
  return world;
}
