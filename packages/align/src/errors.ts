/**
 * The Align error family. Every failure the client raises is an {@link AlignError},
 * so one `instanceof` check catches them all; subclasses narrow by cause.
 *
 * @example
 * ```ts
 * try {
 *   await align.customers.create(input);
 * } catch (error) {
 *   if (error instanceof AlignValidationError) console.error(error.errors);
 *   else if (error instanceof AlignConflictError) console.error("Email already exists");
 *   else if (error instanceof AlignError) console.error(error.status, error.code, error.requestId);
 * }
 * ```
 */

/** One field-level problem: `path` locates the field, as in `["email"]`. */
export interface FieldError {
  path: string[];
  message: string;
}

export interface AlignErrorOptions {
  /** HTTP status, or 0 when no response was received. */
  status: number;
  /** Machine-readable code: Align's own `code` when it sent one, else ours. */
  code: string;
  requestId?: string | undefined;
  /** The parsed response body (JSON, or text when it was not JSON). */
  body?: unknown;
  /** Server-requested wait before retrying, from `Retry-After`. */
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** Base class of every error the Align client throws. */
export class AlignError extends Error {
  override name = "AlignError";
  /** HTTP status, or 0 when no response was received. */
  readonly status: number;
  readonly code: string;
  /** Align's request id from the response headers, when it sent one. */
  readonly requestId: string | undefined;
  readonly body: unknown;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: AlignErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.code = options.code;
    this.requestId = options.requestId;
    this.body = options.body;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The request was invalid: rejected by the client before any network call, or
 * answered 400 by Align. `errors` lists every field problem at once.
 */
export class AlignValidationError extends AlignError {
  override name = "AlignValidationError";
  readonly errors: FieldError[];

  constructor(message: string, errors: FieldError[], options?: Partial<AlignErrorOptions>) {
    super(message, { status: 400, code: "validation_error", ...options });
    this.errors = errors;
  }
}

/**
 * The API key is missing, wrong, or not where Align reads it: a 401, or a 400
 * whose body speaks of authentication (API Gateway's "Missing Authentication
 * Token"). Nothing ran.
 */
export class AlignAuthenticationError extends AlignError {
  override name = "AlignAuthenticationError";
}

/** 403: the key may not do this (for example, simulation in production). */
export class AlignPermissionDeniedError extends AlignError {
  override name = "AlignPermissionDeniedError";
}

/** 404: no such resource. */
export class AlignNotFoundError extends AlignError {
  override name = "AlignNotFoundError";
}

/**
 * Conflicts with existing state (for customers: the email already exists).
 * Usually a 409; on create, a 400 or 422 saying the email is taken is this
 * error too, with its own `status` and the validation error as `cause`.
 */
export class AlignConflictError extends AlignError {
  override name = "AlignConflictError";
}

/** 429: too many requests; `retryAfterMs` says how long Align asked us to wait. */
export class AlignRateLimitError extends AlignError {
  override name = "AlignRateLimitError";
}

/** 5xx: Align failed. For a POST the change may or may not have happened. */
export class AlignServerError extends AlignError {
  override name = "AlignServerError";
}

/** A 2xx response whose body is not what the API documents (not JSON, no id). */
export class AlignUnexpectedResponseError extends AlignError {
  override name = "AlignUnexpectedResponseError";
}

/**
 * No HTTP response was received (status 0). `mayHaveReachedServer` is false only
 * when the connection was never established, so the request cannot have run.
 */
export class AlignConnectionError extends AlignError {
  override name = "AlignConnectionError";
  readonly mayHaveReachedServer: boolean;

  constructor(message: string, mayHaveReachedServer: boolean, options?: Partial<AlignErrorOptions>) {
    super(message, { status: 0, code: "connection_error", ...options });
    this.mayHaveReachedServer = mayHaveReachedServer;
  }
}

/** The per-call timeout elapsed first (status 0). The request may have run. */
export class AlignTimeoutError extends AlignConnectionError {
  override name = "AlignTimeoutError";
  readonly timeoutMs: number;

  constructor(timeoutMs: number, options?: Partial<AlignErrorOptions>) {
    super(`Align request timed out after ${timeoutMs} ms`, true, { code: "timeout", ...options });
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's own `AbortSignal` cancelled the request (status 0). */
export class AlignAbortError extends AlignError {
  override name = "AlignAbortError";

  constructor(options?: Partial<AlignErrorOptions>) {
    super("Align request was aborted by the caller", { status: 0, code: "aborted", ...options });
  }
}

/** A webhook body that is not JSON or not a valid Align event. */
export class AlignWebhookPayloadError extends AlignError {
  override name = "AlignWebhookPayloadError";
  readonly errors: FieldError[];

  constructor(message: string, errors: FieldError[], options?: Partial<AlignErrorOptions>) {
    super(message, { status: 0, code: "invalid_webhook_payload", ...options });
    this.errors = errors;
  }
}
