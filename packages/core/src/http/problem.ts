import type { FieldError } from "@align-onboarding/align";

/**
 * Every problem our API answers, by code. Codes are the stable contract for
 * clients; titles are for people. `type` in a response is `urn:align-onboarding:problem:<code>`.
 */
export const Problems = {
  validation_failed: { status: 400, title: "The request is invalid" },
  invalid_json: { status: 400, title: "The body is not valid JSON" },
  invalid_body: { status: 400, title: "The body must be a JSON object" },
  idempotency_key_missing: { status: 400, title: "An Idempotency-Key header is required" },
  idempotency_key_invalid: { status: 400, title: "The Idempotency-Key header is invalid" },
  invalid_webhook_payload: { status: 400, title: "The webhook body is not a valid Align event" },
  unauthorized: { status: 401, title: "Authentication is required" },
  invalid_signature: { status: 401, title: "The webhook signature is missing or invalid" },
  not_found: { status: 404, title: "Not found" },
  email_already_exists: { status: 409, title: "A customer with this email already exists" },
  idempotency_key_in_use: { status: 409, title: "A request with this Idempotency-Key is still in progress" },
  kyc_not_started: { status: 409, title: "KYC has not been started for this customer" },
  payload_too_large: { status: 413, title: "The body is too large" },
  unsupported_media_type: { status: 415, title: "The body must be application/json" },
  idempotency_key_reused: { status: 422, title: "This Idempotency-Key was used with a different request" },
  upstream_rejected: { status: 422, title: "Align rejected the request" },
  internal_error: { status: 500, title: "Internal error" },
  upstream_error: { status: 502, title: "Align failed to process the request" },

  upstream_unavailable: { status: 503, title: "Align is unavailable" },
  upstream_rate_limited: { status: 503, title: "Align is rate limiting requests" },
  service_unavailable: { status: 503, title: "The service is temporarily unavailable" },
  upstream_timeout: { status: 504, title: "Align did not answer in time" },
} as const satisfies Record<string, { status: number; title: string }>;
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
   * Default: `store` below 500, `release_uncertain` from 500. A 5xx is never
   * stored (it always means "retry"), so `store` is refused there.
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

  constructor(code: ProblemCode, options: ProblemOptions = {}) {
    super(options.detail ?? Problems[code].title, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = Problems[code].status;
    this.title = Problems[code].title;
    this.detail = options.detail;
    this.errors = options.errors;
    const retryable = this.status >= 500;
    if (retryable && options.disposition === Disposition.Store) {
      throw new TypeError(`A ${this.status} problem cannot be stored: every 5xx means "retry"`);
    }
    this.retryAfter = options.retryAfter ?? (retryable ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
    this.extensions = options.extensions ?? {};
    this.disposition = options.disposition ?? (retryable ? Disposition.ReleaseUncertain : Disposition.Store);
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
