import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { SandboxState, StoredCustomer, StoredWebhook } from "./state.js";

interface SavedState {
  customers: StoredCustomer[];
  webhooks: StoredWebhook[];
}

/** Loads customers and webhook registrations saved by {@link saveState}; a missing file is an empty state. */
export function loadState(file: string, state: SandboxState): void {
  if (!existsSync(file)) return;
  const saved = JSON.parse(readFileSync(file, "utf8")) as SavedState;
  for (const customer of saved.customers ?? []) {
    state.customers.set(customer.customer_id, customer);
    state.emails.set(customer.email.toLowerCase(), customer.customer_id);
  }
  for (const webhook of saved.webhooks ?? []) state.webhooks.set(webhook.id, webhook);
}

/**
 * Saves customers and webhook registrations (not deliveries or the request
 * log), atomically: a crash mid-write leaves the previous file.
 */
export function saveState(file: string, state: SandboxState): void {
  mkdirSync(dirname(file), { recursive: true });
  const saved: SavedState = { customers: [...state.customers.values()], webhooks: [...state.webhooks.values()] };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(saved));
  renameSync(temporary, file);
}
