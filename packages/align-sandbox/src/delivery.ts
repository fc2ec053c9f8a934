import { createHmac } from "node:crypto";
import type { Delivery, SandboxState, WebhookPayload } from "./state.js";

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

/**
 * Delivers events to registered webhooks as Align does: JSON body, signed with
 * `x-hmac-signature` (hex HMAC-SHA256 of the raw body, keyed with the API key),
 * retried with bounded exponential backoff until a 2xx or the attempts run out.
 */
export class WebhookDeliverer {
  readonly #state: SandboxState;
  readonly #apiKey: string;
  readonly #options: DeliveryOptions;
  readonly #now: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<AbortController>();
  #pending = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(state: SandboxState, apiKey: string, options: DeliveryOptions, environment: DelivererEnvironment) {
    this.#state = state;
    this.#apiKey = apiKey;
    this.#options = options;
    this.#now = environment.now;
  }

  /** Queues `payload` for every registered webhook. */
  publish(payload: WebhookPayload): void {
    const body = JSON.stringify(payload);
    for (const webhook of this.#state.webhooks.values()) {
      const delivery: Delivery = {
        delivery_id: this.#state.newId(),
        webhook_id: webhook.id,
        url: webhook.url,
        body,
        event: payload,
        state: "pending",
        attempts: [],
      };
      this.#state.logDelivery(delivery);
      this.#pending += 1;
      this.#schedule(delivery, 0);
    }
  }

  /** Resolves once no delivery is pending (all delivered or failed). */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops retries and aborts attempts in flight. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#inFlight) controller.abort();
    this.#pending = 0;
    this.#settle();
  }

  #schedule(delivery: Delivery, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.#attempt(delivery);
    }, delayMs);
    this.#timers.add(timer);
  }

  async #attempt(delivery: Delivery): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    this.#inFlight.add(controller);
    let status: number | undefined;
    let error: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "align-sandbox-emulator",
          "x-hmac-signature": createHmac("sha256", this.#apiKey).update(delivery.body).digest("hex"),
        },
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
    if (this.#closed) return;
    delivery.attempts.push({
      at: new Date(this.#now()).toISOString(),
      ...(status === undefined ? {} : { status }),
      ...(error === undefined ? {} : { error }),
    });
    if (status !== undefined && status >= 200 && status < 300) {
      delivery.state = "delivered";
    } else if (delivery.attempts.length >= this.#options.maxAttempts) {
      delivery.state = "failed";
    } else {
      this.#schedule(delivery, this.#options.baseDelayMs * 2 ** (delivery.attempts.length - 1));
      return;
    }
    this.#pending -= 1;
    this.#settle();
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
