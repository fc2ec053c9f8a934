import { emfLine, getRuntime, Metric, resetSandboxData } from "@align-onboarding/core";
import type { Context } from "aws-lambda";

/** Lambda's budget when called without a context (a script). */
const DEFAULT_BUDGET_MS = 15 * 60 * 1000;

/** A run that stopped before the end, when its event asked to fail then (the schedule's does: infra/reset.ts). */
export class SandboxResetIncompleteError extends Error {
  override name = "SandboxResetIncompleteError";
}

/**
 * Scheduled (nightly in sandbox stages) and `npm run invoke -- sandbox-reset`:
 * deletes the stage's customers and idempotency records.
 * Event: `{ "dryRun": true }` counts without deleting; `{ "failIfIncomplete":
 * true }` (the schedule's) throws when the run stops before the end, so
 * Lambda retries it and, at last, sends it to the failure queue. Refuses
 * outside the sandbox.
 */
export const handler = async (event: unknown, context?: Partial<Context>) => {
  const runtime = getRuntime();
  const log = runtime.log.child({ function: "sandbox-reset", request_id: context?.awsRequestId });
  const flags = (typeof event === "object" && event !== null ? event : {}) as {
    dryRun?: unknown;
    failIfIncomplete?: unknown;
  };
  const dryRun = flags.dryRun === true;
  const deadline = Date.now() + (context?.getRemainingTimeInMillis?.() ?? DEFAULT_BUDGET_MS);
  const report = await resetSandboxData(runtime.dynamo, runtime.config.tableName, {
    alignEnvironment: runtime.config.alignEnvironment,
    dryRun,
    remainingMs: () => context?.getRemainingTimeInMillis?.() ?? deadline - Date.now(),
    log,
  });
  if (!dryRun) {
    const deleted = report.counts.customer + report.counts.idempotency;
    log.raw(emfLine({ function: "sandbox-reset" }, { [Metric.SandboxResetDeletions]: deleted }));
  }
  log.info(report.complete ? "sandbox reset finished" : "sandbox reset stopped before its time ran out; run it again", {
    complete: report.complete,
    dry_run: report.dry_run,
    customers: report.counts.customer,
    idempotency_records: report.counts.idempotency,
    untouched: report.untouched,
    elapsed_ms: report.elapsed_ms,
  });
  if (!report.complete && !dryRun && flags.failIfIncomplete === true) {
    throw new SandboxResetIncompleteError("sandbox reset stopped before the end; the retry continues where it stopped");
  }
  return report;
};
