import * as z from "zod/mini";
import { CustomerSchema } from "./customer-schemas.js";
import { once } from "./zod.js";

/** Event types Align documents. Others may arrive and are parsed generically. */
export const WebhookEventType = {
  CustomerKycsUpdated: "customer.kycs.updated",
  OnrampTransferStatusUpdated: "onramp_transfer.status.updated",
  OfframpTransferStatusUpdated: "offramp_transfer.status.updated",
  CrossChainTransferStatusUpdated: "cross_chain_transfer.status.updated",
  VirtualAccountCreated: "virtual_account.created",
} as const;
export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType];

// Align's timestamp format is not documented; anything Date can order is accepted.
const timestamp = () =>
  z.string().check(
    z.minLength(1),
    z.refine((value) => !Number.isNaN(Date.parse(value)), { error: "Must be a date-time" }),
  );

// Built on first use, as in customer-schemas.ts.
const baseObject = once(() =>
  z.looseObject({
    event_type: z.string().check(z.minLength(1)),
    entity_id: z.string().check(z.minLength(1)),
    entity_type: z.string().check(z.minLength(1)),
    created_at: timestamp(),
  }),
);

/** Fields every delivery carries. Unknown fields are kept. */
export const WebhookEventBaseSchema = z.lazy(baseObject);
export type WebhookEventBase = z.infer<typeof WebhookEventBaseSchema>;

/** `customer.kycs.updated`; newer deliveries embed the full customer. */
export const CustomerKycsUpdatedEventSchema = z.lazy(() =>
  z.extend(baseObject(), {
    event_type: z.literal(WebhookEventType.CustomerKycsUpdated),
    entity_object: z.optional(CustomerSchema),
  }),
);
export type CustomerKycsUpdatedEvent = z.infer<typeof CustomerKycsUpdatedEventSchema>;

/** Any delivery: a typed `customer.kycs.updated` or another event's common fields. */
export type WebhookEvent = CustomerKycsUpdatedEvent | WebhookEventBase;

const webhookObject = once(() =>
  z
    .looseObject({
      id: z.optional(z.string().check(z.minLength(1))),
      webhook_id: z.optional(z.string().check(z.minLength(1))),
      url: z.string(),
      status: z.optional(z.string()),
      created_at: z.optional(z.string()),
    })
    .check(
      z.refine((value) => value.id !== undefined || value.webhook_id !== undefined, {
        error: "id or webhook_id is required",
        path: ["id"],
      }),
    ),
);

/**
 * Webhook registration as Align returns it. The SDK docs name the id
 * `webhook_id`, the emulator `id`: either is read, and `id` always set.
 *
 * @example
 * ```ts
 * const { items } = await align.webhooks.list(); // items: [{ webhook_id: "wh_1", url }] on the wire
 * items[0]?.id; // "wh_1"
 * ```
 */
export const WebhookSchema = z.lazy(() =>
  z.pipe(
    webhookObject(),
    z.transform(({ id, ...rest }: z.output<ReturnType<typeof webhookObject>>) => ({
      ...rest,
      id: (id ?? rest.webhook_id) as string,
    })),
  ),
);
export type Webhook = z.infer<typeof WebhookSchema>;

export const WebhookListSchema = z.lazy(() => z.looseObject({ items: z.array(WebhookSchema) }));
export type WebhookList = z.infer<typeof WebhookListSchema>;

/** Plain http is only for a receiver on this machine (local runs); Align delivers over HTTPS. */
function isHttpsOrLoopbackHttp(value: string): boolean {
  try {
    const url = new URL(value);
    const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    return (
      url.protocol === "https:" ||
      (url.protocol === "http:" && (host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)))
    );
  } catch {
    return false;
  }
}

/** Registration: an `https` URL (SDK docs: HTTPS only), or `http` on loopback for local receivers. */
export const CreateWebhookRequestSchema = z.lazy(() =>
  z.object({
    url: z
      .url({ protocol: /^https?$/, error: "Must be an https URL" })
      .check(z.refine(isHttpsOrLoopbackHttp, { error: "Must be an https URL (http only on loopback)" })),
  }),
);
export type CreateWebhookRequest = z.input<typeof CreateWebhookRequestSchema>;
