import {
  AlignWebhookPayloadError,
  type Customer,
  isCustomerKycsUpdatedEvent,
  parseWebhookEvent,
  SIGNATURE_HEADER,
  verifySignature,
  type WebhookEvent,
} from "@align-onboarding/align";
import type { Invocation } from "../http/handler.js";
import { ProblemError } from "../http/problem.js";
import { type ApiResult, jsonResult } from "../http/response.js";
import { errorFields } from "../log.js";
import { Metric } from "../metrics.js";
import { receiptId } from "./receipt-store.js";

/** Deliveries above this are refused before anything else (Align's are a few KiB). */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

export type WebhookOutcome = "processed" | "duplicate" | "stale" | "unknown_customer" | "ignored_event_type";

/**
 * Checks the signature over the exact bytes received, in constant time,
 * against every configured secret (rotation).
 *
 * @throws {ProblemError} 413 over 256 KiB, 401 `invalid_signature`.
 */
export function verifyDelivery(invocation: Invocation): void {
  const { request, runtime } = invocation;
  if (request.body.length > MAX_WEBHOOK_BYTES) {
    invocation.count(Metric.WebhooksRejected);
    throw new ProblemError("payload_too_large");
  }
  if (!verifySignature(request.body, request.headers[SIGNATURE_HEADER], runtime.config.webhookSecrets)) {
    invocation.count(Metric.WebhooksRejected);
    throw new ProblemError("invalid_signature");
  }
}

/** Parses a verified delivery. @throws {ProblemError} 400 `invalid_webhook_payload` with field paths. */
export function parseDelivery(invocation: Invocation): WebhookEvent {
  try {
    return parseWebhookEvent(invocation.request.body);
  } catch (error) {
    if (!(error instanceof AlignWebhookPayloadError)) throw error;
    invocation.count(Metric.WebhooksRejected);
    throw new ProblemError("invalid_webhook_payload", { errors: error.errors });
  }
}

/** Align's state for the event: the embedded customer, else a fresh read. */
async function customerOf(invocation: Invocation, event: WebhookEvent): Promise<Customer> {
  if (isCustomerKycsUpdatedEvent(event) && event.entity_object) return event.entity_object;
  return invocation.runtime.align.customers.get(event.entity_id, invocation.alignOptions());
}

async function apply(invocation: Invocation, event: WebhookEvent): Promise<WebhookOutcome> {
  const { runtime } = invocation;
  if (!isCustomerKycsUpdatedEvent(event)) return "ignored_event_type";
  // Skip an Align read for a customer that is not ours.
  if (!event.entity_object && !(await runtime.customers.get(event.entity_id))) return "unknown_customer";
  const customer = await customerOf(invocation, event);
  const eventAt = new Date(event.created_at).toISOString();
  const result = await runtime.customers.applyEvent(event.entity_id, customer, eventAt);
  if (result === "applied") return "processed";
  return result === "stale" ? "stale" : "unknown_customer";
}

/**
 * `POST /webhooks/align`: one receipt per delivery; a duplicate of a processed
 * delivery is answered 200 and does nothing, a copy arriving while the first
 * is processed 409 with Retry-After (the first may still fail); an unknown event type or customer is acknowledged so
 * Align stops retrying it; a failure answers 5xx and removes the receipt so
 * Align's retry is processed.
 */
export async function receiveWebhook(invocation: Invocation, event: WebhookEvent): Promise<ApiResult> {
  const { runtime, request, log } = invocation;
  const fields = { event_type: event.event_type, entity_id: event.entity_id };
  const id = receiptId(event.event_type, event.entity_id, event.created_at, request.body);
  const claim = await runtime.receipts.claim(id, event.event_type, invocation.leaseUntilMs);
  if (claim.kind === "duplicate") {
    invocation.annotate({ ...fields, event: "webhook_duplicate" });
    invocation.count(Metric.WebhooksDuplicate);
    return jsonResult(request.requestId, 200, { received: true, outcome: "duplicate" });
  }
  if (claim.kind === "in_progress") {
    invocation.annotate({ ...fields, event: "webhook_in_progress" });
    throw new ProblemError("delivery_in_progress", { retryAfter: claim.retryAfterSeconds });
  }
  let outcome: WebhookOutcome;
  try {
    outcome = await apply(invocation, event);
  } catch (error) {
    log.warn("webhook processing failed; receipt removed for Align's retry", { ...fields, ...errorFields(error) });
    await runtime.receipts.remove(id, claim.token).catch((removeError: unknown) => {
      log.error("webhook receipt removal failed; its lease will expire", errorFields(removeError));
    });
    throw error;
  }
  // The work is done; if the receipt cannot be marked, its lease expires and a redelivery finds the event stale.
  await runtime.receipts.complete(id, claim.token, outcome).catch((error: unknown) => {
    log.warn("webhook receipt completion failed", { ...fields, ...errorFields(error) });
  });
  invocation.annotate({ ...fields, event: "webhook_accepted", outcome });
  invocation.count(Metric.WebhooksAccepted);
  return jsonResult(request.requestId, 200, { received: true, outcome });
}
