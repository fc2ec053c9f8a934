import { AlignWebhookPayloadError } from "./errors.js";
import { toFieldErrors } from "./validation.js";
import {
  type CustomerKycsUpdatedEvent,
  CustomerKycsUpdatedEventSchema,
  type WebhookEvent,
  WebhookEventBaseSchema,
  WebhookEventType,
} from "./webhook-schemas.js";
import { safeParse } from "./zod.js";

/**
 * Parses a webhook body into a typed event. Unknown event types parse to their
 * common fields (so they can be acknowledged); a body that is not JSON or lacks
 * those fields throws.
 *
 * Verify the signature first: parsing says nothing about who sent the body.
 *
 * @throws {AlignWebhookPayloadError} with the field paths that failed.
 * @example
 * ```ts
 * const event = parseWebhookEvent(rawBody);
 * if (isCustomerKycsUpdatedEvent(event)) console.log(event.entity_id);
 * ```
 */
export function parseWebhookEvent(rawBody: string | Uint8Array): WebhookEvent {
  const text = typeof rawBody === "string" ? rawBody : Buffer.from(rawBody).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AlignWebhookPayloadError("Webhook body is not valid JSON", [{ path: [], message: "Invalid JSON" }], {
      cause,
    });
  }
  const base = safeParse(WebhookEventBaseSchema, json);
  if (!base.success) {
    throw new AlignWebhookPayloadError("Webhook body is not an Align event", toFieldErrors(base.error.issues));
  }
  if (base.data.event_type !== WebhookEventType.CustomerKycsUpdated) return base.data;
  const typed = safeParse(CustomerKycsUpdatedEventSchema, json);
  if (!typed.success) {
    throw new AlignWebhookPayloadError(
      "Webhook body is not a valid customer.kycs.updated event",
      toFieldErrors(typed.error.issues),
    );
  }
  return typed.data;
}

/** Narrows an event to `customer.kycs.updated`. */
export function isCustomerKycsUpdatedEvent(event: WebhookEvent): event is CustomerKycsUpdatedEvent {
  return event.event_type === WebhookEventType.CustomerKycsUpdated;
}
