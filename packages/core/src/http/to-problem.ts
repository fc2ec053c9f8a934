import {
  AlignAbortError,
  AlignAuthenticationError,
  AlignConflictError,
  AlignConnectionError,
  AlignError,
  AlignNotFoundError,
  AlignPermissionDeniedError,
  AlignRateLimitError,
  AlignServerError,
  AlignTimeoutError,
  AlignUnexpectedResponseError,
  AlignValidationError,
} from "@align-onboarding/align";
import { ProblemError } from "./problem.js";

/** Seconds a client should wait before retrying after a transient failure. */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

const retryAfterOf = (error: AlignError) =>
  error.retryAfterMs === undefined
    ? DEFAULT_RETRY_AFTER_SECONDS
    : Math.min(60, Math.max(1, Math.ceil(error.retryAfterMs / 1000)));

/**
 * Maps an Align failure onto our problems: 502/503/504 with `Retry-After`
 * where retrying can help; never Align's text. Transient ones are not final,
 * so an idempotent retry runs again; `mayHaveRun` marks an unknown outcome.
 */
export function alignProblem(error: AlignError): ProblemError {
  const cause = error;
  if (error instanceof AlignTimeoutError || error instanceof AlignAbortError) {
    return new ProblemError("upstream_timeout", { retryAfter: DEFAULT_RETRY_AFTER_SECONDS, mayHaveRun: true, cause });
  }
  if (error instanceof AlignConnectionError) {
    return error.mayHaveReachedServer
      ? new ProblemError("upstream_error", { retryAfter: DEFAULT_RETRY_AFTER_SECONDS, mayHaveRun: true, cause })
      : new ProblemError("upstream_unavailable", { retryAfter: DEFAULT_RETRY_AFTER_SECONDS, cause });
  }
  if (error instanceof AlignRateLimitError) {
    return new ProblemError("upstream_rate_limited", { retryAfter: retryAfterOf(error), cause });
  }
  if (error instanceof AlignServerError) {
    const code = error.status === 503 ? "upstream_unavailable" : "upstream_error";
    return new ProblemError(code, { retryAfter: retryAfterOf(error), mayHaveRun: true, cause });
  }
  if (error instanceof AlignUnexpectedResponseError) {
    return new ProblemError("upstream_error", { retryAfter: DEFAULT_RETRY_AFTER_SECONDS, mayHaveRun: true, cause });
  }
  if (error instanceof AlignAuthenticationError || error instanceof AlignPermissionDeniedError) {
    // Our key or permissions are wrong: an operator problem, not the caller's, and not final.
    return new ProblemError("upstream_rejected", { final: false, cause });
  }
  if (
    error instanceof AlignValidationError ||
    error instanceof AlignNotFoundError ||
    error instanceof AlignConflictError
  ) {
    // Align judged this very request: the same request would be judged the same way.
    return new ProblemError("upstream_rejected", { final: true, cause });
  }
  // Anything else (408, a 3xx, an undocumented status) may have come after the change was made.
  return new ProblemError("upstream_error", { retryAfter: DEFAULT_RETRY_AFTER_SECONDS, mayHaveRun: true, cause });
}

const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "TimeoutError",
]);

/** Any thrown value as a problem; unknown failures are 500 and never final. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof AlignError) return alignProblem(error);
  const name = error instanceof Error ? error.name : "";
  const code = (error as { code?: unknown } | null)?.code;
  if (THROTTLING.has(name) || code === "ECONNRESET" || code === "ECONNREFUSED" || code === "ETIMEDOUT") {
    return new ProblemError("service_unavailable", { retryAfter: 1, mayHaveRun: true, cause: error });
  }
  return new ProblemError("internal_error", { mayHaveRun: true, final: false, cause: error });
}
