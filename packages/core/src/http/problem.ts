import type { FieldError } from "@align-onboarding/align";

/**
 * Every problem our API answers, by code, with its finality. Codes are the
 * stable contract for clients; titles are for people. `type` in a response is
 * `urn:align-onboarding:problem:<code>`.
 *
 * **The finality rule** (one rule for every answer, ours and Align's alike):
 * an answer is *final* when no later request can change it, and then it is
 * stored under the Idempotency-Key and replayed for 24 hours; otherwise it
 * *may change*: not stored, the lock is released and the same key may run
 * again.
 * - Successes are final.
 * - A refusal is final when it judges the request itself (`final: true`
 *   below): the same request would be refused the same way. Align's judgement
 *   of a request we validated is such a refusal (`upstream_rejected`).
 * - A refusal the caller can lift with *another* request may change
 *   (`final: false`), whether we or Align refused: KYC not started (ours, or
 *   Align's `kyc_session_required`), an expired KYC session (Align's
 *   `kyc_session_expired`), a key still in use. An `email_already_exists` is
 *   final, except where it is made as may-change (Align reports a duplicate
 *   it does not show yet, while an earlier attempt of this key may be its
 *   author).
 * - Every 5xx may change: it always means "retry" and carries Retry-After.
 * - Refusals made before the operation runs (validation, auth, a reused key)
 *   are never stored, whatever their finality: the key has not run.
 *
 * The default lives here, per code; a problem made as may-change (a 4xx
 * whose cause may pass) says so where it is made, through `disposition`.
 */
export const Problems = {
  validation_failed: { status: 400, title: "The request is invalid", final: true },
  invalid_json: { status: 400, title: "The body is not valid JSON", final: true },
  invalid_body: { status: 400, title: "The body must be a JSON object", final: true },
  idempotency_key_missing: { status: 400, title: "An Idempotency-Key header is required", final: true },
  idempotency_key_invalid: { status: 400, title: "The Idempotency-Key header is invalid", final: true },
  invalid_webhook_payload: { status: 400, title: "The webhook body is not a valid Align event", final: true },
  unauthorized: { status: 401, title: "Authentication is required", final: true },
  invalid_signature: { status: 401, title: "The webhook signature is missing or invalid", final: true },
  not_found: { status: 404, title: "Not found", final: true },
  email_already_exists: { status: 409, title: "A customer with this email already exists", final: true },
  idempotency_key_in_use: {
    status: 409,
    title: "A request with this Idempotency-Key is still in progress",
    final: false,
  },
  kyc_not_started: { status: 409, title: "KYC has not been started for this customer", final: false },
  kyc_session_expired: { status: 409, title: "The customer's KYC session has expired", final: false },
  payload_too_large: { status: 413, title: "The body is too large", final: true },
  unsupported_media_type: { status: 415, title: "The body must be application/json", final: true },
  idempotency_key_reused: { status: 422, title: "This Idempotency-Key was used with a different request", final: true },
  upstream_rejected: { status: 422, title: "Align rejected the request", final: true },
  internal_error: { status: 500, title: "Internal error", final: false },
  upstream_error: { status: 502, title: "Align failed to process the request", final: false },

  upstream_unavailable: { status: 503, title: "Align is unavailable", final: false },
  upstream_rate_limited: { status: 503, title: "Align is rate limiting requests", final: false },
  service_unavailable: { status: 503, title: "The service is temporarily unavailable", final: false },
  upstream_timeout: { status: 504, title: "Align did not answer in time", final: false },
} as const satisfies Record<string, { status: number; title: string; final: boolean }>;
export type ProblemCode = keyof typeof Problems;

export const PROBLEM_TYPE_PREFIX = "urn:align-onboarding:problem:";

/**
 * What an idempotent operation's record does with a failure (see `runIdempotent`),
 * decided once, where the failure is classified.
 */
export const Disposition = {
  /** A final answer: stored and replayed for 24 hours. Only a 4xx can be final. */
  Store: "store",
  /** Nothing changed upstream: the lock is released and a retry with the key runs afresh. */
  Release: "release",
  /** Something may have changed upstream: released as uncertain, so a retry converges first. */
  ReleaseUncertain: "release_uncertain",
} as const;
export type Disposition = (typeof Disposition)[keyof typeof Disposition];

/** Seconds a client should wait before retrying after a transient failure. */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

export interface ProblemOptions {
  detail?: string;
  errors?: FieldError[];
  /** Seconds; sent as `Retry-After`. Every 5xx carries one (default {@link DEFAULT_RETRY_AFTER_SECONDS}). */
  retryAfter?: number;
  /** Extra members of the problem body (e.g. `customer_id`). Never upstream text. */
  extensions?: Record<string, string>;
  /**
   * Default from the code's finality (see {@link Problems}): `store` when
   * final, `release` for a 4xx that may change, `release_uncertain` for a 5xx.
   * A problem that may change is never stored, so `store` is refused there.
   */
  disposition?: Disposition;
  cause?: unknown;
}

/** An error that is answered as `application/problem+json`. */
export class ProblemError extends Error {
  override name = "ProblemError";
  readonly code: ProblemCode;
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly retryAfter: number | undefined;
  readonly extensions: Record<string, string>;
  readonly disposition: Disposition;

  /** Whether this answer is final (stored under its key) or may change (see {@link Problems}). */
  get final(): boolean {
    return this.disposition === Disposition.Store;
  }

  constructor(code: ProblemCode, options: ProblemOptions = {}) {
    super(options.detail ?? Problems[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = Problems[code].status;
    this.title = Problems[code].title;
    this.detail = options.detail;
    this.errors = options.errors;
    const retryable = this.status >= 500;
    const final: boolean = Problems[code].final;
    if (!final && options.disposition === Disposition.Store) {
      throw new TypeError(`A ${code} problem cannot be stored: it may change`);
    }
    this.retryAfter = options.retryAfter ?? (retryable ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
    this.extensions = options.extensions ?? {};
    this.disposition =
      options.disposition ??
      (retryable ? Disposition.ReleaseUncertain : final ? Disposition.Store : Disposition.Release);
  }

  /** The RFC 9457 body. */
  toBody(requestId: string): Record<string, unknown> {
    return {
      type: `${PROBLEM_TYPE_PREFIX}${this.code}`,
      title: this.title,
      status: this.status,
      code: this.code,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.errors === undefined ? {} : { errors: this.errors }),
      ...this.extensions,
      request_id: requestId,
    };
  }
}
