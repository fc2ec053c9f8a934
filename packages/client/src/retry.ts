import { ApiAbortError, ApiConnectionError, type ApiError } from "./errors.js";

/** Backoff before retry n (0-based): full jitter over 0.5 s doubling, capped at 8 s. */
export const BASE_DELAY_MS = 500;
export const MAX_DELAY_MS = 8_000;

/**
 * Whether another attempt of the same call can help: no answer (the
 * Idempotency-Key makes a repeat safe), 429, any 5xx, 409
 * `idempotency_key_in_use` (the first attempt is still running), or a 409
 * that says when to ask again (`Retry-After`: the server's finality rule made
 * it an answer that may change, not stored). Everything else is a final
 * answer and is never retried.
 */
export function isRetryable(error: ApiError): boolean {
  if (error instanceof ApiAbortError) return false;
  if (error instanceof ApiConnectionError) return true;
  if (error.status === 409 && error.retryAfterMs !== undefined) return true;
  return error.status === 429 || error.status >= 500 || error.code === "idempotency_key_in_use";
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait before retry `attempt` (0-based): at least what the server asked, else jittered exponential. */
export function backoffMs(attempt: number, retryAfterMs: number | undefined, random: () => number): number {
  const jittered = Math.floor(random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt));
  return retryAfterMs === undefined ? jittered : Math.max(retryAfterMs, jittered);
}

/** Waits `ms`, or rejects with {@link ApiAbortError} as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ApiAbortError({ status: 0, message: "The call was aborted", cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ApiAbortError({ status: 0, message: "The call was aborted", cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
