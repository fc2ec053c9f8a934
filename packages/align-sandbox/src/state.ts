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
  /**
   * When the emulator created it, on its clock. The emulator's own record:
   * Align's documented customer shape has no such field, so answers leave it out.
   */
  created_at?: string;
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
  /** Its `x-hmac-signature`: hex HMAC-SHA256 of `body`, keyed with the API key. */
  signature: string;
  event: WebhookPayload;
  /** `held`: recorded while deliveries are held, sent only once released. */
  state: "pending" | "held" | "delivered" | "failed";
  attempts: DeliveryAttempt[];
  /** Set on a redelivery: the `delivery_id` whose exact bytes it sent again. */
  redelivery_of?: string;
}

export interface WebhookPayload {
  event_type: string;
  entity_id: string;
  entity_type: string;
  created_at: string;
  entity_object?: unknown;
}

/**
 * The emulator's own record of a customer's KYC session (not part of Align's
 * customer shape): which link is current and when it stops working.
 */
export interface KycSession {
  session_id: string;
  customer_id: string;
  kyc_flow_link: string;
  created_at: string;
  /** ISO time after which the link no longer works (and simulate is refused). */
  expires_at: string;
}

/** A durable change, in the order it happened; replaying them rebuilds the state. */
export type StateChange =
  | { op: "customer"; customer: StoredCustomer }
  | { op: "session"; session: KycSession }
  | { op: "webhook"; webhook: StoredWebhook }
  | { op: "webhook_deleted"; id: string }
  | { op: "reset" };

/** One request the emulator received on an Align route (admin calls excluded). */
export interface RequestLogEntry {
  at: string;
  method: string;
  /** The route pattern, e.g. `POST /v0/customers`, or `unmatched`. */
  route: string;
  status: number | "dropped";
  /** Which injected fault, if any, shaped the answer. */
  fault?: string;
  /**
   * Which headers carried something that looks like a credential (names only,
   * never values): `api-key`, `authorization`, `authorization:bearer`.
   */
  auth_headers?: string[];
}

/** Everything the emulator holds; `reset()` empties it. */
export class SandboxState {
  readonly customers = new Map<string, StoredCustomer>();
  /** Lower-cased email -> customer id; Align treats emails case-insensitively. */
  readonly emails = new Map<string, string>();
  readonly webhooks = new Map<string, StoredWebhook>();
  /** Customer id -> its current KYC session. */
  readonly sessions = new Map<string, KycSession>();
  readonly deliveries: Delivery[] = [];
  readonly requests: RequestLogEntry[] = [];
  /** Keeps a long-running emulator's memory bounded: the oldest entries go first. */
  static readonly MAX_LOG_ENTRIES = 10_000;

  /** Records a request, dropping the oldest beyond the cap. */
  logRequest(entry: RequestLogEntry): void {
    this.requests.push(entry);
    if (this.requests.length > SandboxState.MAX_LOG_ENTRIES) this.requests.shift();
  }

  /** Records a delivery, dropping the oldest settled ones beyond the cap (never a held one). */
  logDelivery(delivery: Delivery): void {
    this.deliveries.push(delivery);
    if (this.deliveries.length > SandboxState.MAX_LOG_ENTRIES) {
      const settled = this.deliveries.findIndex((entry) => entry.state === "delivered" || entry.state === "failed");
      if (settled >= 0) this.deliveries.splice(settled, 1);
    }
  }

  /** Told of every durable change (the journal listens). */
  onChange: ((change: StateChange) => void) | undefined;

  /** Stores a new or changed customer (emails compared ignoring case for uniqueness). */
  putCustomer(customer: StoredCustomer): void {
    this.customers.set(customer.customer_id, customer);
    this.emails.set(customer.email.toLowerCase(), customer.customer_id);
    this.onChange?.({ op: "customer", customer });
  }

  /** KYC sessions opened since the last reset (a replaced session still counts once). */
  sessionsOpened = 0;

  putSession(session: KycSession): void {
    if (this.sessions.get(session.customer_id)?.kyc_flow_link !== session.kyc_flow_link) this.sessionsOpened += 1;
    this.sessions.set(session.customer_id, session);
    this.onChange?.({ op: "session", session });
  }

  putWebhook(webhook: StoredWebhook): void {
    this.webhooks.set(webhook.id, webhook);
    this.onChange?.({ op: "webhook", webhook });
  }

  deleteWebhook(id: string): boolean {
    if (!this.webhooks.delete(id)) return false;
    this.onChange?.({ op: "webhook_deleted", id });
    return true;
  }

  /** Applies a change read back from disk (no listener call). */
  apply(change: StateChange): void {
    const listener = this.onChange;
    this.onChange = undefined;
    try {
      switch (change.op) {
        case "customer":
          this.putCustomer(change.customer);
          break;
        case "session":
          this.putSession(change.session);
          break;
        case "webhook":
          this.putWebhook(change.webhook);
          break;
        case "webhook_deleted":
          this.deleteWebhook(change.id);
          break;
        case "reset":
          this.reset();
          break;
      }
    } finally {
      this.onChange = listener;
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
    this.sessions.clear();
    this.sessionsOpened = 0;
    this.deliveries.length = 0;
    this.requests.length = 0;
    // A new world: its events are ordered from its own clock again (a virtual one may have been rewound).
    this.#lastEventMs = 0;
    this.onChange?.({ op: "reset" });
  }

  newId(): string {
    return randomUUID();
  }

  /** Strictly increasing event timestamps on the emulator's clock, so consumers can order deliveries. */
  nextEventTime(nowMs: number): string {
    this.#lastEventMs = Math.max(nowMs, this.#lastEventMs + 1);
    return new Date(this.#lastEventMs).toISOString();
  }

  snapshot() {
    return {
      customers: [...this.customers.values()].map((customer) => structuredClone(customer)),
      webhooks: [...this.webhooks.values()].map((webhook) => ({ ...webhook })),
      kyc_sessions: [...this.sessions.values()].map((session) => ({ ...session })),
      kyc_sessions_opened: this.sessionsOpened,
      deliveries: this.deliveries.map((delivery) => structuredClone(delivery)),
      requests: this.requests.map((entry) => ({ ...entry })),
    };
  }
}

export type SandboxSnapshot = ReturnType<SandboxState["snapshot"]>;
