import { AlignError, type RequestOptions } from "@align-onboarding/align";
import type { Context } from "aws-lambda";
import { now } from "../clock.js";
import { ConfigError, requireAlignKey } from "../config.js";
import { errorFields, type LogFields, Logger } from "../log.js";
import { emfLine, Metric } from "../metrics.js";
import { getRuntime, type Runtime } from "../runtime.js";
import type { ProblemError } from "./problem.js";
import { type ApiEvent, type HttpRequest, toHttpRequest } from "./request.js";
import { type ApiResult, problemResult } from "./response.js";
import { toProblem } from "./to-problem.js";

/** One invocation, as a route handler sees it. */
export interface Invocation {
  request: HttpRequest;
  runtime: Runtime;
  log: Logger;
  /** Until when an idempotency lock taken now must be respected: past the deadline, with a margin. */
  leaseUntilMs: number;
  /**
   * Options for an Align call made now: each attempt bounded by the configured
   * timeout, and the whole call (retries and waits included) by the time left
   * before the deadline, minus room to record the outcome.
   */
  alignOptions(): RequestOptions;
  /**
   * Adds fields to the one line logged for this request (a "canonical log
   * line"): what happened, with ids, instead of a line per step.
   */
  annotate(fields: LogFields): void;
  /** Counts a metric for this request (flushed as one EMF line at its end). */
  count(metric: Metric, value?: number): void;
  /**
   * Logs a problem the request ends with (an error line for a 5xx, with the
   * cause's class, never its text) and counts Align's failures by status.
   */
  report(problem: ProblemError): void;
}

export type RouteHandler = (invocation: Invocation) => Promise<ApiResult>;

/** Lambda's budget when there is no context (a direct call in a test or script). */
const DEFAULT_BUDGET_MS = 30_000;
/** Kept free after an Align call for the DynamoDB writes that record it. */
const RECORDING_RESERVE_MS = 1_500;
/** Kept free after the last DynamoDB call to answer: every call is aborted this long before the deadline. */
const ANSWER_RESERVE_MS = 250;
const LEASE_MARGIN_MS = 2_000;

/** Functions that have served a request in this process (one per Lambda; several locally). */
const warm = new Set<string>();
/** Logs failures that happen before the runtime (and its logger) exist, such as a bad config. */
const bootLog = new Logger({ service: "align-onboarding" });

/**
 * Wraps a route handler as a Lambda handler for API Gateway HTTP API events:
 * builds the typed request, logs one line per request (ids and status only),
 * and turns every error into problem+json (5xx with a request id, never a
 * stack or upstream text).
 *
 * @example
 * ```ts
 * export const handler = httpHandler("get-customer", async ({ request, runtime }) => { ... });
 * ```
 */
export function httpHandler(name: string, handle: RouteHandler) {
  return async (event: ApiEvent, context?: Partial<Context>): Promise<ApiResult> => {
    const started = now();
    const isCold = !warm.has(name);
    warm.add(name);
    const fallbackId = context?.awsRequestId ?? `local-${started.toString(36)}`;
    const request = toHttpRequest(event, fallbackId);
    const remaining = context?.getRemainingTimeInMillis?.() ?? DEFAULT_BUDGET_MS;
    const deadlineMs = started + remaining;
    let log: Logger | undefined;
    let result: ApiResult;
    const notes: LogFields = {};
    const counts: Partial<Record<Metric, number>> = {};
    const count = (metric: Metric, value = 1) => {
      counts[metric] = (counts[metric] ?? 0) + value;
    };
    const report = (problem: ProblemError) => {
      const cause = problem.cause ?? problem;
      log ??= bootLog.child({ function: name, request_id: request.requestId, cold_start: isCold });
      if (problem.status >= 500) {
        // A ConfigError's message names the bad variables (never their values): the on-call fix.
        const detail = cause instanceof ConfigError ? cause.message : undefined;
        log.error("request failed", { code: problem.code, ...errorFields(cause), detail });
      } else if (cause instanceof AlignError) {
        log.warn("Align refused the request", { code: problem.code, ...errorFields(cause) });
      }
      if (cause instanceof AlignError) {
        log.raw(emfLine({ function: name, align_status: String(cause.status) }, { [Metric.AlignErrors]: 1 }));
      }
    };
    try {
      // Every DynamoDB call of this invocation ends before its deadline (see boundedDynamo).
      const runtime = getRuntime().until(deadlineMs - ANSWER_RESERVE_MS);
      // Every API function uses the Align key (Align calls, webhook signatures, cursors): fail fast without it.
      requireAlignKey(runtime.config);
      log = runtime.log.child({ function: name, request_id: request.requestId, cold_start: isCold });
      const invocation: Invocation = {
        request,
        runtime,
        log,
        leaseUntilMs: deadlineMs + LEASE_MARGIN_MS,
        alignOptions: () => {
          const budget = Math.max(100, deadlineMs - now() - RECORDING_RESERVE_MS);
          return { timeoutMs: Math.min(runtime.config.alignTimeoutMs, budget), totalTimeoutMs: budget };
        },
        annotate: (fields) => Object.assign(notes, fields),
        count,
        report,
      };
      result = await handle(invocation);
    } catch (error) {
      const problem = toProblem(error);
      report(problem);
      log ??= bootLog.child({ function: name, request_id: request.requestId, cold_start: isCold });
      result = problemResult(problem, request.requestId);
    }
    if (Object.keys(counts).length > 0) log.raw(emfLine({ function: name }, counts));
    log.info("request", {
      ...notes,
      route: request.routeKey,
      status: result.statusCode,
      ms: now() - started,
      replayed: result.headers["idempotent-replayed"] === "true" ? true : undefined,
    });
    return result;
  };
}
