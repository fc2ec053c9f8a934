import type { GatewayMessage, Kycs, Problem } from "./api-types.js";

/** A field the API refused, with its path in the request (`["email"]`, `["company_name"]`). */
export interface FieldError {
  path: string[];
  message: string;
}

export interface ApiErrorInit {
  status: number;
  message: string;
  code?: Problem["code"] | undefined;
  title?: string | undefined;
  detail?: string | undefined;
  errors?: FieldError[] | undefined;
  requestId?: string | undefined;
  customerId?: string | undefined;
  retryAfterMs?: number | undefined;
  idempotencyKey?: string | undefined;
  body?: unknown;
  cause?: unknown;
}

/**
 * Every failure of a call: a problem our API answered (`code`, `errors`,
 * `requestId`), API Gateway's own answer ({@link GatewayError}), or no answer
 * at all ({@link ApiConnectionError}, {@link ApiTimeoutError}, {@link ApiAbortError}, status 0).
 * `idempotencyKey` is the key the operation used: persist it to resume the
 * same operation later.
 *
 * @example
 * ```ts
 * try {
 *   await api.customers.create(body);
 * } catch (error) {
 *   if (error instanceof ApiError && error.code === "validation_failed") showFieldErrors(error.errors);
 *   else throw error;
 * }
 * ```
 */
export class ApiError extends Error {
  override name = "ApiError";
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  /** The problem's stable code; undefined for API Gateway's own answers and for no answer. */
  readonly code: Problem["code"] | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  /** Every refused field with its path (empty unless `validation_failed`). */
  readonly errors: FieldError[];
  /** Our request id (`request_id`, `X-Request-Id`): quote it when asking for help. */
  readonly requestId: string | undefined;
  /**
   * `email_already_exists` only: the id of the existing customer when the
   * caller owns it (resume with `customers.get(error.customerId)`); undefined otherwise.
   */
  readonly customerId: string | undefined;
  /** How long the server asked to wait (`Retry-After`), in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** The operation's Idempotency-Key (POSTs that change state). */
  readonly idempotencyKey: string | undefined;
  /** The parsed body, as received. */
  readonly body: unknown;

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.detail = init.detail;
    this.errors = init.errors ?? [];
    this.requestId = init.requestId;
    this.customerId = init.customerId;
    this.retryAfterMs = init.retryAfterMs;
    this.idempotencyKey = init.idempotencyKey;
    this.body = init.body;
  }
}

/**
 * API Gateway's own answer, `{"message": ...}` (a refused token 401, no route
 * 404, throttling 429, a failed function 500/503): no `code`, no `requestId`.
 */
export class GatewayError extends ApiError {
  override name = "GatewayError";
  /** API Gateway's message, e.g. `Unauthorized`, `Not Found`. */
  readonly gatewayMessage: GatewayMessage["message"];

  constructor(init: ApiErrorInit & { gatewayMessage: string }) {
    super(init);
    this.gatewayMessage = init.gatewayMessage;
  }
}

/** No answer: the network failed (the server may or may not have acted; the same key makes a retry safe). */
export class ApiConnectionError extends ApiError {
  override name = "ApiConnectionError";
}

/** No answer within the attempt's timeout or the call's total budget. */
export class ApiTimeoutError extends ApiConnectionError {
  override name = "ApiTimeoutError";
}

/** The caller's `AbortSignal` stopped the call. */
export class ApiAbortError extends ApiError {
  override name = "ApiAbortError";
}

/**
 * `waitForKycStatus` gave up: the status did not arrive within `timeoutMs`.
 * The API answered every read, so this is not an {@link ApiConnectionError}:
 * an offline handler does not catch it.
 */
export class KycWaitTimeoutError extends ApiError {
  override name = "KycWaitTimeoutError";
  /** The last status read (`null` before KYC started). */
  readonly lastStatus: Kycs["status"] | null;

  constructor(init: ApiErrorInit & { lastStatus: Kycs["status"] | null }) {
    super(init);
    this.lastStatus = init.lastStatus;
  }
}
