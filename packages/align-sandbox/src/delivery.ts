import { createHmac } from "node:crypto";
import type { Delivery, DeliveryAttempt, SandboxState, WebhookPayload } from "./state.js";

export interface DeliveryOptions {
  /** Attempts per delivery, the first included (default 5). */
  maxAttempts: number;
  /** Wait before the second attempt; doubles for each one after (default 1000 ms). */
  baseDelayMs: number;
  /** How long a receiver may take to answer one attempt (default 5000 ms). */
  timeoutMs: number;
}

/** What the deliverer needs beyond its policy: the emulator's clock for the instants it records. */
export interface DelivererEnvironment {
  /** Milliseconds since the epoch; backoff and timeouts still run on real timers. */
  now: () => number;
}

/** The exact HTTP request of one delivery, byte for byte what the emulator sends (and sends again). */
export interface SignedRequest {
  method: "POST";
  url: string;
  /** `content-type`, `user-agent` and `x-hmac-signature`, lower-cased as sent. */
  headers: Record<string, string>;
  /** The raw body the signature covers. */
  body: string;
}

/**
 * An event as the emulator publishes it, once the change that caused it is
 * durable and before the request that caused it is answered, whether or not
 * a webhook is registered.
 */
export interface PublishedEvent {
  event: WebhookPayload;
  /** The exact bytes every delivery of this event sends. */
  body: string;
  /** Hex HMAC-SHA256 of `body` keyed with the API key (`x-hmac-signature`). */
  signature: string;
  /** The headers a delivery sends (`content-type`, `user-agent`, `x-hmac-signature`). */
  headers: Record<string, string>;
}

/**
 * Told of each event as it is published. The answer to the request that
 * caused the event waits for the promise it returns, so a listener can
 * deliver the event before that answer leaves; a listener that throws or
 * rejects changes nothing for the emulator.
 */
export type EventListener = (event: PublishedEvent) => void | Promise<void>;

/** A delivery by its `delivery_id`, or by its index in `state().deliveries`. */
export type DeliveryRef = string | number;

export interface RedeliverOptions {
  /** Real milliseconds to wait before sending (default 0). */
  delayMs?: number;
  /** Send to another URL than the original delivery's (default: the same). */
  url?: string;
}

const USER_AGENT = "align-sandbox-emulator";

/** Releasing a delivery that is not held (already sent, or never held). */
export class DeliveryNotHeldError extends Error {
  override name = "DeliveryNotHeldError";
}

/**
 * Delivers events to registered webhooks as Align does: JSON body, signed with
 * `x-hmac-signature` (hex HMAC-SHA256 of the raw body, keyed with the API key),
 * retried with bounded exponential backoff until a 2xx or the attempts run out.
 * For hostile tests it can also hold deliveries (release them one by one, in
 * any order), send a past delivery's exact bytes again, and tell listeners of
 * each event as it is published.
 */
export class WebhookDeliverer {
  readonly #state: SandboxState;
  readonly #apiKey: string;
  readonly #options: DeliveryOptions;
  readonly #now: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<AbortController>();
  readonly #listeners = new Set<EventListener>();
  /** Wake-ups of redeliveries waiting out their delay, so close() ends the wait. */
  readonly #delays = new Set<() => void>();
  #pending = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  #holding = false;

  constructor(state: SandboxState, apiKey: string, options: DeliveryOptions, environment: DelivererEnvironment) {
    this.#state = state;
    this.#apiKey = apiKey;
    this.#options = options;
    this.#now = environment.now;
  }

  /**
   * Queues `payload` for every registered webhook (held instead while
   * holding), then tells the listeners; resolves once they are done.
   */
  async publish(payload: WebhookPayload): Promise<void> {
    const body = JSON.stringify(payload);
    const signature = this.#sign(body);
    for (const webhook of this.#state.webhooks.values()) {
      const delivery: Delivery = {
        delivery_id: this.#state.newId(),
        webhook_id: webhook.id,
        url: webhook.url,
        body,
        signature,
        event: payload,
        state: this.#holding ? "held" : "pending",
        attempts: [],
      };
      this.#state.logDelivery(delivery);
      if (this.#holding) continue;
      this.#pending += 1;
      this.#schedule(delivery, 0);
    }
    if (this.#listeners.size === 0) return;
    const published: PublishedEvent = {
      event: structuredClone(payload),
      body,
      signature,
      headers: this.#headers(signature),
    };
    await Promise.allSettled(
      [...this.#listeners].map(async (listener) => {
        await listener(published);
      }),
    );
  }

  /** Adds a listener for published events; returns its removal. */
  onEvent(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** From now on, new deliveries are recorded as `held` and sent only by {@link release}. */
  hold(): void {
    this.#holding = true;
  }

  /** New deliveries go out again; those already held stay held until released. */
  resume(): void {
    this.#holding = false;
  }

  /**
   * Sends a held delivery now; resolves with its first attempt. Later
   * attempts follow the retry policy, as for any delivery.
   */
  async release(ref: DeliveryRef): Promise<DeliveryAttempt> {
    this.#open();
    const delivery = this.#find(ref);
    if (delivery.state !== "held") {
      throw new DeliveryNotHeldError(`Delivery ${delivery.delivery_id} is ${delivery.state}, not held`);
    }
    delivery.state = "pending";
    this.#pending += 1;
    return this.#attempt(delivery, this.#options.maxAttempts);
  }

  /**
   * Sends the exact signed bytes of an earlier delivery again, once (no
   * retries), recorded as a new delivery with `redelivery_of`; resolves with
   * its attempt.
   */
  async redeliver(ref: DeliveryRef, options: RedeliverOptions = {}): Promise<DeliveryAttempt> {
    this.#open();
    const original = this.#find(ref);
    const delivery: Delivery = {
      delivery_id: this.#state.newId(),
      webhook_id: original.webhook_id,
      url: options.url ?? original.url,
      body: original.body,
      signature: original.signature,
      event: original.event,
      state: "pending",
      attempts: [],
      redelivery_of: original.delivery_id,
    };
    this.#state.logDelivery(delivery);
    this.#pending += 1;
    if (options.delayMs !== undefined && options.delayMs > 0) {
      const delayMs = options.delayMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          this.#delays.delete(resolve);
          resolve();
        }, delayMs);
        this.#timers.add(timer);
        this.#delays.add(resolve);
      });
      // Closed while waiting: nothing is sent.
      this.#open();
    }
    return this.#attempt(delivery, 1);
  }

  /** The exact request a delivery sends: its URL, headers and signed body. */
  request(ref: DeliveryRef): SignedRequest {
    const delivery = this.#find(ref);
    return { method: "POST", url: delivery.url, headers: this.#headers(delivery.signature), body: delivery.body };
  }

  /** Resolves once no delivery is pending (all delivered or failed); held ones do not count. */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Forgets holding (a reset starts a world that delivers as Align does). */
  reset(): void {
    this.#holding = false;
  }

  /** Stops retries and aborts attempts in flight. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#inFlight) controller.abort();
    for (const wake of this.#delays) wake();
    this.#delays.clear();
    this.#pending = 0;
    this.#settle();
  }

  #open(): void {
    if (this.#closed) throw new Error("The emulator is closed");
  }

  #sign(body: string): string {
    return createHmac("sha256", this.#apiKey).update(body).digest("hex");
  }

  #headers(signature: string): Record<string, string> {
    return { "content-type": "application/json", "user-agent": USER_AGENT, "x-hmac-signature": signature };
  }

  #find(ref: DeliveryRef): Delivery {
    const delivery =
      typeof ref === "number"
        ? this.#state.deliveries[ref]
        : this.#state.deliveries.find((entry) => entry.delivery_id === ref);
    if (!delivery) throw new Error(`No delivery ${String(ref)}`);
    return delivery;
  }

  #schedule(delivery: Delivery, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#attempt(delivery, this.#options.maxAttempts);
    }, delayMs);
    this.#timers.add(timer);
  }

  async #attempt(delivery: Delivery, maxAttempts: number): Promise<DeliveryAttempt> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    this.#inFlight.add(controller);
    let status: number | undefined;
    let error: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: this.#headers(delivery.signature),
        body: delivery.body,
        signal: controller.signal,
      });
      await response.arrayBuffer().catch(() => undefined);
      status = response.status;
    } catch (caught) {
      error = controller.signal.aborted ? "timeout" : describe(caught);
    } finally {
      clearTimeout(timer);
      this.#inFlight.delete(controller);
    }
    const attempt: DeliveryAttempt = {
      at: new Date(this.#now()).toISOString(),
      ...(status === undefined ? {} : { status }),
      ...(error === undefined ? {} : { error }),
    };
    if (this.#closed) return attempt;
    delivery.attempts.push(attempt);
    if (status !== undefined && status >= 200 && status < 300) {
      delivery.state = "delivered";
    } else if (delivery.attempts.length >= maxAttempts) {
      delivery.state = "failed";
    } else {
      this.#schedule(delivery, this.#options.baseDelayMs * 2 ** (delivery.attempts.length - 1));
      return attempt;
    }
    this.#pending -= 1;
    this.#settle();
    return attempt;
  }

  #settle(): void {
    if (this.#pending > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function describe(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message : "unknown error";
}
