/** Retry policy: which failures are retried, and how long to wait between tries. */

/** Backoff grows from here, doubling per attempt. */
const INITIAL_DELAY_MS = 500;
const MAX_DELAY_MS = 8_000;
/** A `Retry-After` longer than this is not waited out; the error surfaces instead. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Methods whose repetition cannot change state twice. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "DELETE", "PUT"]);

/**
 * Whether an HTTP answer may be retried. A 429 means Align refused without
 * running the request, so any method may retry it; 408 and 5xx may come after
 * the change was made, so only idempotent methods retry them.
 */
export function isRetryableStatus(method: string, status: number): boolean {
  if (status === 429) return true;
  if (!IDEMPOTENT_METHODS.has(method)) return false;
  return status === 408 || status >= 500;
}

/**
 * Whether a failure without a response may be retried: idempotent methods
 * always; others only when the request provably never reached Align.
 */
export function isRetryableNetworkFailure(method: string, mayHaveReachedServer: boolean): boolean {
  return IDEMPOTENT_METHODS.has(method) || !mayHaveReachedServer;
}

/**
 * Parses `Retry-After` (delta-seconds or HTTP-date) or the non-standard
 * `retry-after-ms`, returning milliseconds, or undefined when absent or invalid.
 */
export function parseRetryAfter(headers: { get(name: string): string | null }, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // HTTP-date only (e.g. "Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse would also take "-1".
  if (!/^[A-Za-z]{3}, /.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Exponential backoff with jitter: the delay for retry `attempt` (0-based) is
 * uniform in [half, full] of `min(INITIAL * 2^attempt, MAX)`, so a crowd of
 * clients does not retry in step. A server's `Retry-After` wins when given.
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, random = Math.random): number {
  if (retryAfterMs !== undefined) return retryAfterMs;
  const ceiling = Math.min(INITIAL_DELAY_MS * 2 ** attempt, MAX_DELAY_MS);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
