import { createHash } from "node:crypto";
import {
  AlignError,
  AlignNotFoundError,
  AlignWebhookPayloadError,
  type Customer,
  type CustomerKycsUpdatedEvent,
  isCustomerKycsUpdatedEvent,
  parseWebhookEvent,
  SIGNATURE_HEADER,
  verifySignature,
  type WebhookEvent,
} from "@align-onboarding/align";
import { now as clockNow } from "../clock.js";
import { ConfigError } from "../config.js";
import type { Observation } from "../customers/customer-store.js";
import type { Invocation } from "../http/handler.js";
import { Disposition, ProblemError } from "../http/problem.js";
import { type ApiResult, jsonResult } from "../http/response.js";
import { alignProblem } from "../http/to-problem.js";
import { Metric } from "../metrics.js";

/** Deliveries above this are refused before anything else (Align's are a few KiB). */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

export type WebhookOutcome =
  | "processed"
  | "duplicate"
  | "stale"
  | "unknown_customer"
  | "ignored_event_type"
  | "entity_mismatch";

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
  if (runtime.config.webhookSecrets.length === 0) {
    // Misconfigured, not forged: fail loudly (500, logged with the variable's name) rather than 401 forever.
    throw new ConfigError("Invalid configuration: ALIGN_WEBHOOK_SECRET or ALIGN_API_KEY: required by this function");
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

/** Identifies a delivery by its exact bytes: Align sends no event id, and a retry repeats the body. */
const deliveryId = (rawBody: Uint8Array) => createHash("sha256").update(rawBody).digest("base64url");

/**
 * The instant an event describes, as epoch ms: Align's own `created_at`, as
 * sent. Never the arrival time: the same bytes delivered again hours later
 * describe the same instant. One dated beyond now plus the clock skew is kept
 * from freezing the record by the ordering rule itself (ordering.ts).
 */
export function eventInstant(createdAt: string): number {
  const instant = Date.parse(createdAt);
  // Beyond what a Date holds: as far in the future as any, so it orders by progress alone.
  return Number.isFinite(instant) ? instant : Number.MAX_SAFE_INTEGER;
}

/**
 * Align's customer, re-read for an event of the older format; undefined when
 * Align has no such customer (its 404: acknowledged, nothing written, GET's
 * refresh covers our copy). Any other refusal is a 5xx with Retry-After, never
 * a 4xx: a 4xx tells Align to stop redelivering, and our key being refused
 * (401/403) or an odd answer is ours to fix, after which the retry must work.
 *
 * @throws {ProblemError} 502/503/504 with `Retry-After`.
 */
async function reread(invocation: Invocation, customerId: string): Promise<Customer | undefined> {
  try {
    return await invocation.runtime.align.customers.get(customerId, invocation.alignOptions());
  } catch (error) {
    if (error instanceof AlignNotFoundError) return undefined;
    if (!(error instanceof AlignError)) throw error;
    const problem = alignProblem(error);
    if (problem.status >= 500) throw problem;
    // Align judged the read itself (400, 409, ...): still not final for a delivery, so retried.
    throw new ProblemError("upstream_error", { disposition: Disposition.Release, cause: error });
  }
}

async function applyKycEvent(invocation: Invocation, event: CustomerKycsUpdatedEvent): Promise<WebhookOutcome> {
  const { runtime, request, log } = invocation;
  const source = deliveryId(request.body);
  let observation: Observation;
  if (event.entity_object) {
    observation = { customer: event.entity_object, asOf: eventInstant(event.created_at), source };
  } else {
    // The older format names the customer only: skip an Align read for one that is not ours, else re-read it.
    if (!(await runtime.customers.get(event.entity_id))) return "unknown_customer";
    const askedAt = clockNow();
    const customer = await reread(invocation, event.entity_id);
    if (customer === undefined) return "unknown_customer";
    observation = { customer, asOf: askedAt, source };
  }
  if (observation.customer.customer_id !== event.entity_id) {
    // Signed, yet about another customer than it names: applying it would write one customer's data
    // over another's. Acknowledged (a retry would not change it), counted and logged.
    log.warn("webhook entity_object is not the customer named by entity_id; ignored", {
      event_type: event.event_type,
      entity_id: event.entity_id,
    });
    invocation.count(Metric.WebhooksRejected);
    return "entity_mismatch";
  }
  const result = await runtime.customers.observe(event.entity_id, observation);
  if (result === "applied") return "processed";
  return result === "unknown" ? "unknown_customer" : result;
}

/**
 * `POST /webhooks/align`: applies a `customer.kycs.updated` event as one
 * conditional write under the as-of rule (see `CustomerStore.observe`), which
 * is itself idempotent and ordered: a redelivery is a `duplicate`, an older
 * event `stale`, both acknowledged with nothing written. Unknown event types
 * and customers are acknowledged so Align stops retrying them; a failure
 * answers 5xx with nothing recorded, so Align's retry is processed.
 */
export async function receiveWebhook(invocation: Invocation, event: WebhookEvent): Promise<ApiResult> {
  const { request } = invocation;
  const fields = { event_type: event.event_type, entity_id: event.entity_id };
  const outcome = isCustomerKycsUpdatedEvent(event) ? await applyKycEvent(invocation, event) : "ignored_event_type";
  invocation.annotate({ ...fields, event: "webhook_accepted", outcome });
  invocation.count(outcome === "duplicate" ? Metric.WebhooksDuplicate : Metric.WebhooksAccepted);
  return jsonResult(request.requestId, 200, { received: true, outcome });
}
