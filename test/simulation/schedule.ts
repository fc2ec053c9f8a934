/**
 * Schedules: what one simulation run does, drawn by fast-check from a seed
 * (so failures shrink to a small schedule) and printable as readable steps.
 */

import type { KycSessions } from "@align-onboarding/align-sandbox";
import fc from "fast-check";
import type { AlignFault, DynamoFault } from "./scheduler.js";
import type { RunWorld } from "./world.js";

export const CALLERS = 3;
export const EMAILS = 3;
export const KEYS = 3;

/** What happens to one operation's I/O calls, by call index. */
export interface Plan {
  faults: { at: number; dynamo?: DynamoFault; align?: AlignFault }[];
  crash?: { at: number; when: "before" | "after" };
  /** The call at this index is in flight `ms` of virtual time: past the invocation's deadline, or its lease. */
  stall?: { at: number; ms: number };
  /**
   * Every write of the operation to its idempotency record loses its answer once (`answer_lost_once`): the
   * table applied it, the SDK resends it. `begin`: begin's PutItem; `settle`: the completion's UpdateItem (KYC
   * start's TransactWriteItems), a release, begin's note of the first attempt. See play.ts `resendFault`.
   */
  resend?: "begin" | "settle";
}

export type Op =
  /**
   * POST /customers with key (caller, email, key): the same key always sends
   * the same body. The key also decides the email's spelling and whether the
   * names are the email's own (so two callers send identical bodies) or the
   * caller's (a look-alike): see play.ts `createBody`.
   */
  | { kind: "create"; caller: number; email: number; key: number; plan: Plan }
  /**
   * GET /customers/{id}; `target` picks among the ids known when it starts:
   * mostly the caller's own (newest first), else another's, else nobody's.
   */
  | { kind: "get"; caller: number; target: number; plan: Plan }
  | { kind: "list"; caller: number; plan: Plan }
  /**
   * The caller's app moves its newest customer on, as an onboarding flow
   * does: create one (email and spelling from `key`), else start KYC, else
   * approve it, else read, list or start KYC again (play.ts `nextStep`).
   */
  | { kind: "next"; caller: number; key: number; plan: Plan }
  | { kind: "kyc"; caller: number; target: number; key: number; plan: Plan }
  | { kind: "simulate"; caller: number; target: number; key: number; plan: Plan }
  /**
   * Align redelivers one of its events, the identical signed bytes (any
   * earlier one: out of order; `stale`: one whose customer has moved on at
   * Align since, approved or in another session), or one signed with the
   * wrong key. Events are also delivered as they are published (play.ts),
   * racing their cause.
   */
  | { kind: "deliver"; event: number; mode: "as_sent" | "stale" | "forged"; plan: Plan };

export type Wave =
  | {
      kind: "ops";
      ops: Op[];
      /** Once the wave is done, its callers whose requests may change retry at once, together (after Retry-After). */
      thenRetryTogether?: true;
    }
  | { kind: "advance"; ms: number };

/**
 * The table the run plays against: dynalite, or AWS's own DynamoDB Local with
 * transactions on (world.ts), so the paths only AWS takes (KYC start's
 * one-transaction completion, the one-call replay) meet the same faults,
 * crashes and races.
 */
export type TableKind = "dynalite" | "dynamodb";

export interface Schedule {
  /** Seeds the interleaving of each wave's operations. */
  interleaving: number;
  table: TableKind;
  /** The run's world beyond its table: the owner index's lag, Align's clock (world.ts `RunWorld`). */
  world: RunWorld;
  waves: Wave[];
}

const dynamoFault = fc.constantFrom<DynamoFault>(
  "throttle_once",
  "throttle",
  "throughput",
  "server_error_once",
  "server_error",
  "conflict",
  "reset",
  "answer_lost_once",
  "answer_lost",
  "slow",
);
const alignFault = fc.oneof(
  fc.constantFrom<AlignFault>(
    { type: "status", status: 500 },
    { type: "status", status: 502 },
    { type: "status", status: 503, retry_after: 1 },
    { type: "status", status: 429, retry_after: 1 },
    { type: "timeout" },
    { type: "drop", when: "before_commit" },
    { type: "drop", when: "after_commit" },
  ),
);

const plan: fc.Arbitrary<Plan> = fc
  .record({
    faults: fc.array(
      fc.oneof(
        { weight: 2, arbitrary: fc.record({ at: fc.nat(1), align: alignFault }) },
        { weight: 1, arbitrary: fc.record({ at: fc.nat(4), dynamo: dynamoFault }) },
      ),
      { maxLength: 2 },
    ),
    crash: fc.option(fc.record({ at: fc.nat(5), when: fc.constantFrom<"before" | "after">("before", "after") }), {
      freq: 3,
      nil: undefined,
    }),
    // Past the 10 s budget (the deadline fires mid-call), past the lease (+2 s), far past both.
    stall: fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ at: fc.nat(5), ms: fc.constantFrom(11_000, 13_000, 45_000) }) },
    ),
  })
  .map(({ faults, crash, stall }) => ({ faults, ...(crash ? { crash } : {}), ...(stall ? { stall } : {}) }));
/**
 * The SDK's resend of an idempotency write that applied, where index-counted faults rarely land (begin's put,
 * the completion): otherwise clean, so that what the resend costs shows (a refusal, not a crash's).
 */
const resendPlan: fc.Arbitrary<Plan> = fc.constantFrom<Plan>(
  { faults: [], resend: "begin" },
  { faults: [], resend: "settle" },
);
/** Most operations run clean, so that a schedule gets somewhere. */
const maybeFaulty: fc.Arbitrary<Plan> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Plan>({ faults: [] }) },
  { weight: 2, arbitrary: plan },
  { weight: 1, arbitrary: resendPlan },
);

const caller = fc.nat(CALLERS - 1);
const key = fc.nat(KEYS - 1);
/** 0-6: the caller's own customers, 7-8: another's, 9: nobody's (see play.ts `targetOf`). */
const target = fc.nat(9);

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("create" as const),
      caller,
      email: fc.nat(EMAILS - 1),
      key,
      plan: maybeFaulty,
    }),
  },
  { weight: 12, arbitrary: fc.record({ kind: fc.constant("next" as const), caller, key, plan: maybeFaulty }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("get" as const), caller, target, plan: maybeFaulty }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("list" as const), caller, plan: maybeFaulty }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("kyc" as const), caller, target, key, plan: maybeFaulty }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("simulate" as const), caller, target, key, plan: maybeFaulty }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("deliver" as const),
      event: fc.nat(9),
      mode: fc.constantFrom<"as_sent" | "stale" | "forged">("as_sent", "as_sent", "stale", "stale", "forged"),
      plan: maybeFaulty,
    }),
  },
);

/** Time moves: past a GET's refresh bound, past a lease, minutes and hours, past the 24-hour record expiry. */
const advance = fc.record({
  kind: fc.constant("advance" as const),
  ms: fc.constantFrom(2_000, 15_000, 40_000, 5 * 60 * 1000, 2 * 60 * 60 * 1000, 25 * 60 * 60 * 1000),
});

/** One operation, or the same one run 2-3 times at once (one key in parallel), each copy with its own plan. */
const group: fc.Arbitrary<Op[]> = fc.oneof(
  { weight: 3, arbitrary: opArbitrary.map((op) => [op]) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(opArbitrary, fc.array(maybeFaulty, { minLength: 1, maxLength: 2 }))
      .map(([op, plans]) => [op, ...plans.map((plan) => ({ ...op, plan }))]),
  },
);

const lostAfterCommit: AlignFault = { type: "drop", when: "after_commit" };
/**
 * Two callers create one email and lose Align's answer after it committed
 * (one of them, or both). With key index 0 or 1 their bodies are identical
 * (the same spelling and names): exactly one of them must end with the
 * customer. With key index 2 each sends its own names (a look-alike): only
 * the one whose request made it may. Half the contests are on an email no
 * flow uses (so new at Align the first time), the others on the flows'.
 */
const contest: fc.Arbitrary<Wave> = fc
  .record({
    callers: fc.uniqueArray(caller, { minLength: 2, maxLength: 2 }),
    email: fc.oneof(fc.nat(EMAILS - 1), fc.integer({ min: EMAILS, max: EMAILS + 1 })),
    key: fc.constantFrom(0, 1, 0, 1, 2),
    both: fc.boolean(),
    together: fc.boolean(),
  })
  .map(({ callers, email, key, both, together }) => ({
    kind: "ops" as const,
    // Both lost the answer and come back at once: their recoveries race for the one customer.
    ...(together ? { thenRetryTogether: true as const } : {}),
    ops: callers.map((who, index) => ({
      kind: "create" as const,
      caller: who,
      email,
      key,
      plan: { faults: both || index === 0 ? [{ at: 0, align: lostAfterCommit }] : [] },
    })),
  }));

/**
 * Mostly a consistent index and Align's clock on ours; else an owner index
 * lagging each write by up to 0.5 or 3 s (as DynamoDB's may), and Align's
 * clock ahead or behind: within the skew the ordering rule allows, beyond it,
 * or years ahead (every event dated in our far future).
 */
const runWorld: fc.Arbitrary<RunWorld> = fc.record({
  indexLagMs: fc.constantFrom(0, 0, 500, 3_000),
  alignSkewMs: fc.constantFrom(0, 0, 0, 0, 2_000, -2_000, 60_000, -60_000, 10 * 365 * 24 * 60 * 60 * 1000),
  kycSessions: fc.constantFrom<KycSessions>("reuse_active", "per_request"),
  // Align's search lags its creates (eventually consistent): a retry right after a lost create may not find it.
  alignListLagMs: fc.constantFrom(0, 0, 0, 5_000),
});

export function scheduleArbitrary(steps: number): fc.Arbitrary<Schedule> {
  const wave: fc.Arbitrary<Wave> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("ops" as const),
        ops: fc.array(group, { minLength: 1, maxLength: 3 }).map((groups) => groups.flat()),
      }),
    },
    { weight: 1, arbitrary: contest },
    { weight: 2, arbitrary: advance },
  );
  return fc.record({
    interleaving: fc.nat(),
    table: fc.constantFrom<TableKind>("dynalite", "dynamodb"),
    world: runWorld,
    // Lengths spread up to `steps` (fast-check's default keeps arrays short), so flows get far.
    waves: fc.array(wave, { minLength: 1, maxLength: steps, size: "max" }),
  });
}

function describePlan(plan: Plan): string {
  const parts = plan.faults.map((f) => `call ${f.at}: ${f.dynamo ?? JSON.stringify(f.align)}`);
  if (plan.crash) parts.push(`crash ${plan.crash.when} call ${plan.crash.at}`);
  if (plan.stall) parts.push(`call ${plan.stall.at} in flight ${plan.stall.ms / 1000} s`);
  if (plan.resend) parts.push(`${plan.resend} writes' answers lost once`);
  return parts.length ? ` {${parts.join("; ")}}` : "";
}

export function describeOp(op: Op): string {
  const who = "caller" in op ? `user-${op.caller} ` : "";
  switch (op.kind) {
    case "create":
      return `${who}create email-${op.email} key-${op.key}${describePlan(op.plan)}`;
    case "get":
      return `${who}get customer#${op.target}${describePlan(op.plan)}`;
    case "list":
      return `${who}list${describePlan(op.plan)}`;
    case "next":
      return `${who}next step (key-${op.key})${describePlan(op.plan)}`;
    case "kyc":
      return `${who}start KYC customer#${op.target} key-${op.key}${describePlan(op.plan)}`;
    case "simulate":
      return `${who}simulate approval customer#${op.target} key-${op.key}${describePlan(op.plan)}`;
    case "deliver":
      return `Align delivers ${op.mode === "stale" ? "a stale " : ""}event#${op.event}${op.mode === "forged" ? " (forged signature)" : ""}${describePlan(op.plan)}`;
  }
}

/** The schedule as numbered, readable steps (printed with a failing seed). */
export function describeSchedule(schedule: Schedule): string {
  const { indexLagMs, alignSkewMs } = schedule.world;
  const lines = [
    `interleaving seed ${schedule.interleaving}, table ${schedule.table}` +
      (indexLagMs > 0 ? `, owner index lags up to ${indexLagMs} ms` : "") +
      (alignSkewMs > 0 ? `, Align's clock ${alignSkewMs} ms ahead` : "") +
      (alignSkewMs < 0 ? `, Align's clock ${-alignSkewMs} ms behind` : "") +
      (schedule.world.kycSessions === "per_request" ? ", Align opens a session per KYC start" : "") +
      (schedule.world.alignListLagMs
        ? `, Align lists a customer ${schedule.world.alignListLagMs} ms after creating it`
        : ""),
  ];
  schedule.waves.forEach((wave, index) => {
    if (wave.kind === "advance") lines.push(`${index + 1}. time passes ${wave.ms / 1000} s`);
    else if (wave.ops.length === 1) lines.push(`${index + 1}. ${describeOp(wave.ops[0] as Op)}`);
    else lines.push(`${index + 1}. concurrently: ${wave.ops.map(describeOp).join(" | ")}`);
    if (wave.kind === "ops" && wave.thenRetryTogether) lines.push(`${index + 1}'. their callers retry together`);
  });
  return lines.join("\n");
}
