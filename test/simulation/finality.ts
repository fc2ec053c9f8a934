/**
 * The finality rule (design.md "Idempotency"), encoded once for the whole
 * simulation: an answer is *final* (stored under its key, replayed for 24
 * hours) or *may change* (not stored; the same key may run again). Requests
 * refused before they ran are not outcomes of their key at all.
 */
import type { ProblemCode } from "@align-onboarding/core";

export type Finality = "final" | "may_change" | "before_running";

/**
 * Per problem code, what our API's refusal is: the simulation's own copy of
 * the finality rule, kept apart from the production's `Problems[code].final`
 * so that a defect in that table (planted: `expired-session-stored`) is seen
 * rather than believed. `test/simulation-finality.test.ts` checks the two
 * agree on today's code.
 */
export const FINALITY: Record<ProblemCode, Finality> = {
  validation_failed: "before_running",
  invalid_json: "before_running",
  invalid_body: "before_running",
  idempotency_key_missing: "before_running",
  idempotency_key_invalid: "before_running",
  invalid_webhook_payload: "before_running",
  unauthorized: "before_running",
  invalid_signature: "before_running",
  not_found: "before_running",
  // Lifted by another request: a contested email (the open attempt settles) answers with Retry-After;
  // an email owned by another customer of the caller's is final (409 with its id).
  email_already_exists: "final",
  idempotency_key_in_use: "may_change",
  // Lifted by starting KYC: the same key may run again (whether we or Align refused).
  kyc_not_started: "may_change",
  kyc_session_expired: "may_change",
  payload_too_large: "before_running",
  unsupported_media_type: "before_running",
  idempotency_key_reused: "before_running",
  // Align judged the request itself; its state-dependent refusals (an expired KYC session) are may-change
  // by the rule, but today's answer does not say which Align code it was (issue 21, defect 6).
  upstream_rejected: "final",
  internal_error: "may_change",
  upstream_error: "may_change",
  upstream_unavailable: "may_change",
  upstream_rate_limited: "may_change",
  service_unavailable: "may_change",
  upstream_timeout: "may_change",
};

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
  // Its own keys only: a code named like a built-in (`constructor`) is not a known refusal.
  return Object.hasOwn(FINALITY, code) ? FINALITY[code as ProblemCode] : "final";
}

export const isFinal = (answer: Answered) => finality(answer) === "final";
export const ranBeforeRunning = (answer: Answered) => finality(answer) === "before_running";
