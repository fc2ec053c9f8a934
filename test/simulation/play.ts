/**
 * Plays one schedule against the real handlers, lets every caller retry until
 * it converges, then checks the system's invariants. A violation throws an
 * `InvariantError` naming the invariant and the evidence.
 */
import { randomUUID } from "node:crypto";
import { type CustomerKycsUpdatedEvent, signPayload } from "@align-onboarding/align";
import type { ApiResult, Runtime } from "@align-onboarding/core";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import { handler as alignWebhook } from "../../functions/align-webhook.js";
import { handler as createCustomer } from "../../functions/create-customer.js";
import { handler as getCustomer } from "../../functions/get-customer.js";
import { handler as sandboxSimulate } from "../../functions/sandbox-simulate.js";
import { handler as startKyc } from "../../functions/start-kyc.js";
import type { Op, Plan, Schedule } from "./schedule.js";
import { type Instruction, type IoCall, Scheduler } from "./scheduler.js";
import { SIM_KEY, type World } from "./world.js";

export class InvariantError extends Error {
  override name = "InvariantError";
  /** The I/O calls of the run in the order the scheduler released them. */
  trace = "";
}

/** What a run did, for the report. */
export interface RunStats {
  operations: number;
  faults: Record<string, number>;
  crashes: number;
  retries: number;
  /** TransactWriteItems calls that ran (only on a DynamoDB-like table). */
  transactions: number;
}

/** One answer a caller (or Align) received. */
interface Answer {
  op: number;
  caller: number | undefined;
  /** `route|caller|key` for idempotent requests. */
  idempotency: string | undefined;
  /** Increments with each 24-hour jump: a key's record is forgotten across one. */
  epoch: number;
  start: number;
  end: number;
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const BUDGET_MS = 10_000;
const NAMES = ["Ada", "Grace", "Edsger"] as const;
const sub = (caller: number) => `sim-user-${caller}`;
const emailOf = (index: number) => `sim-${index}@example.com`;
const kycRank = (kycs: unknown) => {
  if (kycs === null || kycs === undefined) return 0;
  const status = (kycs as { status?: unknown }).status;
  return status === "approved" ? 3 : status === "rejected" ? 2 : 1;
};
/** Refusals decided before a request runs: not stored, so the same key may run later (README "Idempotency"). */
const BEFORE_RUNNING = new Set([
  "validation_failed",
  "unauthorized",
  "not_found",
  "kyc_not_started",
  "idempotency_key_reused",
]);
/**
 * Final: what a retry must get again. A 5xx, or a 4xx with Retry-After, says
 * "retry"; a refusal before running is not an outcome of the key.
 */
const isFinal = (a: Answer) =>
  a.status < 500 && a.headers["retry-after"] === undefined && !BEFORE_RUNNING.has(String(a.body.code));
const withoutRequestId = (body: Record<string, unknown>) => {
  const { request_id: _id, ...rest } = body;
  return JSON.stringify(rest);
};

function apiEvent(
  method: string,
  routeKey: string,
  path: string,
  options: { caller?: number; key?: string; body?: string; pathParameters?: Record<string, string> },
) {
  const headers: Record<string, string> = {};
  if (options.key !== undefined) headers["idempotency-key"] = options.key;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const requestId = randomUUID();
  return {
    version: "2.0",
    routeKey,
    rawPath: path,
    rawQueryString: "",
    headers,
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    requestContext: {
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "simulation" },
      requestId,
      routeKey,
      stage: "$default",
      ...(options.caller === undefined ? {} : { authorizer: { jwt: { claims: { sub: sub(options.caller) } } } }),
    },
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: false,
  };
}

/** An operation with its target resolved: what is sent, and what a retry sends again. */
interface Call {
  kind: Op["kind"];
  caller: number | undefined;
  /** The customer addressed (get, KYC, simulate). */
  id?: string;
  key?: string;
  body?: string;
  signature?: string;
  /** `route|caller|key` for idempotent requests. */
  idempotency?: string;
}

export async function play(world: World, run: number, schedule: Schedule): Promise<RunStats> {
  const stats: RunStats = { operations: 0, faults: {}, crashes: 0, retries: 0, transactions: 0 };
  const plans = new Map<number, Plan>();
  const kindCalls = new Map<string, number>();
  const planner = (op: number, callIndex: number, call: IoCall): Instruction => {
    const plan = plans.get(op);
    const instruction: Instruction = {};
    if (!plan) return instruction;
    // A fault's `at` counts the operation's calls of its own kind (its 1st Align call, its 3rd DynamoDB call).
    const counter = `${op}|${call.kind}`;
    const kindIndex = kindCalls.get(counter) ?? 0;
    kindCalls.set(counter, kindIndex + 1);
    for (const fault of plan.faults) {
      if (fault.dynamo && call.kind === "dynamo" && fault.at === kindIndex) instruction.dynamoFault = fault.dynamo;
      if (fault.align && call.kind === "align" && fault.at === kindIndex) instruction.alignFault = fault.align;
    }
    if (plan.crash?.at === callIndex) instruction.crash = plan.crash.when;
    const align = instruction.alignFault;
    const label =
      instruction.dynamoFault ??
      (align?.type === "status"
        ? `align ${align.status}`
        : align && `align ${align.type}${align.type === "drop" ? ` ${align.when}` : ""}`);
    if (label) stats.faults[label] = (stats.faults[label] ?? 0) + 1;
    if (instruction.crash) stats.crashes += 1;
    return instruction;
  };
  const scheduler = new Scheduler(schedule.interleaving, planner);
  const runtime: Runtime = await world.beginRun(run, scheduler, schedule.table);
  const answers: Answer[] = [];
  let clock = 0;
  let epoch = 0;
  let nextOp = 0;
  /** Customer ids each caller learnt, in order (the schedule's `target` indexes into them). */
  const known: string[][] = Array.from({ length: 3 }, () => []);
  /** Every 201 of a create a caller saw: [caller, customer id]. */
  const created: [number, string][] = [];
  /** Idempotent requests by key, to retry until they settle. */
  const requests = new Map<string, Call>();
  /** Emails whose create may have reached Align under a key whose record then expired unsettled. */
  const expiredEmails = new Set<string>();
  /** Events as Align recorded them, with `created_at` moved onto the virtual clock. */
  const events: string[] = [];
  let deliveriesSeen = 0;

  const collectEvents = () => {
    const deliveries = world.sandbox.state().deliveries;
    for (const delivery of deliveries.slice(deliveriesSeen)) {
      const event = JSON.parse(delivery.body) as CustomerKycsUpdatedEvent;
      const virtual = Date.parse(event.created_at) + (world.now() - Date.now());
      events.push(JSON.stringify({ ...event, created_at: new Date(virtual).toISOString() }));
    }
    deliveriesSeen = deliveries.length;
  };

  const targetOf = (caller: number, target: number): string => {
    const mine = known[caller] ?? [];
    const others = known.filter((_, index) => index !== caller).flat();
    if (target < 5 && mine.length > 0) return mine[target % mine.length] as string;
    if (target < 7 && others.length > 0) return others[target % others.length] as string;
    return "00000000-0000-4000-8000-000000000000"; // nobody's
  };

  const resolve = (op: Op): Call => {
    switch (op.kind) {
      case "create": {
        const key = `c${op.caller}-e${op.email}-k${op.key}`;
        const body = JSON.stringify({
          email: emailOf(op.email),
          type: "individual",
          first_name: NAMES[op.caller],
          last_name: "Sim",
        });
        return { kind: op.kind, caller: op.caller, key, body, idempotency: `create|${op.caller}|${key}` };
      }
      case "get":
        return { kind: op.kind, caller: op.caller, id: targetOf(op.caller, op.target) };
      case "list":
        return { kind: op.kind, caller: op.caller };
      case "kyc":
      case "simulate": {
        const id = targetOf(op.caller, op.target);
        const key = `${op.kind}-${id}-k${op.key}`;
        return {
          kind: op.kind,
          caller: op.caller,
          id,
          key,
          idempotency: `${op.kind}|${op.caller}|${key}`,
          ...(op.kind === "simulate" ? { body: '{"action":"kyc.status.approve"}' } : {}),
        };
      }
      case "deliver": {
        const body = events.length === 0 ? "{}" : (events[op.event % events.length] as string);
        return {
          kind: op.kind,
          caller: undefined,
          body,
          signature: signPayload(body, op.mode === "forged" ? "not-the-key" : SIM_KEY),
        };
      }
    }
  };

  const invoke = (call: Call, opId: number): Promise<ApiResult> => {
    const deadline = world.now() + BUDGET_MS;
    const context = {
      awsRequestId: `sim-${opId}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - world.now()),
    };
    const id = call.id ?? "";
    const options = {
      ...(call.caller === undefined ? {} : { caller: call.caller }),
      ...(call.key === undefined ? {} : { key: call.key }),
      ...(call.body === undefined ? {} : { body: call.body }),
      ...(call.id === undefined ? {} : { pathParameters: { customer_id: id } }),
    };
    switch (call.kind) {
      case "create":
        return createCustomer(apiEvent("POST", "POST /customers", "/customers", options) as never, context);
      case "get":
        return getCustomer(
          apiEvent("GET", "GET /customers/{customer_id}", `/customers/${id}`, options) as never,
          context,
        );
      case "list":
        return getCustomer(apiEvent("GET", "GET /customers", "/customers", options) as never, context);
      case "kyc":
        return startKyc(
          apiEvent(
            "POST",
            "POST /customers/{customer_id}/kyc-sessions",
            `/customers/${id}/kyc-sessions`,
            options,
          ) as never,
          context,
        );
      case "simulate":
        return sandboxSimulate(
          apiEvent(
            "POST",
            "POST /sandbox/customers/{customer_id}/simulate",
            `/sandbox/customers/${id}/simulate`,
            options,
          ) as never,
          context,
        );
      case "deliver": {
        const event = apiEvent("POST", "POST /webhooks/align", "/webhooks/align", options);
        event.headers["x-hmac-signature"] = call.signature ?? "";
        return alignWebhook(event as never, context);
      }
    }
  };

  const learn = (call: Call, status: number, body: Record<string, unknown>) => {
    if (call.caller === undefined || status >= 500 || status === 404) return;
    const list = known[call.caller] as string[];
    const ids: unknown[] = [body.customer_id];
    if (Array.isArray(body.items))
      for (const item of body.items) ids.push((item as { customer_id?: unknown }).customer_id);
    for (const id of ids) if (typeof id === "string" && !list.includes(id)) list.push(id);
    if (call.kind === "create" && status === 201 && typeof body.customer_id === "string") {
      created.push([call.caller, body.customer_id]);
    }
  };

  /** Starts a call as a new operation (it runs until its first gate). */
  const launch = (call: Call, plan: Plan): Promise<void> => {
    const opId = nextOp++;
    stats.operations += 1;
    plans.set(opId, plan);
    if (call.idempotency) requests.set(call.idempotency, call);
    const start = clock++;
    return scheduler
      .start(opId, () => invoke(call, opId))
      .then((result) => {
        const body = JSON.parse(result.body || "{}") as Record<string, unknown>;
        answers.push({
          op: opId,
          caller: call.caller,
          idempotency: call.idempotency,
          epoch,
          start,
          end: clock++,
          status: result.statusCode,
          headers: result.headers,
          body,
        });
        learn(call, result.statusCode, body);
      });
  };

  /** One call alone, with no faults, to completion. */
  const alone = async (call: Call): Promise<void> => {
    const pending = launch(call, { faults: [] });
    await scheduler.drain();
    await pending;
    collectEvents();
  };

  for (const wave of schedule.waves) {
    if (wave.kind === "advance") {
      world.advance(wave.ms);
      if (wave.ms >= 24 * 60 * 60 * 1000) {
        epoch += 1;
        // A create left unsettled across its key's 24 hours may leave an orphan nobody can claim (documented).
        for (const [idempotency, call] of requests) {
          const last = answers.filter((a) => a.idempotency === idempotency).at(-1);
          if (call.kind === "create" && (!last || !isFinal(last))) {
            expiredEmails.add(String((JSON.parse(call.body ?? "{}") as { email?: string }).email));
          }
        }
      }
      continue;
    }
    const calls = wave.ops.map((op) => ({ op, call: resolve(op) }));
    for (const { op, call } of calls) void launch(call, op.plan);
    await scheduler.drain();
    collectEvents();
  }

  // Convergence: no more faults; crashed invocations' leases expire; every unsettled request is retried.
  const played = scheduler.trace.length;
  scheduler.replan(() => ({}));
  plans.clear();
  for (let round = 0; round < 6; round++) {
    world.advance(40_000);
    // Settled: a final answer, or a refusal before running (retrying it unchanged changes nothing).
    const unsettled = [...requests].filter(([idempotency]) => {
      const last = answers.filter((a) => a.idempotency === idempotency).at(-1);
      return !last || (!isFinal(last) && !BEFORE_RUNNING.has(String(last.body.code)));
    });
    if (unsettled.length === 0) break;
    for (const [, call] of unsettled) {
      stats.retries += 1;
      await alone(call);
    }
  }
  // Statuses converge through GET's refresh rule once its bound has passed.
  world.advance(40_000);
  for (const [caller, id] of created) await alone({ kind: "get", caller, id });

  try {
    await check({ world, runtime, answers, created, expiredEmails });
  } catch (error) {
    if (error instanceof InvariantError) {
      const trace = scheduler.trace;
      error.trace = [...trace.slice(0, played), "(convergence: no faults)", ...trace.slice(played)]
        .slice(0, 80)
        .join("\n");
    }
    throw error;
  }
  await world.endRun();
  stats.transactions = scheduler.trace.filter((line) => line.includes("TransactWriteItemsCommand")).length;
  return stats;
}

interface Evidence {
  world: World;
  runtime: Runtime;
  answers: Answer[];
  created: [number, string][];
  expiredEmails: Set<string>;
}

async function check({ world, runtime, answers, created, expiredEmails }: Evidence): Promise<void> {
  const fail = (invariant: string, detail: unknown) => {
    throw new InvariantError(`${invariant}: ${JSON.stringify(detail)}`);
  };
  const items = (await world.dynamo.client.send(new ScanCommand({ TableName: runtime.config.tableName }))).Items ?? [];
  const records = new Map(
    items
      .filter((item) => item.sk?.S === "CUSTOMER")
      .map((item) => [
        item.customer_id?.S ?? "",
        { owner: item.owner?.S ?? "", data: JSON.parse(item.data?.S ?? "{}") },
      ]),
  );
  const align = world.sandbox.state().customers;

  // 1. At most one Align customer per email; every Align customer is recorded under exactly one owner, every record has one.
  const perEmail = new Map<string, number>();
  for (const customer of align)
    perEmail.set(customer.email.toLowerCase(), (perEmail.get(customer.email.toLowerCase()) ?? 0) + 1);
  for (const [email, count] of perEmail) if (count > 1) fail("1. one Align customer per email", { email, count });
  for (const customer of align) {
    if (!records.has(customer.customer_id) && !expiredEmails.has(customer.email)) {
      fail("1. no orphan: every Align customer made through us is recorded", { customer_id: customer.customer_id });
    }
  }
  for (const [id] of records) {
    if (!align.some((customer) => customer.customer_id === id))
      fail("1. no ghost: every record has an Align customer", { id });
  }

  // 2. Every 201 a caller saw is still readable by that caller and equals Align's state once converged.
  for (const [caller, id] of created) {
    const record = records.get(id);
    if (record?.owner !== `sim-user-${caller}`)
      fail("2. a created customer stays the caller's", { caller, id, owner: record?.owner });
    const atAlign = align.find((customer) => customer.customer_id === id);
    const ours = record?.data as { kycs?: { status?: string; kyc_flow_link?: string } | null; email?: string };
    const theirs = atAlign as unknown as { kycs?: { status?: string; kyc_flow_link?: string } | null; email?: string };
    if (
      !atAlign ||
      ours.email !== theirs.email ||
      (ours.kycs?.status ?? null) !== (theirs.kycs?.status ?? null) ||
      (ours.kycs?.kyc_flow_link ?? null) !== (theirs.kycs?.kyc_flow_link ?? null)
    ) {
      fail("2. the record equals Align's state once converged", { id, ours: ours.kycs, theirs: theirs?.kycs });
    }
  }

  // 3. Every replay of a key equals its first final answer (request id aside), within the key's 24 hours.
  const firstFinal = new Map<string, Answer>();
  for (const answer of [...answers].sort((a, b) => a.end - b.end)) {
    if (!answer.idempotency) continue;
    const scope = `${answer.idempotency}|${answer.epoch}`;
    const first = firstFinal.get(scope);
    if (!first) {
      if (isFinal(answer)) firstFinal.set(scope, answer);
      continue;
    }
    // A request that began after the first final answer was given must get it again; one in flight meanwhile
    // may have been told to retry (409 in use, a transient 5xx), which is not an answer.
    if (answer.start < first.end || !isFinal(answer)) continue;
    if (answer.status !== first.status || withoutRequestId(answer.body) !== withoutRequestId(first.body)) {
      fail("3. a replay equals the first final answer", {
        key: answer.idempotency,
        first: [first.status, first.body.code ?? first.body.customer_id],
        later: [answer.status, answer.body.code ?? answer.body.customer_id],
      });
    }
  }

  // 4. No 5xx without Retry-After; no 5xx is ever replayed.
  for (const answer of answers) {
    if (answer.status >= 500 && answer.headers["retry-after"] === undefined)
      fail("4. every 5xx has Retry-After", answer.body.code);
    if (answer.status >= 500 && answer.headers["idempotent-replayed"] === "true")
      fail("4. no 5xx is replayed", answer.body.code);
  }

  // 5. No caller ever received another caller's customer.
  for (const answer of answers) {
    if (answer.caller === undefined || answer.status >= 500) continue;
    const ids: unknown[] = [answer.body.customer_id];
    if (Array.isArray(answer.body.items))
      for (const item of answer.body.items) ids.push((item as { customer_id?: unknown }).customer_id);
    for (const id of ids) {
      if (typeof id !== "string" || answer.status === 404) continue;
      const owner = records.get(id)?.owner;
      if (owner !== `sim-user-${answer.caller}`)
        fail("5. no caller sees another's customer", { caller: answer.caller, id, owner });
    }
  }

  // 6. A KYC status a caller saw never moves backwards (for reads that began after another ended).
  const seen = answers
    .filter(
      (a) => a.caller !== undefined && a.status === 200 && typeof a.body.customer_id === "string" && "kycs" in a.body,
    )
    .map((a) => ({ key: `${a.caller}|${a.body.customer_id}`, start: a.start, end: a.end, rank: kycRank(a.body.kycs) }));
  for (const earlier of seen) {
    for (const later of seen) {
      if (later.key === earlier.key && later.start > earlier.end && later.rank < earlier.rank) {
        fail("6. a KYC status never moves backwards", { customer: earlier.key, from: earlier.rank, to: later.rank });
      }
    }
  }
}
