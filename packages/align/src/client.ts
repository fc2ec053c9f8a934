import * as z from "zod/mini";
import { type FetchLike, httpFetch } from "./http-fetch.js";
import { Customers } from "./resources/customers.js";
import { Webhooks } from "./resources/webhooks.js";
import { Transport } from "./transport.js";
import { parseRequest } from "./validation.js";
import {
  AlignEnvironment,
  AuthHeader,
  BASE_URLS,
  CustomerTypeField,
  WireNegotiator,
  type WireVariantLearned,
} from "./wire.js";

/** Options of {@link Align}. */
export interface AlignOptions {
  /** Your Align secret key. */
  apiKey: string;
  /** Which Align host to use (default `"sandbox"`, so nothing hits production by accident). */
  environment?: AlignEnvironment;
  /** Overrides the host, for example the local emulator (`http://127.0.0.1:3001`). */
  baseUrl?: string;
  /** Timeout of each attempt in milliseconds (default 30 000). */
  timeoutMs?: number;
  /** Retries after the first attempt where retrying is safe (default 2). */
  maxRetries?: number;
  /**
   * A `fetch` implementation, for tests or instrumentation. Default: a small
   * `node:http(s)` transport with keep-alive, which spares a cold start
   * loading undici (about 30 ms); pass `globalThis.fetch` to use it instead.
   */
  fetch?: FetchLike | typeof fetch;
  /**
   * Pins how the key is sent (`"authorization"` raw, `"api-key"`, or
   * `"bearer"`). Unset, the client sends raw `Authorization` (the SDK's and
   * production's form), and when the key is refused (401, 403, or a 400
   * speaking of authentication, all before anything ran) tries `Api-Key`,
   * then `Bearer`, each at most once per call, remembering the one Align
   * accepts for this instance's life. The key is never sent in two headers.
   */
  authHeader?: AuthHeader;
  /**
   * Pins the name of the customer type on create (`"type"` or
   * `"beneficiary_type"`). Unset, the client sends `type`, and after a 400
   * naming the type field (in `errors[].path` or in `message`) retries once
   * with the other name, remembering it.
   */
  customerTypeField?: CustomerTypeField;
  /**
   * Told once per contested point when the client learns the variant Align
   * accepts (never called for a pinned one). Carries no key: safe to log.
   */
  onWireVariantLearned?: (event: WireVariantLearned) => void;
}

// Built on first use: importing the client builds no schema.
const AlignOptionsSchema = z.lazy(() =>
  z.object({
    apiKey: z
      .string({ error: "apiKey is required" })
      .check(z.trim(), z.minLength(1, { error: "apiKey must not be empty" })),
    environment: z._default(
      z.enum([AlignEnvironment.Sandbox, AlignEnvironment.Production], {
        error: "environment must be 'sandbox' or 'production'",
      }),
      AlignEnvironment.Sandbox,
    ),
    baseUrl: z.optional(z.url({ protocol: /^https?$/, error: "baseUrl must be an http(s) URL" })),
    timeoutMs: z._default(z.number().check(z.int(), z.positive(), z.maximum(900_000)), 30_000),
    maxRetries: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(10)), 2),
    fetch: z.optional(
      z.custom<FetchLike>((value) => typeof value === "function", { error: "fetch must be a function" }),
    ),
    authHeader: z.optional(
      z.enum(Object.values(AuthHeader), { error: "authHeader must be 'api-key', 'authorization' or 'bearer'" }),
    ),
    customerTypeField: z.optional(
      z.enum(Object.values(CustomerTypeField), { error: "customerTypeField must be 'type' or 'beneficiary_type'" }),
    ),
    onWireVariantLearned: z.optional(
      z.custom<(event: WireVariantLearned) => void>((value) => typeof value === "function", {
        error: "onWireVariantLearned must be a function",
      }),
    ),
  }),
);

/**
 * The Align API client. Resources hang off the instance; build one per process
 * and reuse it: besides keep-alive sockets it holds only what it learned of
 * Align's wire dialect (auth header, customer type field), kept for its life.
 *
 * @example
 * ```ts
 * import Align from "@align-onboarding/align";
 *
 * const align = new Align({ apiKey: process.env.ALIGN_API_KEY!, environment: "sandbox" });
 * const customer = await align.customers.create({
 *   email: "alice@example.com",
 *   type: "individual",
 *   first_name: "Alice",
 *   last_name: "Smith",
 * });
 * ```
 */
export class Align {
  readonly customers: Customers;
  readonly webhooks: Webhooks;
  readonly environment: AlignEnvironment;
  readonly baseUrl: string;
  readonly #wire: WireNegotiator;

  /** @throws {AlignValidationError} when an option is invalid, naming it. */
  constructor(options: AlignOptions) {
    const parsed = parseRequest(AlignOptionsSchema, options, "Invalid Align client options");
    this.environment = parsed.environment;
    this.baseUrl = parsed.baseUrl ?? BASE_URLS[parsed.environment];
    this.#wire = new WireNegotiator({
      authHeader: parsed.authHeader,
      customerTypeField: parsed.customerTypeField,
      onLearned: parsed.onWireVariantLearned,
    });
    const transport = new Transport({
      baseUrl: this.baseUrl,
      apiKey: parsed.apiKey,
      timeoutMs: parsed.timeoutMs,
      maxRetries: parsed.maxRetries,
      fetch: parsed.fetch ?? httpFetch,
      wire: this.#wire,
    });
    this.customers = new Customers(transport, this.#wire);
    this.webhooks = new Webhooks(transport, parsed.apiKey);
  }

  /**
   * The wire variants in use: pinned, learned from Align's answers, or
   * `undefined` while still unknown (the next request tries the first form).
   */
  get wireVariants(): { authHeader: AuthHeader | undefined; customerTypeField: CustomerTypeField | undefined } {
    return { authHeader: this.#wire.auth.learned, customerTypeField: this.#wire.customerType.learned };
  }
}
