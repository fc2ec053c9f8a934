/**
 * The deterministic simulation (test/simulation): a bounded run inside
 * `npm test` that must hold every invariant and reach far enough (floors per
 * 1,000 schedules, issue 22), and proof that its invariants can fail: against
 * deliberately broken variants of the idempotency store it finds the
 * violation and prints a readable schedule. `npm run simulate` runs it at any
 * length; `npm run simulate:planted` runs it against planted defects.
 */
import { IdempotencyStore } from "@align-onboarding/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Reach } from "./simulation/play.js";
import { formatReport, reachPerThousand, type SimulationReport, simulate } from "./simulation/run.js";

const original = {
  begin: IdempotencyStore.prototype.begin,
  release: IdempotencyStore.prototype.release,
};
afterEach(() => {
  IdempotencyStore.prototype.begin = original.begin;
  IdempotencyStore.prototype.release = original.release;
});

const RUNS = 160;
const SEED = 20261127;
/** Reach floors per 1,000 schedules (issue 22, part 5). */
const FLOORS: Partial<Reach> = {
  approvals: 200,
  webhooksApplied: 500,
  kycStarts201: 500,
  parallelKeyRuns: 100,
  emailContests: 50,
};

describe("simulation", () => {
  // One run serves both tests below: it looks past violations (and lists them) so that its reach is measured
  // whole even when an invariant fails; the first test then fails with the list.
  let report: SimulationReport;
  beforeAll(async () => {
    report = await simulate({ runs: RUNS, steps: 12, seed: SEED, noShrink: true, lookPast: () => true });
  }, 180_000);

  it(`${RUNS} seeded schedules of faults, crashes, races, deadlines and time hold every invariant`, () => {
    const replay = `npm run simulate -- --seed ${SEED} --steps 12 --runs ${RUNS} --no-shrink`;
    expect(report.lookedPast, `${formatReport(report)}\nreplay: ${replay}`).toEqual([]);
  });

  it("reaches every route far enough: approvals, webhooks applied, KYC starts, parallel keys, contests", () => {
    expect(report.runs).toBe(RUNS);
    const reach = reachPerThousand(report);
    for (const [name, floor] of Object.entries(FLOORS)) {
      expect(reach[name as keyof Reach], `${name} per 1,000 schedules\n${formatReport(report)}`).toBeGreaterThanOrEqual(
        floor,
      );
    }
    // The run explored what it claims to: faults of both kinds, crashes, deadlines mid-call, convergence retries.
    expect(report.crashes).toBeGreaterThan(0);
    expect(report.retries).toBeGreaterThan(0);
    expect(report.reach.deadlinesMidCall).toBeGreaterThan(0);
    expect(report.reach.contestsBothLost).toBeGreaterThan(0);
    expect(report.reach.mixedCaseCreates).toBeGreaterThan(0);
    expect(report.reach.redeliveries).toBeGreaterThan(0);
    expect(Object.keys(report.faults).some((kind) => kind.startsWith("align"))).toBe(true);
    expect(Object.keys(report.faults).some((kind) => !kind.startsWith("align"))).toBe(true);
    // Both tables, and AWS's transaction path among the calls.
    expect(report.dynamodbRuns).toBeGreaterThan(0);
    expect(report.dynamodbRuns).toBeLessThan(RUNS);
    expect(report.transactions).toBeGreaterThan(0);
  });

  it("catches a store that keeps failures as final answers (a 5xx replayed), with a shrunk schedule", async () => {
    // Broken: releasing writes the failure down as the key's answer instead of freeing it.
    IdempotencyStore.prototype.release = function (this: IdempotencyStore, id: string, token: string) {
      return this.complete(id, token, {
        statusCode: 503,
        headers: { "content-type": "application/problem+json", "retry-after": "1" },
        body: '{"code":"service_unavailable"}',
      });
    };
    // Only the invariants this plant breaks count, so the violation found is the plant's.
    const report = await simulate({
      runs: 100,
      steps: 8,
      seed: 7,
      lookPast: (_, invariant) => !/^[34]\./.test(invariant),
    });
    expect(report.failure?.error).toMatch(/^4\. only a final answer is stored and replayed|^3\./);
    expect(report.failure?.schedule).toMatch(/^interleaving seed \d+, table (dynalite|dynamodb)[^\n]*\n1\. /);
    expect(formatReport(report)).toContain("replay: npm run simulate -- --seed 7");
  }, 180_000);

  it("catches a store that forgets an earlier attempt may have run (no convergence): an orphan at Align", async () => {
    IdempotencyStore.prototype.begin = async function (this: IdempotencyStore, ...args) {
      const begun = await original.begin.apply(this, args);
      return begun.kind === "acquired" ? { ...begun, uncertain: false } : begun;
    };
    const report = await simulate({
      runs: 100,
      steps: 8,
      seed: 11,
      noShrink: true,
      lookPast: (_, invariant) => !/^[123]\./.test(invariant),
    });
    expect(report.failure?.error).toMatch(/^[123]\./);
    expect(report.failure?.schedule.split("\n").length).toBeGreaterThan(1);
  }, 180_000);
});
