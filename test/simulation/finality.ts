/**
 * The finality rule (design.md "Idempotency"), encoded once for the whole
 * simulation: an answer is *final* (stored under its key, replayed for 24
 * hours) or *may change* (not stored; the same key may run again). Requests
 * refused before they ran are not outcomes of their key at all.
 */
import { type ProblemCode, Problems } from "@align-onboarding/core";

export type Finality = "final" | "may_change" | "before_running";

/**
 * Refusals made before a request's key ran (its input, its caller, its
 * target, or the key itself): not outcomes of the key, so neither stored nor
 * contradicted. Every other code is final or may change as the production's
 * own finality table (`Problems[code].final`) says.
 */
const BEFORE_RUNNING: ReadonlySet<ProblemCode> = new Set<ProblemCode>([
  "validation_failed",
  "invalid_json",
  "invalid_body",
  "idempotency_key_missing",
  "idempotency_key_invalid",
  "invalid_webhook_payload",
  "unauthorized",
  "invalid_signature",
  "not_found",
  "payload_too_large",
  "unsupported_media_type",
  "idempotency_key_reused",
]);
const finalityOf = (code: ProblemCode): Finality =>
  BEFORE_RUNNING.has(code) ? "before_running" : Problems[code].final ? "final" : "may_change";

/** An answer as the rule sees it. */
export interface Answered {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** What the rule says of one answer: a 5xx, or anything with Retry-After, may change. */
export function finality(answer: Answered): Finality {
  if (answer.status >= 500 || answer.headers["retry-after"] !== undefined) return "may_change";
  if (answer.status < 400) return "final";
  const code = String(answer.body.code);
  return code in Problems ? finalityOf(code as ProblemCode) : "final";
}

export const isFinal = (answer: Answered) => finality(answer) === "final";
export const ranBeforeRunning = (answer: Answered) => finality(answer) === "before_running";
