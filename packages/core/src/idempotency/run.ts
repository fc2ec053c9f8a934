import { Disposition, ProblemError } from "../http/problem.js";
import { type ApiResult, problemResult } from "../http/response.js";
import { toProblem } from "../http/to-problem.js";
import { errorFields, type LogFields, type Logger } from "../log.js";
import { Metric } from "../metrics.js";
import type { CompanionUpdate, IdempotencyStore, StoredResponse } from "./store.js";

export interface IdempotentCall {
  store: IdempotencyStore;
  /** {@link scopeId} of (route, caller, key). */
  id: string;
  /** {@link requestFingerprint} of the request. */
  fingerprint: string;
  /** When this invocation is certain to be dead (its Lambda deadline plus a margin). */
  leaseUntilMs: number;
  requestId: string;
  log: Logger;
  /** Adds fields to the request's log line. */
  annotate: (fields: LogFields) => void;
  /** Counts a metric for the request. */
  count: (metric: Metric) => void;
  /** Logs a problem and counts it (Align's by status), as the handler does for a thrown one. */
  report: (problem: ProblemError) => void;
}

/** What the operation learns about earlier attempts with the same key. */
export interface Attempt {
  /** An earlier attempt may have changed Align before it failed or died: converge, do not duplicate. */
  uncertain: boolean;
  /** When the first attempt of this key began (epoch ms), carried across takeovers, where known. */
  earlierAt: number | undefined;
  /**
   * Records what the operation did on another item together with its
   * completion (one transaction where the table has them), instead of a
   * write of its own: made only if the operation returns normally.
   * `settled` learns whether the update applied (false: its condition failed),
   * after the answer is stored; a failure there is logged, never answered.
   */
  completeWith: (update: CompanionUpdate, settled?: (applied: boolean) => unknown) => void;
}

export const REPLAYED_HEADER = "idempotent-replayed";

function withRequestId(body: string, requestId: string): string {
  try {
    return JSON.stringify({ ...(JSON.parse(body) as Record<string, unknown>), request_id: requestId });
  } catch {
    return body;
  }
}

/**
 * Runs `operation` at most once per idempotency record:
 * - a completed record is replayed (`Idempotent-Replayed: true`);
 * - a record in progress is 409 `idempotency_key_in_use` with `Retry-After`;
 * - a record made by another request is 422 `idempotency_key_reused`;
 * - a success is stored for 24 hours; a failure goes where its
 *   {@link Disposition} says: a final 4xx is stored, anything else releases
 *   the lock (as uncertain when Align may have acted), so a retry runs again.
 *   A 5xx is never stored.
 */
export async function runIdempotent(
  call: IdempotentCall,
  operation: (attempt: Attempt) => Promise<ApiResult>,
): Promise<ApiResult> {
  const begun = await call.store.begin(call.id, call.fingerprint, call.leaseUntilMs);
  if (begun.kind === "replay") {
    call.annotate({ event: "idempotent_replay" });
    call.count(Metric.IdempotentReplays);
    const { headers, body } = begun.response;
    return {
      statusCode: begun.response.statusCode,
      headers: { ...headers, "x-request-id": call.requestId, [REPLAYED_HEADER]: "true" },
      // A stored problem names the request that produced it; the replay names this one, as its header does.
      body: headers["content-type"] === "application/problem+json" ? withRequestId(body, call.requestId) : body,
    };
  }
  if (begun.kind === "in_progress") {
    throw new ProblemError("idempotency_key_in_use", { retryAfter: begun.retryAfterSeconds });
  }
  if (begun.kind === "mismatch") throw new ProblemError("idempotency_key_reused");

  let result: ApiResult;
  let companion: { update: CompanionUpdate; settled: ((applied: boolean) => unknown) | undefined } | undefined;
  try {
    result = await operation({
      uncertain: begun.uncertain,
      earlierAt: begun.earlierAt,
      completeWith: (update, settled) => {
        companion = { update, settled };
      },
    });
  } catch (error) {
    companion = undefined;
    const problem = toProblem(error);
    switch (problem.disposition) {
      case Disposition.Store:
        // A final answer (4xx): reported here, since it is answered rather than thrown.
        call.report(problem);
        result = problemResult(problem, call.requestId);
        break;
      case Disposition.Release:
      case Disposition.ReleaseUncertain: {
        const uncertain = begun.uncertain || problem.disposition === Disposition.ReleaseUncertain;
        await release(call, begun.token, uncertain);
        throw problem;
      }
    }
  }
  const { "x-request-id": _requestId, ...headers } = result.headers;
  const stored: StoredResponse = { statusCode: result.statusCode, headers, body: result.body };
  // An answer is final only once stored: a caller never sees a final answer that a retry could not replay.
  let completed: boolean;
  let settle: (() => unknown) | undefined;
  try {
    if (companion) {
      const { settled, update } = companion;
      const written = await call.store.completeWith(call.id, begun.token, stored, update);
      completed = written.completed;
      if (completed && settled) settle = () => settled(written.companionApplied);
    } else {
      completed = await call.store.complete(call.id, begun.token, stored);
    }
  } catch (error) {
    call.log.error("idempotency completion failed; released as uncertain", errorFields(error));
    await release(call, begun.token, true);
    throw new ProblemError("service_unavailable", { retryAfter: 1, cause: error });
  }
  if (!completed) {
    // Another invocation took the record over after our lease: its answer is the one to replay.
    call.log.warn("idempotency lock lost before completion; result not stored");
    throw new ProblemError("idempotency_key_in_use", { retryAfter: 1 });
  }
  if (settle) {
    await Promise.resolve()
      .then(settle)
      .catch((error: unknown) => call.log.warn("follow-up after completion failed", errorFields(error)));
  }
  return result;
}

async function release(call: IdempotentCall, token: string, uncertain: boolean): Promise<void> {
  await call.store
    .release(call.id, token, uncertain)
    .catch((error: unknown) => call.log.warn("idempotency release failed; the lease will expire", errorFields(error)));
}
