/**
 * Plays one schedule against the real handlers, lets every caller retry until
 * it converges, and checks the system's invariants: on every answer as it is
 * given (against Align's state at that moment), and on the table before and
 * after a final refresh. A violation throws an `InvariantError` naming the
 * invariant and the evidence.
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
import { finality, isFinal } from "./finality.js";
import { EMAILS, type Op, type Plan, type Schedule } from "./schedule.js";
import { type AlignFault, type DynamoFault, type Instruction, type IoCall, prng, Scheduler } from "./scheduler.js";
import { SIM_KEY, type World } from "./world.js";

export class InvariantError extends Error {
  override name = "InvariantError";
  /** The I/O calls of the run in the order the scheduler released them. */
  trace = "";
  /** What the run did until the violation (its reach still counts when the violation is looked past). */
  stats: RunStats | undefined;
}

/** How far a run got: what the reach report adds up (per 1,000 schedules). */
export const REACH = [
  "approvals",
  "webhooksApplied",
  "kycStarts201",
  "parallelKeyRuns",
  "emailContests",
  "contestsBothLost",
  "identicalBodies",
  "mixedCaseCreates",
  "promptDeliveries",
  "redeliveries",
  "staleRedeliveries",
  "olderSessionRedeliveries",
  "deadlinesMidCall",
  "gets200",
  "gets404",
] as const;
export type Reach = Record<(typeof REACH)[number], number>;

/** What a run did, for the report. */
export interface RunStats {
  operations: number;
  faults: Record<string, number>;
  crashes: number;
  retries: number;
  /** TransactWriteItems calls that ran (only on DynamoDB Local). */
  transactions: number;
  reach: Reach;
}

/** One answer a caller (or Align) received. */
interface Answer {
  op: number;
  call: Call;
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

/** Align's customer as the emulator holds it (the fields we compare). */
interface AlignCustomer {
  customer_id: string;
  email: string;
  type?: string;
  first_name?: string;
  last_name?: string;
  company_name?: string;
  kycs: { status: string; kyc_flow_link?: string; [field: string]: unknown } | null;
}

const BUDGET_MS = 10_000;
/** An attempt's lock lasts this long from its start (its deadline plus handler.ts's `LEASE_MARGIN_MS`). */
const LEASE_MS = BUDGET_MS + 2_000;
/** Gate labels of the writes to an idempotency record (world.ts names a call by command and key prefix). */
const BEGIN_WRITES = new Set(["PutItemCommand IDEMPOTENCY#"]);
const SETTLE_WRITES = new Set(["UpdateItemCommand IDEMPOTENCY#", "DeleteItemCommand IDEMPOTENCY#"]);

/**
 * A plan's `resend` fault (schedule.ts): each of the operation's writes to its idempotency record it aims at
 * loses its answer once after the table applied it, so the SDK resends it, as AWS's SDK does after a 500 or a
 * timeout. Only the idempotency store writes transactions (KYC start's completion with its session).
 */
export function resendFault(plan: Plan, call: IoCall): DynamoFault | undefined {
  if (call.kind !== "dynamo" || plan.resend === undefined) return undefined;
  const aimed =
    plan.resend === "begin"
      ? BEGIN_WRITES.has(call.label)
      : SETTLE_WRITES.has(call.label) || call.label.startsWith("TransactWriteItemsCommand");
  return aimed ? "answer_lost_once" : undefined;
}
const NAMES = ["Ada", "Grace", "Edsger"] as const;
/** The share of events that come in the older format, without `entity_object` (Align's docs show both). */
const OLD_FORMAT_DELIVERY = 0.15;
/** Events Align delivers as it publishes them (the rest wait for a redelivery or the GET refresh). */
const PROMPT_DELIVERY = 0.85;
/**
 * The share of events after which Align also redelivers the customer's first
 * event again, later (with the next wave, after any time that passed): the
 * at-least-once redelivery that brings an old state back after a newer one.
 */
const LATER_REDELIVERY = 0.6;
/** The share of deliveries as published whose invocation dies before its first call (then redelivered later). */
const PROMPT_DELIVERY_DIES = 0.2;
const sub = (caller: number) => `sim-user-${caller}`;
/** The key index decides the spelling: the same email, three ways. */
const SPELLINGS = [
  (index: number) => `sim-${index}@example.com`,
  (index: number) => `Sim-${index}@Example.com`,
  (index: number) => `SIM-${index}@EXAMPLE.COM`,
];
const kycRank = (kycs: unknown) => {
  if (kycs === null || kycs === undefined) return 0;
  const status = (kycs as { status?: unknown }).status;
  return status === "approved" ? 3 : status === "rejected" ? 2 : 1;
};
const withoutRequestId = (body: Record<string, unknown>) => {
  const { request_id: _id, ...rest } = body;
  return JSON.stringify(rest);
};
const normalised = (value: unknown) => (typeof value === "string" ? value.trim().toLowerCase() : "");
/** What decides whether an Align customer is a create's (recovery's `matchesRequest`): type and names. */
const requestDetail = (body: { type?: unknown; first_name?: unknown; last_name?: unknown; company_name?: unknown }) =>
  JSON.stringify([body.type, body.first_name, body.last_name, body.company_name].map(normalised));
/** KYC sessions equal field by field (whatever order each side wrote them in). */
function sameKycs(ours: AlignCustomer["kycs"] | undefined, theirs: AlignCustomer["kycs"] | undefined): boolean {
  if (!ours || !theirs) return !ours && !theirs;
  const fields = new Set([...Object.keys(ours), ...Object.keys(theirs)]);
  return [...fields].every((field) => JSON.stringify(ours[field] ?? null) === JSON.stringify(theirs[field] ?? null));
}
/** Every field we store of Align's customer, kycs aside. */
const FIELDS = ["customer_id", "email", "type", "first_name", "last_name", "company_name"] as const;

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
  kind: Exclude<Op["kind"], "next">;
  caller: number | undefined;
  /** The customer addressed (get, KYC, simulate). */
  id?: string;
  key?: string;
  body?: string;
  signature?: string;
  /** `route|caller|key` for idempotent requests. */
  idempotency?: string;
  /** A delivery: as Align published it, or a redelivery of the same bytes (`stale`: its customer moved on since). */
  delivery?: "prompt" | "redelivery" | "stale" | "forged";
}

function describeCall(call: Call): string {
  const who = call.caller === undefined ? "Align" : `user-${call.caller}`;
  const what = call.kind === "deliver" ? `deliver (${call.delivery})` : call.kind;
  const target = call.id ? ` ${call.id.slice(0, 8)}` : "";
  return `${who} ${what}${target}${call.key ? ` key ${call.key}` : ""}`;
}

/** The body a create sends: the key index decides the spelling and whose names (the email's or the caller's). */
export function createBody(caller: number, email: number, key: number): string {
  const spelled = (SPELLINGS[key] ?? SPELLINGS[0])?.(email) as string;
  const names =
    key < 2
      ? { first_name: NAMES[email % NAMES.length], last_name: "Sim" }
      : { first_name: NAMES[caller % NAMES.length], last_name: "Solo" };
  return JSON.stringify({ email: spelled, type: "individual", ...names });
}

export async function play(world: World, run: number, schedule: Schedule): Promise<RunStats> {
  const reach = Object.fromEntries(REACH.map((name) => [name, 0])) as Reach;
  const stats: RunStats = { operations: 0, faults: {}, crashes: 0, retries: 0, transactions: 0, reach };
  const plans = new Map<number, Plan>();
  const kindCalls = new Map<string, number>();
  /** Operations whose call was in flight past their deadline: late originals. */
  const late = new Set<number>();
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
    const resend = instruction.dynamoFault ? undefined : resendFault(plan, call);
    if (resend) instruction.dynamoFault = resend;
    if (plan.crash?.at === callIndex) instruction.crash = plan.crash.when;
    if (plan.stall?.at === callIndex) {
      instruction.stallMs = plan.stall.ms;
      late.add(op);
      reach.deadlinesMidCall += 1;
    }
    // DynamoDB faults are counted where they fire, at the wire (world.firedFaults); Align's here.
    const align = instruction.alignFault;
    const label =
      align?.type === "status"
        ? `align ${align.status}`
        : align && `align ${align.type}${align.type === "drop" ? ` ${align.when}` : ""}`;
    if (label) stats.faults[label] = (stats.faults[label] ?? 0) + 1;
    if (instruction.crash) stats.crashes += 1;
    return instruction;
  };
  const scheduler = new Scheduler(schedule.interleaving, planner, (ms) => world.advance(ms));
  const random = prng(schedule.interleaving ^ 0x5eed);
  const answers: Answer[] = [];
  let clock = 0;
  let epoch = 0;
  let nextOp = 0;
  /** The first violation seen as answers are given (thrown once the wave drains). */
  let violation: InvariantError | undefined;
  const fail = (invariant: string, detail: unknown) => {
    violation ??= new InvariantError(`${invariant}: ${JSON.stringify(detail)}`);
  };
  /** Customer ids each caller learnt, in order (the schedule's `target` indexes into them). */
  const known: string[][] = Array.from({ length: 3 }, () => []);
  /** Every 201 of a create a caller saw: [caller, customer id]. */
  const created: [number, string][] = [];
  /** Idempotent requests by key, to retry until they settle. */
  const requests = new Map<string, Call>();
  /** Operations in flight by idempotency key (a second one is a parallel run of the key). */
  const inFlight = new Map<string, number>();
  /** The call each operation makes (to attribute what Align did during it). */
  const callOf = new Map<number, Call>();
  /** Emails whose create may have reached Align under a key whose record then expired unsettled. */
  const expiredEmails = new Set<string>();
  /** Events as Align recorded them, with `created_at` moved onto the virtual clock. */
  const events: string[] = [];
  /** What each event said (by index in `events`): its customer and that customer's KYC as published. */
  const eventSaid: { customer: string; status: string | undefined; link: string | undefined }[] = [];
  /** When Align issued each KYC link (virtual ms), and whether the call that issued it ran without a stall. */
  const linkIssued = new Map<string, { at: number; prompt: boolean }>();
  /** Events (by index) Align will deliver again with the next wave. */
  const redeliverLater: number[] = [];
  let deliveriesSeen = 0;
  /** Which create made each Align customer: the caller and what it asked for. */
  const madeBy = new Map<string, { caller: number; detail: string }>();
  /** What each caller asked a create for, per email (lower case): request details. */
  const asked = new Map<string, Set<string>>();
  /** Every KYC link Align issued, per customer. */
  const issued = new Map<string, Set<string>>();
  /** KYC sessions Align opened for each KYC-start key and epoch (late originals aside). */
  const sessionRequests = new Map<string, number>();
  /** Sessions the emulator held after the last Align call: what a call opened is the difference. */
  let sessionsSeen = 0;
  const pendingLaunches: Promise<void>[] = [];
  /** Which operation was which (printed with a violation's trace). */
  const legend: string[] = [];

  const alignCustomers = () => world.sandbox.state().customers as unknown as AlignCustomer[];

  /** After every Align call, in its operation: what Align made, issued and published, as soon as it exists. */
  const afterAlign = (label: string, fault: AlignFault | undefined) => {
    const op = scheduler.current();
    const call = op === undefined ? undefined : callOf.get(op);
    const committed = !fault || fault.type === "timeout" || (fault.type === "drop" && fault.when === "after_commit");
    const state = world.sandbox.state();
    for (const customer of state.customers as unknown as AlignCustomer[]) {
      if (!madeBy.has(customer.customer_id) && call?.kind === "create" && call.caller !== undefined) {
        madeBy.set(customer.customer_id, { caller: call.caller, detail: requestDetail(customer) });
      }
      const link = customer.kycs?.kyc_flow_link;
      if (link && !linkIssued.has(link)) {
        // Seen right after the call that issued it (this hook runs after every Align call).
        const stalled = op !== undefined && (late.has(op) || plans.get(op)?.stall !== undefined);
        linkIssued.set(link, { at: world.now(), prompt: !stalled });
        // A new session of a customer with an older one (no event of its own): Align redelivers the older later.
        const first = eventSaid.findIndex((earlier) => earlier.customer === customer.customer_id);
        if (first >= 0 && eventSaid[first]?.link !== link) redeliverLater.push(first);
      }
      if (link) {
        const links = issued.get(customer.customer_id) ?? new Set<string>();
        links.add(link);
        issued.set(customer.customer_id, links);
      }
    }
    // Sessions, not requests: Align hands an open session back to a second request, and a retry that asks
    // again because Align still shows an older session opens the key's first one.
    const sessions = state.kyc_sessions_opened;
    const opened = sessions - sessionsSeen;
    sessionsSeen = sessions;
    if (
      committed &&
      opened > 0 &&
      label.startsWith("POST /v0/customers/{id}/kyc") &&
      call?.idempotency &&
      op !== undefined
    ) {
      if (!late.has(op)) {
        const scope = `${call.idempotency}|${epoch}`;
        const count = (sessionRequests.get(scope) ?? 0) + opened;
        sessionRequests.set(scope, count);
        if (count > 1) fail("7. at most one Align KYC session per KYC-start key", { key: call.idempotency, count });
      }
    }
    for (const delivery of state.deliveries.slice(deliveriesSeen)) {
      // As Align made it: the emulator runs on the virtual clock (ahead by the run's skew). Some reach us
      // in the older format, naming the customer only, so the receiver re-reads it from Align.
      const event = JSON.parse(delivery.body) as CustomerKycsUpdatedEvent & { entity_object?: unknown };
      const { entity_object: _object, ...named } = event;
      const body = random() < OLD_FORMAT_DELIVERY ? JSON.stringify(named) : delivery.body;
      events.push(body);
      const said = event.entity_object as { kycs?: { status?: string; kyc_flow_link?: string } | null } | undefined;
      eventSaid.push({
        customer: String(event.entity_id),
        status: said?.kycs?.status,
        link: said?.kycs?.kyc_flow_link,
      });
      const first = eventSaid.findIndex((earlier) => earlier.customer === String(event.entity_id));
      if (first < events.length - 1 && random() < LATER_REDELIVERY) redeliverLater.push(first);
      // Delivered as published: it races the operation that caused it (and may overtake our own write).
      if (random() < PROMPT_DELIVERY) {
        reach.promptDeliveries += 1;
        const prompt: Call = {
          kind: "deliver",
          caller: undefined,
          body,
          signature: signPayload(body, SIM_KEY),
          delivery: "prompt",
        };
        // Sometimes the receiver dies before it writes anything: Align gets no 200 and delivers it again later.
        const dies = random() < PROMPT_DELIVERY_DIES;
        if (dies) redeliverLater.push(events.length - 1);
        pendingLaunches.push(launch(prompt, dies ? { faults: [], crash: { at: 0, when: "before" } } : { faults: [] }));
      }
    }
    deliveriesSeen = state.deliveries.length;
  };

  const runtime: Runtime = await world.beginRun(run, scheduler, schedule.table, afterAlign, schedule.world);

  const targetOf = (caller: number, target: number): string => {
    const mine = known[caller] ?? [];
    const others = known.filter((_, index) => index !== caller).flat();
    // Newest first, so a caller's flow moves on (create, start KYC, approve) more often than not.
    if (target < 7 && mine.length > 0) return mine[mine.length - 1 - (target % mine.length)] as string;
    if (target < 9 && others.length > 0) return others[target % others.length] as string;
    if (mine.length > 0) return mine[mine.length - 1] as string;
    return "00000000-0000-4000-8000-000000000000"; // nobody's
  };

  /** A forged event: a real one's bytes, with the status Align never gave, signed with the wrong key. */
  const forge = (body: string) => {
    const event = JSON.parse(body) as CustomerKycsUpdatedEvent & { entity_object?: { kycs?: unknown } };
    const object = event.entity_object as Record<string, unknown> | undefined;
    const kycs = (object?.kycs ?? {}) as Record<string, unknown>;
    const forged = {
      ...event,
      created_at: new Date(world.now()).toISOString(),
      ...(object ? { entity_object: { ...object, kycs: { ...kycs, status: "approved" } } } : {}),
    };
    return JSON.stringify(forged);
  };

  /** The highest KYC status each caller saw per customer: where its flow stands. */
  const progress = new Map<string, number>();
  const nextStep = (caller: number, key: number): Op => {
    const newest = known[caller]?.at(-1);
    const plan = { faults: [] };
    if (newest === undefined) return { kind: "create", caller, email: (caller + key) % EMAILS, key, plan };
    const rank = progress.get(`${caller}|${newest}`) ?? 0;
    if (rank === 0) return { kind: "kyc", caller, target: 0, key, plan };
    // Pending: approve it, or (a user back after a while, key index 2) ask for a new session first.
    if (rank === 1)
      return key === 2
        ? { kind: "kyc", caller, target: 0, key, plan }
        : { kind: "simulate", caller, target: 0, key, plan };
    // Approved: the app reads it, lists, or (a returning user) starts KYC again and must be told it is approved.
    if (key === 0) return { kind: "get", caller, target: 0, plan };
    return key === 1 ? { kind: "kyc", caller, target: 0, key: 2, plan } : { kind: "list", caller, plan };
  };

  /** Whether the customer of event `index` has moved on at Align since it was published. */
  const hasMovedOn = (index: number) => {
    const said = eventSaid[index];
    const now = alignCustomers().find((customer) => customer.customer_id === said?.customer)?.kycs;
    return said !== undefined && (now?.status !== said.status || now?.kyc_flow_link !== said.link);
  };
  /** Align's later redelivery of event `index`: the same bytes. */
  const redelivery = (index: number): Call => {
    const body = events[index] as string;
    return {
      kind: "deliver",
      caller: undefined,
      body,
      signature: signPayload(body, SIM_KEY),
      delivery: hasMovedOn(index) ? "stale" : "redelivery",
    };
  };

  const resolve = (op: Op): Call => {
    switch (op.kind) {
      case "next":
        return resolve(nextStep(op.caller, op.key));
      case "create": {
        const key = `c${op.caller}-e${op.email}-k${op.key}`;
        return {
          kind: op.kind,
          caller: op.caller,
          key,
          body: createBody(op.caller, op.email, op.key),
          idempotency: `create|${op.caller}|${key}`,
        };
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
          // Key index 2 asks for a new KYC session (the same key always sends the same body).
          ...(op.kind === "simulate"
            ? { body: '{"action":"kyc.status.approve"}' }
            : op.key === 2
              ? { body: '{"new_session":true}' }
              : {}),
        };
      }
      case "deliver": {
        // A stale one: an event whose customer has moved on at Align since (approved, or another session).
        const movedOn = events.map((_, index) => index).filter(hasMovedOn);
        const stale = op.mode === "stale" && movedOn.length > 0;
        const index = stale ? (movedOn[op.event % movedOn.length] as number) : op.event % Math.max(1, events.length);
        // Labelled by what it is (its customer moved on, or not), whichever mode drew it.
        if (op.mode !== "forged" && events.length > 0) return redelivery(index);
        const body = op.mode === "forged" ? forge(events[index] ?? "{}") : "{}";
        return {
          kind: op.kind,
          caller: undefined,
          body,
          signature: signPayload(body, op.mode === "forged" ? "not-the-key" : SIM_KEY),
          delivery: op.mode === "forged" ? "forged" : "redelivery",
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

  /** The customers an answer shows (a KYC start's `kycs` belongs to the customer it addressed). */
  const shown = (answer: Answer): { customer: Record<string, unknown>; whole: boolean }[] => {
    const { call, status, body } = answer;
    if (call.caller === undefined || status >= 300) return [];
    if (call.kind === "create" || call.kind === "get") return [{ customer: body, whole: true }];
    if (call.kind === "list" && Array.isArray(body.items))
      return (body.items as Record<string, unknown>[]).map((customer) => ({ customer, whole: true }));
    if (call.kind === "kyc") return [{ customer: { customer_id: call.id, kycs: body.kycs }, whole: false }];
    return [];
  };

  /** The virtual instant each operation started: its lease ends `LEASE_MS` later. */
  const launchedAt = new Map<number, number>();
  /**
   * 9. Liveness: a request is told its key is in use (409 `idempotency_key_in_use`, the one refusal that means
   * "another request holds this key") only while another attempt of the key may hold the record: one started
   * before this answer whose lease had not ended when this request began (in flight, crashed, stalled past its
   * deadline, or answered with its release lost). An attempt never waits for its own lock.
   */
  const checkKeyInUse = (answer: Answer) => {
    if (answer.status !== 409 || answer.body.code !== "idempotency_key_in_use" || !answer.idempotency) return;
    const began = launchedAt.get(answer.op) ?? 0;
    const holders = [...callOf].filter(
      ([op, other]) =>
        op !== answer.op &&
        other.idempotency === answer.idempotency &&
        (launchedAt.get(op) ?? Number.NEGATIVE_INFINITY) + LEASE_MS >= began,
    );
    if (holders.length === 0) {
      const attempts = [...callOf].filter(([, other]) => other.idempotency === answer.idempotency).length;
      fail("9. a key is in use only while another attempt of it may hold it", {
        key: answer.idempotency,
        op: answer.op,
        attempts,
      });
    }
  };

  /** The invariants each answer must keep at the moment it is given. */
  const checkAnswer = (answer: Answer) => {
    const { call, status, headers, body } = answer;
    checkKeyInUse(answer);
    const replayed = headers["idempotent-replayed"] === "true";
    // 4. Every 5xx carries Retry-After; only a final answer is ever replayed (the finality rule).
    if (status >= 500 && headers["retry-after"] === undefined) fail("4. every 5xx has Retry-After", body.code);
    if (replayed && !isFinal(answer)) {
      fail("4. only a final answer is stored and replayed", { key: answer.idempotency, status, code: body.code });
    }
    // 3. A stored answer never contradicts another answer for its key: every final answer is the stored one,
    // and a request that began after it was stored gets it again (or a 5xx: retry).
    if (answer.idempotency) {
      const scope = `${answer.idempotency}|${answer.epoch}`;
      for (const other of answers) {
        if (other === answer || other.idempotency === undefined || `${other.idempotency}|${other.epoch}` !== scope)
          continue;
        if (!isFinal(other)) continue;
        const differs = other.status !== status || withoutRequestId(other.body) !== withoutRequestId(body);
        const contradicts = isFinal(answer)
          ? differs
          : finality(answer) === "may_change" && status < 500 && answer.start > other.end;
        if (contradicts) {
          fail("3. a stored answer never contradicts another answer for its key", {
            key: answer.idempotency,
            stored: [other.status, other.body.code ?? other.body.customer_id],
            later: [status, body.code ?? body.customer_id],
          });
        }
        break;
      }
    }
    // 5. No caller receives another caller's customer (no two callers are handed one create's customer).
    if (call.kind === "create" && status === 201 && typeof body.customer_id === "string") {
      const other = created.find(([who, id]) => id === body.customer_id && who !== call.caller);
      if (other) fail("5. no two callers get one customer", { id: body.customer_id, callers: [other[0], call.caller] });
    }
    const align = new Map(alignCustomers().map((customer) => [customer.customer_id, customer]));
    for (const { customer, whole } of shown(answer)) {
      const id = String(customer.customer_id);
      const theirs = align.get(id);
      // 2. What an answer shows is Align's: every stored field equal, KYC no further than Align's.
      if (!theirs) {
        fail("2. an answer shows only customers Align has", { id });
        continue;
      }
      if (whole) {
        for (const field of FIELDS) {
          if ((customer[field] ?? null) !== (theirs[field] ?? null)) {
            fail("2. an answer equals Align's customer in every field", {
              id,
              field,
              ours: customer[field],
              theirs: theirs[field],
            });
          }
        }
      }
      const kycs = customer.kycs as AlignCustomer["kycs"] | undefined;
      if (kycs) {
        const link = kycs.kyc_flow_link;
        if (!theirs.kycs || kycRank(kycs) > kycRank(theirs.kycs)) {
          fail("2. an answer's KYC status is one Align gave", { id, ours: kycs.status, theirs: theirs.kycs?.status });
        } else if (link && !issued.get(id)?.has(link)) {
          fail("2. an answer's KYC link is one Align issued for the customer", { id, link });
        } else if (kycs.status === theirs.kycs.status && link === theirs.kycs.kyc_flow_link) {
          if (!sameKycs(kycs, theirs.kycs)) fail("2. an answer's KYC session equals Align's in every field", { id });
        }
      }
      // 6. A KYC status a caller saw, in any answer, never moves back (a replay repeats an old answer).
      if (!replayed && "kycs" in customer) {
        const rank = kycRank(customer.kycs);
        for (const earlier of answers) {
          if (earlier.caller !== answer.caller || earlier.end > answer.start) continue;
          if (earlier.headers["idempotent-replayed"] === "true") continue;
          for (const seen of shown(earlier)) {
            if (seen.customer.customer_id === id && "kycs" in seen.customer && kycRank(seen.customer.kycs) > rank) {
              fail("6. a KYC status a caller saw never moves back", {
                id,
                from: (seen.customer.kycs as { status?: string }).status,
                to: (customer.kycs as { status?: string } | null)?.status ?? null,
                by: call.kind,
              });
            }
          }
        }
      }
    }
  };

  const count = (answer: Answer) => {
    const { call, status, body } = answer;
    for (const { customer } of shown(answer)) {
      const scope = `${call.caller}|${String(customer.customer_id)}`;
      progress.set(scope, Math.max(progress.get(scope) ?? 0, kycRank(customer.kycs)));
    }
    if (call.kind === "kyc" && status === 201) reach.kycStarts201 += 1;
    if (call.kind === "get") {
      if (status === 200) reach.gets200 += 1;
      if (status === 404) reach.gets404 += 1;
    }
    if (call.kind === "deliver" && status === 200 && body.outcome === "processed") reach.webhooksApplied += 1;
  };

  /** Starts a call as a new operation (it runs until its first gate). */
  function launch(call: Call, plan: Plan): Promise<void> {
    const opId = nextOp++;
    stats.operations += 1;
    plans.set(opId, plan);
    callOf.set(opId, call);
    launchedAt.set(opId, world.now());
    if (call.delivery === "redelivery" || call.delivery === "stale") reach.redeliveries += 1;
    if (call.delivery === "stale") reach.staleRedeliveries += 1;
    if (call.kind === "deliver" && call.body && call.delivery !== "forged") {
      const event = JSON.parse(call.body) as { entity_id?: string };
      const said = eventSaid[events.indexOf(call.body)];
      const current = alignCustomers().find((customer) => customer.customer_id === event.entity_id)?.kycs
        ?.kyc_flow_link;
      if (said?.link && current && said.link !== current && movesBackToOlderSession(current, said.link))
        reach.olderSessionRedeliveries += 1;
    }
    if (call.idempotency) {
      requests.set(call.idempotency, call);
      const running = inFlight.get(call.idempotency) ?? 0;
      if (running > 0) reach.parallelKeyRuns += 1;
      inFlight.set(call.idempotency, running + 1);
    }
    const start = clock++;
    const answered = epoch;
    legend.push(`op${opId}: ${describeCall(call)}`);
    return scheduler
      .start(opId, () => invoke(call, opId))
      .then(async (result) => {
        if (call.idempotency) inFlight.set(call.idempotency, (inFlight.get(call.idempotency) ?? 1) - 1);
        const body = JSON.parse(result.body || "{}") as Record<string, unknown>;
        const answer: Answer = {
          op: opId,
          call,
          caller: call.caller,
          idempotency: call.idempotency,
          epoch: answered,
          start,
          end: clock++,
          status: result.statusCode,
          headers: result.headers,
          body,
        };
        checkAnswer(answer);
        answers.push(answer);
        learn(call, result.statusCode, body);
        count(answer);
        // A delivery Align was told was processed: the table must not have moved back, even for a moment.
        if (call.kind === "deliver" && result.statusCode === 200 && !violation) await scanRanks();
      });
  }

  /** The KYC rank each record had at the last scan: 8. a stored KYC status never moves back. */
  const storedRank = new Map<string, number>();
  /** The KYC link each record had at the last scan: 8. nor does its session move back to an older one. */
  const storedLink = new Map<string, string>();
  /**
   * Whether a record's move from link `from` to link `to` goes back to a
   * session Align had replaced: `to` issued more than the ordering rule's
   * skew (10 s), plus Align's clock's distance from ours, plus 2 s, before
   * `from`. Judged only where the rule can know it: Align's clock within a
   * minute of ours, and `from` issued by a call that did not stall (a stalled
   * request's link is dated when we asked, long before Align issued it).
   */
  const movesBackToOlderSession = (from: string, to: string) => {
    const newer = linkIssued.get(from);
    const older = linkIssued.get(to);
    const skew = Math.abs(schedule.world.alignSkewMs);
    if (!newer || !older || !newer.prompt || skew > 60_000) return false;
    return older.at < newer.at - 12_000 - skew;
  };
  const scanRanks = async () => {
    const scan = new ScanCommand({ TableName: runtime.config.tableName, ConsistentRead: true });
    for (const item of (await world.dynamo.client.send(scan)).Items ?? []) {
      if (item.sk?.S !== "CUSTOMER") continue;
      const id = item.customer_id?.S ?? "";
      const rank = kycRank((JSON.parse(item.data?.S ?? "{}") as { kycs?: unknown }).kycs);
      const before = storedRank.get(id) ?? 0;
      if (rank < before) fail("8. a stored KYC status never moves back", { id, from: before, to: rank });
      storedRank.set(id, Math.max(rank, before));
      const link = (JSON.parse(item.data?.S ?? "{}") as { kycs?: { kyc_flow_link?: string } | null }).kycs
        ?.kyc_flow_link;
      const linkBefore = storedLink.get(id);
      if (
        link !== undefined &&
        linkBefore !== undefined &&
        link !== linkBefore &&
        movesBackToOlderSession(linkBefore, link)
      )
        fail("8. a stored KYC session never moves back to an older one", { id });
      if (link !== undefined) storedLink.set(id, link);
    }
  };
  const settle = async () => {
    await scheduler.drain();
    if (!violation) await scanRanks();
    if (violation) throw violation;
  };

  /** One call alone, with no faults, to completion. */
  const alone = async (call: Call): Promise<void> => {
    const pending = launch(call, { faults: [] });
    await settle();
    await pending;
  };

  /**
   * The wave's idempotent requests whose last answer may change, retried at
   * once, concurrently and without faults, after the longest Retry-After they
   * were given: callers that come back together, as after a shared outage.
   */
  const retryTogether = async (calls: Call[]): Promise<void> => {
    const again = new Map<string, Call>();
    let waitSeconds = 0;
    for (const call of calls) {
      if (!call.idempotency || again.has(call.idempotency)) continue;
      const last = answers.filter((a) => a.idempotency === call.idempotency).at(-1);
      if (last && finality(last) !== "may_change") continue;
      waitSeconds = Math.max(waitSeconds, Number(last?.headers["retry-after"] ?? 0) || 0);
      again.set(call.idempotency, call);
    }
    if (again.size === 0) return;
    world.advance(waitSeconds * 1000);
    for (const call of again.values()) pendingLaunches.push(launch(call, { faults: [] }));
    await settle();
  };

  const trace = (played: number) =>
    (played < scheduler.trace.length
      ? [...scheduler.trace.slice(0, played), "(convergence: no faults)", ...scheduler.trace.slice(played)]
      : scheduler.trace
    )
      .slice(-150)
      .join("\n");
  let played = Number.POSITIVE_INFINITY;
  try {
    for (const wave of schedule.waves) {
      if (wave.kind === "advance") {
        world.advance(wave.ms);
        if (wave.ms >= 24 * 60 * 60 * 1000) {
          epoch += 1;
          // A create left unsettled across its key's 24 hours may leave an orphan nobody can claim (documented).
          for (const [idempotency, call] of requests) {
            const last = answers.filter((a) => a.idempotency === idempotency).at(-1);
            if (call.kind === "create" && (!last || !isFinal(last))) {
              expiredEmails.add(normalised((JSON.parse(call.body ?? "{}") as { email?: string }).email));
            }
          }
        }
        continue;
      }
      const calls = wave.ops.map((op) => ({ op, call: resolve(op) }));
      // Align's later redeliveries race the wave's operations.
      for (const index of redeliverLater.splice(0)) {
        pendingLaunches.push(launch(redelivery(index), { faults: [] }));
      }
      const creates = calls.filter(({ call }) => call.kind === "create");
      const byEmail = new Map<string, { callers: Set<number>; lost: number; details: string[] }>();
      for (const { op, call } of creates) {
        const parsed = JSON.parse(call.body ?? "{}") as { email: string };
        const email = normalised(parsed.email);
        if (parsed.email !== email) reach.mixedCaseCreates += 1;
        const entry = byEmail.get(email) ?? { callers: new Set<number>(), lost: 0, details: [] };
        entry.callers.add(call.caller as number);
        entry.details.push(`${call.caller}|${requestDetail(JSON.parse(call.body ?? "{}"))}`);
        if (op.plan.faults.some((f) => f.align?.type === "drop" && f.align.when === "after_commit")) entry.lost += 1;
        byEmail.set(email, entry);
        const set = asked.get(email) ?? new Set<string>();
        set.add(`${call.caller}|${requestDetail(JSON.parse(call.body ?? "{}"))}`);
        asked.set(email, set);
      }
      for (const entry of byEmail.values()) {
        if (entry.callers.size < 2) continue;
        reach.emailContests += 1;
        const details = new Set(entry.details.map((d) => d.slice(d.indexOf("|") + 1)));
        if (details.size < entry.details.length) reach.identicalBodies += 1;
        if (entry.lost >= 2) reach.contestsBothLost += 1;
      }
      for (const { op, call } of calls) pendingLaunches.push(launch(call, op.plan));
      await settle();
      if (wave.thenRetryTogether) await retryTogether(calls.map(({ call }) => call));
    }
    played = scheduler.trace.length;

    // Convergence: no more faults; crashed invocations' leases expire; every unsettled request is retried.
    scheduler.replan(() => ({}));
    plans.clear();
    for (let round = 0; round < 6; round++) {
      world.advance(40_000);
      // What Align still meant to redeliver arrives now, later than anything before it.
      for (const index of redeliverLater.splice(0)) await alone(redelivery(index));
      // Settled: a final answer, or a refusal before running (retrying it unchanged changes nothing).
      const unsettled = [...requests].filter(([idempotency]) => {
        const last = answers.filter((a) => a.idempotency === idempotency).at(-1);
        return !last || finality(last) === "may_change";
      });
      if (unsettled.length === 0) break;
      // Callers come back in any order (drawn from the seed): not always the one that started first.
      for (let index = unsettled.length - 1; index > 0; index--) {
        const other = Math.floor(random() * (index + 1));
        [unsettled[index], unsettled[other]] = [unsettled[other], unsettled[index]] as [
          (typeof unsettled)[number],
          (typeof unsettled)[number],
        ];
      }
      for (const [, call] of unsettled) {
        stats.retries += 1;
        await alone(call);
      }
    }
    // Each caller lists its customers as stored (no refresh): checked against everything it saw before.
    for (let caller = 0; caller < known.length; caller++) await alone({ kind: "list", caller });
    await checkTable({ world, runtime, created, expiredEmails, madeBy, asked, issued }, false);
    // Statuses converge through GET's refresh rule once its bound has passed.
    world.advance(40_000);
    for (const [caller, id] of created) await alone({ kind: "get", caller, id });
    await checkTable({ world, runtime, created, expiredEmails, madeBy, asked, issued }, true);
  } catch (error) {
    if (error instanceof InvariantError) {
      error.trace = `${legend.join("\n")}\n--\n${trace(played)}`;
      reach.approvals = alignCustomers().filter((customer) => customer.kycs?.status === "approved").length;
      error.stats = stats;
    }
    throw error;
  }
  reach.approvals = alignCustomers().filter((customer) => customer.kycs?.status === "approved").length;
  for (const [kind, count] of Object.entries(world.firedFaults())) {
    stats.faults[`dynamo ${kind}`] = (stats.faults[`dynamo ${kind}`] ?? 0) + count;
  }
  await world.endRun();
  stats.transactions = scheduler.trace.filter((line) => line.includes("TransactWriteItemsCommand")).length;
  return stats;
}

interface Evidence {
  world: World;
  runtime: Runtime;
  created: [number, string][];
  expiredEmails: Set<string>;
  madeBy: Map<string, { caller: number; detail: string }>;
  asked: Map<string, Set<string>>;
  issued: Map<string, Set<string>>;
}

/**
 * The table against Align's state: before the final refresh (every stored
 * field equal, KYC no further than Align's) and after it (KYC equal too).
 */
async function checkTable(evidence: Evidence, refreshed: boolean): Promise<void> {
  const { world, runtime, created, expiredEmails, madeBy, asked, issued } = evidence;
  const fail = (invariant: string, detail: unknown) => {
    throw new InvariantError(`${invariant}: ${JSON.stringify(detail)}`);
  };
  const items = (await world.dynamo.client.send(new ScanCommand({ TableName: runtime.config.tableName }))).Items ?? [];
  const records = new Map(
    items
      .filter((item) => item.sk?.S === "CUSTOMER")
      .map((item) => [
        item.customer_id?.S ?? "",
        { owner: item.owner?.S ?? "", data: JSON.parse(item.data?.S ?? "{}") as Record<string, unknown> },
      ]),
  );
  const align = world.sandbox.state().customers as unknown as AlignCustomer[];

  // 1. At most one Align customer per email; every one Align made for a create is owned by exactly one caller,
  // one that asked for it (its maker, or a caller whose identical request lost its answer too); no ghosts.
  const perEmail = new Map<string, number>();
  for (const customer of align)
    perEmail.set(customer.email.toLowerCase(), (perEmail.get(customer.email.toLowerCase()) ?? 0) + 1);
  for (const [email, count] of perEmail) if (count > 1) fail("1. one Align customer per email", { email, count });
  for (const customer of align) {
    const record = records.get(customer.customer_id);
    const email = customer.email.toLowerCase();
    if (!record) {
      if (!expiredEmails.has(email))
        fail("1. no orphan: every Align customer made for a create is owned", { customer_id: customer.customer_id });
      continue;
    }
    const maker = madeBy.get(customer.customer_id);
    const owner = Number(record.owner.replace("sim-user-", ""));
    const askedFor = asked.get(email)?.has(`${owner}|${maker?.detail}`) ?? false;
    if (maker && owner !== maker.caller && !askedFor) {
      fail("1. a customer Align made is owned by a caller who asked for it", {
        customer_id: customer.customer_id,
        maker: maker.caller,
        owner,
      });
    }
  }
  for (const [id] of records) {
    if (!align.some((customer) => customer.customer_id === id))
      fail("1. no ghost: every record has an Align customer", { id });
  }

  // 2. Every 201 a caller saw is still the caller's; every record equals Align's customer in every stored field,
  // its KYC no further than Align's and a session Align issued; once refreshed, its KYC equal to Align's.
  for (const [caller, id] of created) {
    const record = records.get(id);
    if (record?.owner !== `sim-user-${caller}`)
      fail("2. a created customer stays the caller's", { caller, id, owner: record?.owner });
  }
  const refreshedIds = new Set(created.map(([, id]) => id));
  for (const [id, record] of records) {
    const theirs = align.find((customer) => customer.customer_id === id);
    if (!theirs) continue;
    const ours = record.data;
    for (const field of FIELDS) {
      if ((ours[field] ?? null) !== (theirs[field] ?? null))
        fail("2. a record equals Align's customer in every field", {
          id,
          field,
          ours: ours[field],
          theirs: theirs[field],
        });
    }
    const kycs = ours.kycs as AlignCustomer["kycs"] | undefined;
    if (kycs && (!theirs.kycs || kycRank(kycs) > kycRank(theirs.kycs)))
      fail("2. a record's KYC status is one Align gave", { id, ours: kycs.status, theirs: theirs.kycs?.status });
    if (kycs?.kyc_flow_link && !issued.get(id)?.has(kycs.kyc_flow_link))
      fail("2. a record's KYC link is one Align issued", { id });
    if (refreshed && refreshedIds.has(id) && !sameKycs(kycs, theirs.kycs))
      fail("2. the record's KYC equals Align's once refreshed", { id, ours: kycs, theirs: theirs.kycs });
  }
}
