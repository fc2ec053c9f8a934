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
  AlignValidationError,
} from "@align-onboarding/align";
import { DEFAULT_RETRY_AFTER_SECONDS, Disposition, ProblemError } from "./problem.js";

/** How long a caller should wait when our own Align key is refused: an operator has to act. */
const MISCONFIGURED_RETRY_AFTER_SECONDS = 30;

const retryAfterOf = (error: AlignError) =>
  error.retryAfterMs === undefined
    ? DEFAULT_RETRY_AFTER_SECONDS
    : Math.min(60, Math.max(1, Math.ceil(error.retryAfterMs / 1000)));

/** Align's refusals for a customer's state, by Align's `code`, as the problem we answer for that state. */
const ALIGN_STATE_REFUSALS = {
  kyc_session_required: "kyc_not_started",
  kyc_session_expired: "kyc_session_expired",
} as const;

/**
 * The one classification of Align failures: which problem the caller sees and
 * what the idempotency record does with it. Never Align's text.
 * - Align refused because of the customer's state, which another request can
 *   change (`kyc_session_required`, `kyc_session_expired`): our own problem for
 *   that state, not stored (the finality rule in problem.ts).
 * - Align judged the request itself (400, 404, 409): final, 422 `upstream_rejected`, stored.
 * - Align certainly did nothing (refused connection, 429, our key refused): 503, released.
 * - Align may have acted (timeout, dropped connection, 5xx, anything undocumented):
 *   502/503/504, released as uncertain so the retry converges.
 */
export function alignProblem(error: AlignError): ProblemError {
  const cause = error;
  const uncertain = Disposition.ReleaseUncertain;
  if (error instanceof AlignTimeoutError || error instanceof AlignAbortError) {
    return new ProblemError("upstream_timeout", { disposition: uncertain, cause });
  }
  if (error instanceof AlignConnectionError) {
    return error.mayHaveReachedServer
      ? new ProblemError("upstream_error", { disposition: uncertain, cause })
      : new ProblemError("upstream_unavailable", { disposition: Disposition.Release, cause });
  }
  if (error instanceof AlignRateLimitError) {
    return new ProblemError("upstream_rate_limited", {
      retryAfter: retryAfterOf(error),
      disposition: Disposition.Release,
      cause,
    });
  }
  if (error instanceof AlignServerError) {
    const code = error.status === 503 ? "upstream_unavailable" : "upstream_error";
    return new ProblemError(code, { retryAfter: retryAfterOf(error), disposition: uncertain, cause });
  }
  if (error instanceof AlignAuthenticationError || error instanceof AlignPermissionDeniedError) {
    // Our key or its permissions are wrong: nothing ran, and it is the operator's to fix, not the caller's.
    return new ProblemError("upstream_unavailable", {
      retryAfter: MISCONFIGURED_RETRY_AFTER_SECONDS,
      disposition: Disposition.Release,
      cause,
    });
  }
  const state = ALIGN_STATE_REFUSALS[error.code as keyof typeof ALIGN_STATE_REFUSALS];
  if (state !== undefined && error.status >= 400 && error.status < 500) {
    // Refused for a state another request lifts (start KYC again): may change, as our own refusal would.
    return new ProblemError(state, { cause });
  }
  if (
    error instanceof AlignValidationError ||
    error instanceof AlignNotFoundError ||
    error instanceof AlignConflictError
  ) {
    // Align judged this very request: the same request would be judged the same way.
    return new ProblemError("upstream_rejected", { disposition: Disposition.Store, cause });
  }
  // AlignUnexpectedResponseError, 408, a 3xx, an undocumented status: may have come after the change was made.
  return new ProblemError("upstream_error", { disposition: uncertain, cause });
}

/** DynamoDB failures worth a retry; the write may or may not have reached the table. */
const TRANSIENT_NAMES = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "TimeoutError",
  "AbortError",
]);
const TRANSIENT_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE"]);

/** Any thrown value as a problem; anything unclassified is a 500, released as uncertain. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  if (error instanceof AlignError) return alignProblem(error);
  const name = error instanceof Error ? error.name : "";
  const code = (error as { code?: unknown } | null)?.code;
  if (TRANSIENT_NAMES.has(name) || (typeof code === "string" && TRANSIENT_CODES.has(code))) {
    return new ProblemError("service_unavailable", { retryAfter: 1, cause: error });
  }
  return new ProblemError("internal_error", { cause: error });
}
