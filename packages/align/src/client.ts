import * as z from "zod";
import { type FetchLike, httpFetch } from "./http-fetch.js";
import { Customers } from "./resources/customers.js";
import { Webhooks } from "./resources/webhooks.js";
import { Transport } from "./transport.js";
import { parseRequest } from "./validation.js";
import { AlignEnvironment, BASE_URLS } from "./wire.js";

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
}

const AlignOptionsSchema = z.object({
  apiKey: z.string({ error: "apiKey is required" }).trim().min(1, { error: "apiKey must not be empty" }),
  environment: z
    .enum([AlignEnvironment.Sandbox, AlignEnvironment.Production], {
      error: "environment must be 'sandbox' or 'production'",
    })
    .default(AlignEnvironment.Sandbox),
  baseUrl: z.url({ protocol: /^https?$/, error: "baseUrl must be an http(s) URL" }).optional(),
  timeoutMs: z.number().int().positive().max(900_000).default(30_000),
  maxRetries: z.number().int().min(0).max(10).default(2),
  fetch: z.custom<FetchLike>((value) => typeof value === "function", { error: "fetch must be a function" }).optional(),
});

/**
 * The Align API client. Resources hang off the instance; build one per process
 * and reuse it (it holds no per-request state).
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

  /** @throws {AlignValidationError} when an option is invalid, naming it. */
  constructor(options: AlignOptions) {
    const parsed = parseRequest(AlignOptionsSchema, options, "Invalid Align client options");
    this.environment = parsed.environment;
    this.baseUrl = parsed.baseUrl ?? BASE_URLS[parsed.environment];
    const transport = new Transport({
      baseUrl: this.baseUrl,
      apiKey: parsed.apiKey,
      timeoutMs: parsed.timeoutMs,
      maxRetries: parsed.maxRetries,
      fetch: parsed.fetch ?? httpFetch,
    });
    this.customers = new Customers(transport);
    this.webhooks = new Webhooks(transport, parsed.apiKey);
  }
}
