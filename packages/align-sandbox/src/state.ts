import { randomUUID } from "node:crypto";

/** A customer as the emulator stores and returns it (Align's field style). */
export interface StoredCustomer {
  customer_id: string;
  email: string;
  type: string;
  first_name?: string;
  last_name?: string;
  company_name?: string;
  kycs: StoredKycs | null;
  [key: string]: unknown;
}

export interface StoredKycs {
  status: "pending" | "approved" | "rejected";
  sub_status: string;
  kyc_flow_link: string;
  status_breakdown: { currency: string; payment_rails: string; status: string }[];
}

export interface StoredWebhook {
  id: string;
  url: string;
  status: "active";
  created_at: string;
}

export interface DeliveryAttempt {
  at: string;
  /** HTTP status of the receiver's answer, when it answered. */
  status?: number;
  /** Why no answer was received (connection refused, timeout). */
  error?: string;
}

export interface Delivery {
  delivery_id: string;
  webhook_id: string;
  url: string;
  /** The exact body that was signed and sent. */
  body: string;
  event: WebhookPayload;
  state: "pending" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
}

export interface WebhookPayload {
  event_type: string;
  entity_id: string;
  entity_type: string;
  created_at: string;
  entity_object?: unknown;
}

/** One request the emulator received on an Align route (admin calls excluded). */
export interface RequestLogEntry {
  at: string;
  method: string;
  /** The route pattern, e.g. `POST /v0/customers`, or `unmatched`. */
  route: string;
  status: number | "dropped";
  /** Which injected fault, if any, shaped the answer. */
  fault?: string;
}

/** Everything the emulator holds; `reset()` empties it. */
export class SandboxState {
  readonly customers = new Map<string, StoredCustomer>();
  /** Lower-cased email -> customer id; Align treats emails case-insensitively. */
  readonly emails = new Map<string, string>();
  readonly webhooks = new Map<string, StoredWebhook>();
  readonly deliveries: Delivery[] = [];
  readonly requests: RequestLogEntry[] = [];
  /** Keeps a long-running emulator's memory bounded: the oldest entries go first. */
  static readonly MAX_LOG_ENTRIES = 10_000;

  /** Records a request, dropping the oldest beyond the cap. */
  logRequest(entry: RequestLogEntry): void {
    this.requests.push(entry);
    if (this.requests.length > SandboxState.MAX_LOG_ENTRIES) this.requests.shift();
  }

  /** Records a delivery, dropping the oldest settled ones beyond the cap. */
  logDelivery(delivery: Delivery): void {
    this.deliveries.push(delivery);
    if (this.deliveries.length > SandboxState.MAX_LOG_ENTRIES) {
      const settled = this.deliveries.findIndex((entry) => entry.state !== "pending");
      if (settled >= 0) this.deliveries.splice(settled, 1);
    }
  }

  /** Bumped by reset(), so work begun before a reset (a delayed request) is discarded. */
  epoch = 0;
  #lastEventMs = 0;

  reset(): void {
    this.epoch += 1;
    this.customers.clear();
    this.emails.clear();
    this.webhooks.clear();
    this.deliveries.length = 0;
    this.requests.length = 0;
  }

  newId(): string {
    return randomUUID();
  }

  /** Strictly increasing event timestamps, so consumers can order deliveries. */
  nextEventTime(): string {
    this.#lastEventMs = Math.max(Date.now(), this.#lastEventMs + 1);
    return new Date(this.#lastEventMs).toISOString();
  }

  snapshot() {
    return {
      customers: [...this.customers.values()].map((customer) => structuredClone(customer)),
      webhooks: [...this.webhooks.values()].map((webhook) => ({ ...webhook })),
      deliveries: this.deliveries.map((delivery) => structuredClone(delivery)),
      requests: this.requests.map((entry) => ({ ...entry })),
    };
  }
}

export type SandboxSnapshot = ReturnType<SandboxState["snapshot"]>;
