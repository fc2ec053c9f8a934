import { createHash } from "node:crypto";
import type { Kycs } from "@align-onboarding/align";

/**
 * How far Align's clock (an event's `created_at`) and ours may disagree, and
 * how close two instants must be before KYC progress orders them instead:
 * our own instants are when we *asked*, and Align answered somewhat later.
 */
export const CLOCK_SKEW_MS = 10_000;

/** KYC progress: none < pending < rejected < approved (an unknown status counts as pending). */
const KYC_RANK = new Map<string, number>([
  ["pending", 1],
  ["rejected", 2],
  ["approved", 3],
]);
/** The rank of a final KYC status: nothing moves a record back from it. */
export const FINAL_KYC_RANK = 3;

export function kycRank(kycs: Kycs | null | undefined): number {
  if (kycs === null || kycs === undefined) return 0;
  return KYC_RANK.get(kycs.status) ?? 1;
}

/** A session whose link the observation does not show: the same session as any other, for the rule. */
export const UNNAMED_SESSION = "unnamed";

/**
 * The identity of a KYC session: what Align issued for it (its link), hashed
 * to a short key; {@link UNNAMED_SESSION} for `kycs` without a link (an event
 * may omit it); undefined when no session shows (KYC not started).
 */
export function sessionOf(kycs: Kycs | null | undefined): string | undefined {
  if (kycs === null || kycs === undefined) return undefined;
  const link = kycs.kyc_flow_link;
  if (typeof link !== "string" || link === "") return UNNAMED_SESSION;
  return createHash("sha256").update(link).digest("base64url").slice(0, 22);
}

/** Whether two observations may be of one session: the same link, or one of them does not show its link. */
export function sameSession(a: string | undefined, b: string | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && (a === UNNAMED_SESSION || b === UNNAMED_SESSION));
}

/** The stored session after `incoming` applied: an observation that does not show its link keeps the stored one. */
export function nextSession(stored: OrderingState, incoming: IncomingOrder): string | undefined {
  return incoming.session === UNNAMED_SESSION && stored.session !== undefined ? stored.session : incoming.session;
}

/** What a stored record says about its own place in the order. */
export interface OrderingState {
  rank: number;
  /** {@link sessionOf} the stored copy. */
  session: string | undefined;
  /** When that session's link was issued to us (epoch ms, our clock), if we opened it; else unknown. */
  linkAt: number | undefined;
  /** The instant of the stored observation (epoch ms). */
  asOf: number;
  /** The delivery (hash of its bytes) last applied, if the stored copy came from a webhook. */
  lastSource: string | undefined;
}

/** What an observation says about its place in the order. */
export interface IncomingOrder {
  rank: number;
  session: string | undefined;
  /** When its session's link was issued to us, when this observation is the answer that issued it. */
  linkIssuedAt: number | undefined;
  /** When we asked Align (our reads), or the event's `created_at` (Align's clock). */
  asOf: number;
  /** Identifies a webhook delivery by its exact bytes. */
  source: string | undefined;
}

/**
 * - `apply`: the observation is newer: it replaces the stored copy.
 * - `bookkeeping`: it is not newer, but it is the answer that issued the
 *   stored session's link, whose issue instant the record lacks: only that
 *   instant is written.
 * - `stale`: a newer copy is stored; nothing is written.
 * - `duplicate`: the very delivery stored last; nothing is written.
 */
export type Verdict = "apply" | "bookkeeping" | "stale" | "duplicate";

/**
 * **The ordering rule**: the one rule for every write to a recorded customer
 * (create's read-back, KYC start, GET's refresh, webhooks, recovery). Writes
 * are ordered by what Align issued and by Align's own instants, never by when
 * a delivery arrived:
 *
 * 0. The same delivery again (the same bytes, any time later) is a duplicate.
 * 1. **Final.** `approved` never moves back, whatever arrives later.
 * 2. **Sessions**, by what Align issued: when the observation shows another
 *    KYC session than the stored one (one that does not show its link counts
 *    as the same session),
 *    - no session at all never replaces one (a read from before KYC began);
 *    - if we know when the stored link was issued, the observation is newer
 *      only if it is the answer that issued its own link later, or if it
 *      describes an instant after the stored link's issue (plus the clock
 *      skew): so a read or event that still shows an older link never
 *      replaces a session we opened after it;
 *    - the answer that issued its link replaces a session whose issue we do
 *      not know, unless the stored copy is dated after that issue (plus skew);
 *    - otherwise (neither issue instant known) progress and instants decide, as in 3.
 * 3. **Within a session**: an instant more than the skew later wins, one more
 *    than the skew earlier loses; closer than that, KYC progress decides
 *    (none < pending < rejected < approved), then the later instant (ties:
 *    the later arrival). An observation dated beyond now plus the skew has
 *    no usable instant: it wins only by progress, and never moves the stored
 *    instant, so no timestamp (far-future, extended-year) can freeze a record
 *    or be replayed into a newer one.
 *
 * The issue instant is stored with its link and kept by every write that
 * carries the same link; a webhook that lands before our own write of the
 * same session leaves that write its bookkeeping (`bookkeeping`).
 */
export function order(stored: OrderingState, incoming: IncomingOrder, now: number): Verdict {
  if (incoming.source !== undefined && incoming.source === stored.lastSource) return "duplicate";
  if (newer(stored, incoming, now)) return "apply";
  const issuesStoredLink =
    incoming.session !== undefined &&
    incoming.session !== UNNAMED_SESSION &&
    incoming.session === stored.session &&
    incoming.linkIssuedAt !== undefined &&
    stored.linkAt === undefined;
  return issuesStoredLink ? "bookkeeping" : "stale";
}

function newer(stored: OrderingState, incoming: IncomingOrder, now: number): boolean {
  if (stored.rank === FINAL_KYC_RANK && incoming.rank < FINAL_KYC_RANK) return false;
  const trusted = incoming.asOf <= now + CLOCK_SKEW_MS;
  if (!sameSession(incoming.session, stored.session) && stored.session !== undefined) {
    if (incoming.session === undefined) return false;
    if (stored.linkAt !== undefined) {
      if (incoming.linkIssuedAt !== undefined) return incoming.linkIssuedAt > stored.linkAt;
      return trusted && incoming.asOf > stored.linkAt + CLOCK_SKEW_MS;
    }
    if (incoming.linkIssuedAt !== undefined) return stored.asOf <= incoming.linkIssuedAt + CLOCK_SKEW_MS;
  }
  if (!trusted) return incoming.rank > stored.rank;
  if (incoming.asOf > stored.asOf + CLOCK_SKEW_MS) return true;
  if (incoming.asOf < stored.asOf - CLOCK_SKEW_MS) return false;
  if (incoming.rank !== stored.rank) return incoming.rank > stored.rank;
  return incoming.asOf >= stored.asOf;
}

/**
 * The stored instant after `incoming` applied: the later of the two (an
 * observation without a usable instant keeps the stored one).
 */
export function nextAsOf(stored: OrderingState | undefined, incoming: IncomingOrder, now: number): number {
  if (stored === undefined) return Math.min(incoming.asOf, now + CLOCK_SKEW_MS);
  if (incoming.asOf > now + CLOCK_SKEW_MS) return stored.asOf;
  return Math.max(stored.asOf, incoming.asOf);
}

/** The stored link's issue instant after `incoming` applied: kept for the same session, replaced for another. */
export function nextLinkAt(stored: OrderingState, incoming: IncomingOrder): number | undefined {
  if (incoming.session !== undefined && sameSession(incoming.session, stored.session)) {
    return stored.linkAt ?? incoming.linkIssuedAt;
  }
  return incoming.linkIssuedAt;
}
