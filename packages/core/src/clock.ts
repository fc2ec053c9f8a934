/**
 * The one source of "now" (epoch ms) for the decisions core makes in time:
 * leases, deadlines, record expiry, the refresh bound, observation instants.
 * Production reads the system clock; the simulation (`npm run simulate`)
 * moves time forward without sleeping.
 */
let source: () => number = Date.now;

export const now = (): number => source();

/** Replaces the clock (simulation and tests only); `setClock(Date.now)` restores it. */
export function setClock(next: () => number): void {
  source = next;
}
