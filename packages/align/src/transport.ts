import type * as z from "zod/mini";
import {
  AlignAbortError,
  AlignAuthenticationError,
  AlignConflictError,
  AlignConnectionError,
  AlignError,
  type AlignErrorOptions,
  AlignNotFoundError,
  AlignPermissionDeniedError,
  AlignRateLimitError,
  AlignServerError,
  AlignTimeoutError,
  AlignUnexpectedResponseError,
  AlignValidationError,
  type FieldError,
} from "./errors.js";
import type { FetchLike } from "./http-fetch.js";
import {
  isRetryableNetworkFailure,
  isRetryableStatus,
  MAX_RETRY_AFTER_MS,
  parseRetryAfter,
  retryDelayMs,
} from "./retry.js";
import { API_PREFIX, type AuthHeader, authHeaders, readRequestId, refusesKey, type WireNegotiator } from "./wire.js";
import { safeParse } from "./zod.js";

/** Options any single call may override. */
export interface RequestOptions {
  /** Timeout of each attempt in milliseconds (client default: 30 000). */
  timeoutMs?: number;
  /** Retries after the first attempt, where retrying is safe (client default: 2). */
  maxRetries?: number;
  /**
   * Budget for the whole call: attempts, backoff and `Retry-After` waits. No
   * attempt starts or waits past it; the last error is thrown instead. Use it
   * to stay inside a Lambda's remaining time. Default: unbounded.
   */
  totalTimeoutMs?: number;
  /** Cancels the call, including any wait between retries. */
  signal?: AbortSignal;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface ApiRequest {
  method: HttpMethod;
  /** Path after the `/v0` prefix, already URL-encoded. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

export interface ApiResponse {
  status: number;
  headers: { get(name: string): string | null };
  /** JSON when the body parsed as JSON, else the text ("" when empty). */
  body: unknown;
  requestId: string | undefined;
}

export interface TransportConfig {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
  fetch: FetchLike;
  /** Which auth form (and type field name) to send; learns from refusals of the key. */
  wire: WireNegotiator;
}

/** The least time worth giving an attempt when deciding whether a retry fits the budget. */
const MIN_ATTEMPT_MS = 100;

const USER_AGENT = `align-onboarding/0.1.0 node/${process.versions.node}`;

const REQUEST_ID = "_request_id";

/**
 * Align's request id for a result the client returned, when Align sent one.
 *
 * @example
 * ```ts
 * const customer = await align.customers.create(input);
 * log.info("created", { align_request_id: alignRequestId(customer) });
 * ```
 */
export function alignRequestId(result: unknown): string | undefined {
  if (typeof result !== "object" || result === null) return undefined;
  const id = (result as Record<string, unknown>)[REQUEST_ID];
  return typeof id === "string" ? id : undefined;
}

/** Error codes meaning no connection was ever made, so the request never ran. */
const NEVER_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/**
 * Sends requests to Align: auth headers, per-attempt timeout, safe retries with
 * backoff, and one error family for every failure.
 */
export class Transport {
  readonly #config: TransportConfig;

  constructor(config: TransportConfig) {
    this.#config = config;
  }

  /** Sends `request`, retrying where safe; resolves only with a 2xx response. */
  async request(request: ApiRequest, options: RequestOptions = {}): Promise<ApiResponse> {
    const maxRetries = options.maxRetries ?? this.#config.maxRetries;
    const timeoutMs = options.timeoutMs ?? this.#config.timeoutMs;
    const deadline =
      options.totalTimeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.totalTimeoutMs;
    const { auth } = this.#config.wire;
    // Auth negotiation: each form at most once per call, not counted against maxRetries.
    const formsTried = new Set<AuthHeader>();
    for (let attempt = 0; ; attempt++) {
      let error: AlignError;
      let retryable: boolean;
      const form = auth.current;
      formsTried.add(form);
      try {
        const attemptTimeout = Math.max(1, Math.min(timeoutMs, deadline - Date.now()));
        const response = await this.#attempt(request, form, attemptTimeout, options.signal);
        const keyRefused = refusesKey(response.status, response.body, response.headers);
        if (!keyRefused && provesAuthentication(response.status)) auth.accepted(form);
        if (response.status >= 200 && response.status < 300) return response;
        error = errorFromResponse(response);
        retryable = isRetryableStatus(request.method, response.status);
        if (keyRefused) {
          // The key was refused before anything ran: trying the next form is safe for any method.
          const next = auth.next(form);
          if (next !== undefined && !formsTried.has(next) && Date.now() + MIN_ATTEMPT_MS <= deadline) {
            attempt -= 1;
            continue;
          }
        }
      } catch (caught) {
        if (!(caught instanceof AlignConnectionError)) throw caught;
        error = caught;
        retryable = isRetryableNetworkFailure(request.method, caught.mayHaveReachedServer);
      }
      const waitFor = error.retryAfterMs;
      if (!retryable || attempt >= maxRetries || (waitFor !== undefined && waitFor > MAX_RETRY_AFTER_MS)) {
        throw error;
      }
      const delay = retryDelayMs(attempt, waitFor);
      // Waiting, then trying, must fit the budget (an attempt needs some time of its own).
      if (Date.now() + delay + MIN_ATTEMPT_MS > deadline) throw error;
      await sleep(delay, options.signal);
    }
  }

  async #attempt(
    request: ApiRequest,
    form: AuthHeader,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<ApiResponse> {
    if (signal?.aborted) throw new AlignAbortError({ cause: signal.reason });
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#config.fetch(this.#url(request), {
        method: request.method,
        headers: this.#headers(request.body !== undefined, form),
        signal: controller.signal,
        ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      });
      // The body is read under the same timeout: a stalled body is a timeout too.
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: parseBody(text),
        requestId: readRequestId(response.headers),
      };
    } catch (cause) {
      if (timedOut) throw new AlignTimeoutError(timeoutMs, { cause });
      if (signal?.aborted) throw new AlignAbortError({ cause });
      throw new AlignConnectionError(`Could not reach Align: ${describe(cause)}`, mayHaveReachedServer(cause), {
        cause,
      });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }

  #url(request: ApiRequest): string {
    const base = this.#config.baseUrl.replace(/\/+$/, "");
    const query = request.query ? `?${new URLSearchParams(request.query).toString()}` : "";
    return `${base}${API_PREFIX}${request.path}${query}`;
  }

  #headers(hasBody: boolean, form: AuthHeader): Record<string, string> {
    return {
      accept: "application/json",
      "user-agent": USER_AGENT,
      ...(hasBody ? { "content-type": "application/json" } : {}),
      ...authHeaders(this.#config.apiKey, form),
    };
  }
}

/**
 * Whether an answer shows the key was read and accepted: a refusal for another
 * reason (400, 404, 409) still proves it; 401/403, 408, 429 and 5xx may come
 * from a proxy in front of Align before any key check, so they prove nothing
 * (nor does a 400 refusing the key, which the caller checks first).
 */
function provesAuthentication(status: number): boolean {
  if (status >= 200 && status < 300) return true;
  return status >= 400 && status < 500 && ![401, 403, 408, 429].includes(status);
}

/**
 * Validates a 2xx body against `schema`. A body that does not match is an
 * {@link AlignUnexpectedResponseError}, never a silently wrong object.
 */
export function parseResponse<S extends z.core.$ZodType>(schema: S, response: ApiResponse): z.output<S> {
  const result = safeParse(schema, response.body);
  if (result.success) {
    // Align's request id travels with the result, invisible to JSON and to spreads (as openai-node's `_request_id`).
    if (typeof result.data === "object" && result.data !== null && response.requestId !== undefined) {
      Object.defineProperty(result.data, REQUEST_ID, { value: response.requestId, enumerable: false });
    }
    return result.data;
  }
  throw new AlignUnexpectedResponseError(
    `Align answered ${response.status} with a body that does not match the documented shape`,
    {
      status: response.status,
      code: "unexpected_response",
      requestId: response.requestId,
      body: response.body,
      cause: result.error,
    },
  );
}

function parseBody(text: string): unknown {
  if (text === "") return "";
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function field(body: unknown, key: string): unknown {
  return typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}

function fieldErrorsOf(body: unknown): FieldError[] {
  const errors = field(body, "errors");
  if (!Array.isArray(errors)) return [];
  return errors.flatMap((entry): FieldError[] => {
    const message = field(entry, "message");
    if (typeof message !== "string") return [];
    const path = field(entry, "path") ?? field(entry, "field");
    if (Array.isArray(path)) return [{ path: path.map(String), message }];
    if (typeof path === "string") return [{ path: path.split("."), message }];
    return [{ path: [], message }];
  });
}

/** Maps a non-2xx response onto the error family. */
export function errorFromResponse(response: ApiResponse): AlignError {
  const { status, body } = response;
  const upstreamMessage = field(body, "message") ?? field(body, "error");
  const upstreamCode = field(body, "code");
  const message = `Align answered ${status}${typeof upstreamMessage === "string" ? `: ${upstreamMessage}` : ""}`;
  const options: AlignErrorOptions = {
    status,
    code: typeof upstreamCode === "string" ? upstreamCode : `http_${status}`,
    requestId: response.requestId,
    body,
    retryAfterMs: parseRetryAfter(response.headers),
  };
  // A gateway's 400 "Missing Authentication Token" refuses the key, not the request: the operator's to fix.
  if (status === 400 && refusesKey(status, body, response.headers))
    return new AlignAuthenticationError(message, options);
  if (status === 400 || status === 422) return new AlignValidationError(message, fieldErrorsOf(body), options);
  if (status === 401) return new AlignAuthenticationError(message, options);
  if (status === 403) return new AlignPermissionDeniedError(message, options);
  if (status === 404) return new AlignNotFoundError(message, options);
  if (status === 409) return new AlignConflictError(message, options);
  if (status === 429) return new AlignRateLimitError(message, options);
  if (status >= 500) return new AlignServerError(message, options);
  return new AlignError(message, options);
}

function causeChain(error: unknown): unknown[] {
  const seen: unknown[] = [];
  const queue = [error];
  while (queue.length > 0 && seen.length < 20) {
    const current = queue.shift();
    if (typeof current !== "object" || current === null || seen.includes(current)) continue;
    seen.push(current);
    queue.push((current as { cause?: unknown }).cause);
    if (current instanceof AggregateError) queue.push(...current.errors);
  }
  return seen;
}

function mayHaveReachedServer(error: unknown): boolean {
  return !causeChain(error).some((entry) => NEVER_CONNECTED.has(String(field(entry, "code"))));
}

function describe(error: unknown): string {
  const codes = causeChain(error)
    .map((entry) => field(entry, "code"))
    .filter((code): code is string => typeof code === "string");
  if (codes.length > 0) return codes[codes.length - 1] as string;
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AlignAbortError({ cause: signal.reason }));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AlignAbortError({ cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
