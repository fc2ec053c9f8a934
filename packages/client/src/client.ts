import type { GatewayMessage, Problem } from "./api-types.js";
import { ApiAbortError, ApiConnectionError, ApiError, ApiTimeoutError, GatewayError } from "./errors.js";
import { newIdempotencyKey } from "./idempotency-key.js";
import { Customers } from "./resources/customers.js";
import { Sandbox } from "./resources/sandbox.js";
import { backoffMs, isRetryable, parseRetryAfter, sleep } from "./retry.js";

/** `fetch` or anything with its shape (instrumentation, a test double, React Native's). */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Gives the bearer token for a call. `forceRefresh` is true once after the
 * API answered 401: get a new token (your identity provider's refresh), not a cached one.
 */
export type TokenProvider = (context: { forceRefresh: boolean }) => string | Promise<string>;

export interface AlignOnboardingOptions {
  /** The API's URL: `http://127.0.0.1:3000` locally, your stage's URL in AWS. */
  baseUrl: string;
  /** A token, or a function that gives one (called for every call; again with `forceRefresh` after a 401). */
  token: string | TokenProvider;
  /** Default `globalThis.fetch`. */
  fetch?: FetchLike;
  /** Per attempt (default 25 000 ms: above the functions' 20 s, below API Gateway's 30 s). */
  timeoutMs?: number;
  /**
   * Per call, retries and waits included (default 60 000 ms). It covers a
   * resume after a crash: the first attempt's lock holds for its lease (up to
   * the functions' 20 s timeout) while the server answers 409 with
   * `Retry-After` (at most 5 s), then the resumed attempt runs (up to 25 s).
   */
  totalTimeoutMs?: number;
  /** Retries after the first attempt (default 8: enough 409 `Retry-After` waits to outlast a 20 s lease), within `totalTimeoutMs`. */
  maxRetries?: number;
  /** Makes Idempotency-Keys (default: a random UUID, see {@link newIdempotencyKey}). */
  idempotencyKey?: () => string;
  /** Told before each retry (logging, metrics). */
  onRetry?: (retry: { attempt: number; delayMs: number; error: ApiError }) => void;
  /** Jitter source in [0, 1) (default `Math.random`). */
  random?: () => number;
}

/** What a success carried besides its body (openai-node's `withResponse()`). */
export interface WithResponse<T> {
  data: T;
  /** Our request id (`X-Request-Id`): quote it when asking for help. */
  requestId: string | undefined;
  /** The HTTP answer (status, headers; its body is already read into `data`). */
  response: Response;
}

/**
 * A call's promise: `await` it for the body, or `await call.withResponse()`
 * for the body with its request id and HTTP answer.
 */
export type ApiPromise<T> = Promise<T> & { withResponse(): Promise<WithResponse<T>> };

/** Options every call takes last. */
export interface CallOptions {
  /** Stops the call (waits included); it then rejects with {@link ApiAbortError}. */
  signal?: AbortSignal;
  timeoutMs?: number;
  totalTimeoutMs?: number;
  maxRetries?: number;
}

/** Options of a call that changes state (it carries an Idempotency-Key). */
export interface MutationOptions extends CallOptions {
  /**
   * The operation's key: pass the one you persisted to resume an operation
   * after a restart (the server replays its answer or finishes it once).
   * Default: a new key, reused by this call's own retries.
   */
  idempotencyKey?: string;
  /** Told the key before the first attempt: persist it here to resume after a restart. */
  onIdempotencyKey?: (key: string) => void | Promise<void>;
}

interface RequestSpec {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  /** POSTs that change state carry an Idempotency-Key. */
  mutation: boolean;
}

/**
 * The typed client of the align-onboarding API for mobile and web apps (and
 * Node): fetch only, no dependencies. Every state-changing call carries an
 * Idempotency-Key, reused across its own retries; transient failures (no
 * answer, 409 `idempotency_key_in_use`, 429, 5xx) are retried with jittered
 * backoff, honouring `Retry-After`, within a total budget; a final answer is
 * never retried.
 *
 * @example
 * ```ts
 * const api = new AlignOnboarding({ baseUrl: "https://api.example.com", token: () => auth.idToken() });
 * const customer = await api.customers.create({ email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" });
 * const { kycs } = await api.customers.startKyc(customer.customer_id);
 * const approved = await api.customers.waitForKycStatus(customer.customer_id, { until: "approved", timeoutMs: 60_000 });
 * ```
 */
export class AlignOnboarding {
  readonly customers: Customers;
  readonly sandbox: Sandbox;
  readonly baseUrl: string;
  // TypeScript `private`, not `#private`: Hermes has no private class fields (see the package README).
  private readonly options: AlignOnboardingOptions;
  private readonly fetchImpl: FetchLike;

  constructor(options: AlignOnboardingOptions) {
    if (!/^https?:\/\//.test(options.baseUrl)) throw new TypeError("baseUrl must be an http(s) URL");
    for (const name of ["timeoutMs", "totalTimeoutMs", "maxRetries"] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TypeError(`${name} must be a number >= 0`);
      }
    }
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!fetchImpl) throw new TypeError("No fetch: pass one as the `fetch` option");
    this.fetchImpl = (url, init) => fetchImpl(url, init);
    this.customers = new Customers(this);
    this.sandbox = new Sandbox(this);
  }

  /** A new Idempotency-Key, made as this client makes them (to persist before calling). */
  newIdempotencyKey(): string {
    return (this.options.idempotencyKey ?? newIdempotencyKey)();
  }

  /**
   * One call with its retries. Public for resources; apps use the resource methods.
   *
   * @throws {ApiError} the final answer, or the last failure when retries or the budget ran out.
   */
  request<T>(spec: RequestSpec, options: MutationOptions = {}): ApiPromise<T> {
    return apiPromise(this.run<T>(spec, options));
  }

  private async run<T>(spec: RequestSpec, options: MutationOptions): Promise<WithResponse<T>> {
    const { signal } = options;
    const totalMs = options.totalTimeoutMs ?? this.options.totalTimeoutMs ?? 60_000;
    const attemptMs = options.timeoutMs ?? this.options.timeoutMs ?? 25_000;
    const maxRetries = options.maxRetries ?? this.options.maxRetries ?? 8;
    const random = this.options.random ?? Math.random;
    const deadline = Date.now() + totalMs;
    const key = spec.mutation ? (options.idempotencyKey ?? this.newIdempotencyKey()) : undefined;
    if (key !== undefined) await options.onIdempotencyKey?.(key);
    let refreshed = false;
    let forceRefresh = false;
    for (let attempt = 0; ; ) {
      if (signal?.aborted) throw aborted(signal, key);
      const remaining = deadline - Date.now();
      const error = await this.attempt<T>(spec, key, Math.min(attemptMs, remaining), forceRefresh, signal);
      if (!(error instanceof ApiError)) return error;
      forceRefresh = false;
      // A refused token: ask the provider for a fresh one, once (not a retry of the operation).
      if (error.status === 401 && !refreshed && typeof this.options.token === "function") {
        refreshed = true;
        forceRefresh = true;
        continue;
      }
      if (!isRetryable(error) || attempt >= maxRetries) throw error;
      const delayMs = backoffMs(attempt, error.retryAfterMs, random);
      // A wait that would end past the budget cannot help: the failure is the answer.
      if (Date.now() + delayMs >= deadline) throw error;
      attempt += 1;
      this.options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal).catch((abort: unknown) => {
        throw signal ? aborted(signal, key) : abort;
      });
    }
  }

  private async token(forceRefresh: boolean): Promise<string> {
    const { token } = this.options;
    return typeof token === "function" ? await token({ forceRefresh }) : token;
  }

  /** One attempt: the parsed success, or the error it ended with (never thrown). */
  private async attempt<T>(
    spec: RequestSpec,
    key: string | undefined,
    timeoutMs: number,
    forceRefresh: boolean,
    signal: AbortSignal | undefined,
  ): Promise<WithResponse<T> | ApiError> {
    if (timeoutMs <= 0)
      return new ApiTimeoutError({ status: 0, message: "The call's time budget ran out", idempotencyKey: key });
    const headers: Record<string, string> = {
      accept: "application/json, application/problem+json",
      authorization: `Bearer ${await this.token(forceRefresh)}`,
    };
    if (key !== undefined) headers["idempotency-key"] = key;
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${spec.path}`, {
        method: spec.method,
        headers,
        signal: controller.signal,
        ...(spec.body === undefined ? {} : { body: JSON.stringify(spec.body) }),
      });
      text = await response.text();
    } catch (cause) {
      if (signal?.aborted) return aborted(signal, key);
      const init = { status: 0, idempotencyKey: key, cause };
      return timedOut
        ? new ApiTimeoutError({ ...init, message: `No answer within ${timeoutMs} ms` })
        : new ApiConnectionError({ ...init, message: "The API could not be reached" });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    if (response.ok) return { data: body as T, requestId: response.headers.get("x-request-id") ?? undefined, response };
    return errorOf(response, body, key);
  }
}

/** The body's promise, with `withResponse()` giving the whole result. */
export function apiPromise<T>(result: Promise<WithResponse<T>>): ApiPromise<T> {
  const data = result.then((value) => value.data);
  // A caller that only uses withResponse() never awaits `data`: its rejection must not be reported as unhandled.
  data.catch(() => undefined);
  return Object.assign(data, { withResponse: () => result });
}

function aborted(signal: AbortSignal, key: string | undefined): ApiAbortError {
  return new ApiAbortError({ status: 0, message: "The call was aborted", idempotencyKey: key, cause: signal.reason });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** A non-2xx answer as an error: our problem, API Gateway's `{"message"}`, or anything else. */
function errorOf(response: Response, body: unknown, key: string | undefined): ApiError {
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim();
  const base = {
    status: response.status,
    retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    idempotencyKey: key,
    body,
  };
  if (mediaType === "application/problem+json" && isObject(body) && typeof body.code === "string") {
    const problem = body as unknown as Problem;
    return new ApiError({
      ...base,
      message: `${response.status} ${problem.code}: ${problem.detail ?? problem.title}`,
      code: problem.code,
      title: problem.title,
      detail: problem.detail,
      errors: problem.errors ?? [],
      requestId: problem.request_id ?? response.headers.get("x-request-id") ?? undefined,
      customerId: problem.code === "email_already_exists" ? problem.customer_id : undefined,
    });
  }
  if (isObject(body) && typeof body.message === "string" && Object.keys(body).length === 1) {
    const { message } = body as unknown as GatewayMessage;
    return new GatewayError({
      ...base,
      message: `${response.status} ${message} (API Gateway)`,
      gatewayMessage: message,
    });
  }
  return new ApiError({
    ...base,
    message: `${response.status} ${response.statusText || "error"}`,
    requestId: response.headers.get("x-request-id") ?? undefined,
  });
}
