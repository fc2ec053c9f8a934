import * as z from "zod/mini";
import { parseResponse, type RequestOptions, type Transport } from "../transport.js";
import { parseRequest } from "../validation.js";
import { parseWebhookEvent } from "../webhook-event.js";
import {
  type CreateWebhookRequest,
  CreateWebhookRequestSchema,
  type Webhook,
  type WebhookEvent,
  type WebhookList,
  WebhookListSchema,
  WebhookSchema,
} from "../webhook-schemas.js";
import { verifySignature } from "../webhook-signature.js";

const WebhookIdSchema = z.lazy(() =>
  z.object({
    id: z.string().check(z.trim(), z.minLength(1, { error: "Webhook id is required" })),
  }),
);

/** Webhook registrations and delivery helpers: `align.webhooks`. */
export class Webhooks {
  readonly #transport: Transport;
  readonly #apiKey: string;

  constructor(transport: Transport, apiKey: string) {
    this.#transport = transport;
    this.#apiKey = apiKey;
  }

  /**
   * Registers a URL to receive deliveries.
   *
   * @example
   * ```ts
   * const webhook = await align.webhooks.create({ url: "https://api.example.com/webhooks/align" });
   * ```
   */
  async create(data: CreateWebhookRequest, options?: RequestOptions): Promise<Webhook> {
    const body = parseRequest(CreateWebhookRequestSchema, data, "Invalid webhook data");
    const response = await this.#transport.request({ method: "POST", path: "/webhooks", body }, options);
    return parseResponse(WebhookSchema, response);
  }

  /**
   * Lists registered webhooks.
   *
   * @example
   * ```ts
   * const { items } = await align.webhooks.list();
   * for (const webhook of items) console.log(webhook.id, webhook.url);
   * ```
   */
  async list(options?: RequestOptions): Promise<WebhookList> {
    const response = await this.#transport.request({ method: "GET", path: "/webhooks" }, options);
    return parseResponse(WebhookListSchema, response);
  }

  /**
   * Removes a registration.
   *
   * @example
   * ```ts
   * await align.webhooks.delete(webhook.id);
   * ```
   */
  async delete(id: string, options?: RequestOptions): Promise<void> {
    const params = parseRequest(WebhookIdSchema, { id }, "Invalid webhook id");
    await this.#transport.request({ method: "DELETE", path: `/webhooks/${encodeURIComponent(params.id)}` }, options);
  }

  /**
   * Checks `x-hmac-signature` over the raw body; the secret defaults to this
   * client's API key, which is what Align signs with.
   *
   * @example
   * ```ts
   * if (!align.webhooks.verifySignature(rawBody, event.headers["x-hmac-signature"])) return unauthorized();
   * ```
   */
  verifySignature(
    rawBody: string | Uint8Array,
    signature: string | null | undefined,
    secret: string | readonly string[] = this.#apiKey,
  ): boolean {
    return verifySignature(rawBody, signature, secret);
  }

  /**
   * Parses a delivery (after verifying it) into a typed event.
   *
   * @example
   * ```ts
   * const event = align.webhooks.parse(rawBody);
   * ```
   */
  parse(rawBody: string | Uint8Array): WebhookEvent {
    return parseWebhookEvent(rawBody);
  }
}
