/**
 * The deterministic simulation (test/simulation): a bounded run inside
 * `npm test`, and proof that its invariants can fail: against deliberately
 * broken variants of the idempotency store it finds a violation and prints a
 * shrunk, readable schedule. `npm run simulate` runs it at any length.
 */
import { IdempotencyStore } from "@align-onboarding/core";
import { afterEach, describe, expect, it } from "vitest";
import { formatReport, simulate } from "./simulation/run.js";

const original = {
  begin: IdempotencyStore.prototype.begin,
  release: IdempotencyStore.prototype.release,
};
afterEach(() => {
  IdempotencyStore.prototype.begin = original.begin;
  IdempotencyStore.prototype.release = original.release;
});

describe("simulation", () => {
  it("150 seeded schedules of faults, crashes, races and time hold every invariant", async () => {
    const report = await simulate({ runs: 150, steps: 8, seed: 20261127 });
    expect(report.failure, formatReport(report)).toBeUndefined();
    expect(report.runs).toBe(150);
    // The run explored what it claims to: faults of both kinds, crashes, convergence retries.
    expect(report.crashes).toBeGreaterThan(0);
    expect(report.retries).toBeGreaterThan(0);
    expect(Object.keys(report.faults).some((kind) => kind.startsWith("align"))).toBe(true);
    expect(Object.keys(report.faults).some((kind) => !kind.startsWith("align"))).toBe(true);
    // Both tables, and AWS's transaction path among the calls.
    expect(report.dynamodbRuns).toBeGreaterThan(0);
    expect(report.dynamodbRuns).toBeLessThan(150);
    expect(report.transactions).toBeGreaterThan(0);
  }, 120_000);

  it("catches a store that keeps failures as final answers (a 5xx replayed), with a shrunk schedule", async () => {
    // Broken: releasing writes the failure down as the key's answer instead of freeing it.
    IdempotencyStore.prototype.release = function (this: IdempotencyStore, id: string, token: string) {
      return this.complete(id, token, {
        statusCode: 503,
        headers: { "content-type": "application/problem+json", "retry-after": "1" },
        body: '{"code":"service_unavailable"}',
      });
    };
    const report = await simulate({ runs: 100, steps: 8, seed: 7 });
    expect(report.failure?.error).toMatch(/^4\. no 5xx is replayed|^3\./);
    expect(report.failure?.schedule).toMatch(/^interleaving seed \d+, table (dynalite|dynamodb)\n1\. /);
    expect(formatReport(report)).toContain("replay: npm run simulate -- --seed 7");
  }, 120_000);

  it("catches a store that forgets an earlier attempt may have run (no convergence): an orphan at Align", async () => {
    IdempotencyStore.prototype.begin = async function (this: IdempotencyStore, ...args) {
      const begun = await original.begin.apply(this, args);
      return begun.kind === "acquired" ? { ...begun, uncertain: false } : begun;
    };
    const report = await simulate({ runs: 100, steps: 8, seed: 11 });
    expect(report.failure?.error).toMatch(/^[123]\./);
    expect(report.failure?.schedule.split("\n").length).toBeGreaterThan(1);
  }, 120_000);
});
