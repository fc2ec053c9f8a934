import { createHmac } from "node:crypto";
import { AlignConflictError, alignRequestId, type Customer, safeParse, toFieldErrors } from "@align-onboarding/align";
import type { Caller } from "../auth.js";
import { now } from "../clock.js";
import { requireAlignKey } from "../config.js";
import type { ParsedBody } from "../http/body.js";
import type { Invocation } from "../http/handler.js";
import { Disposition, ProblemError } from "../http/problem.js";
import { type ApiResult, jsonResult } from "../http/response.js";
import { requestFingerprint, scopeId } from "../idempotency/fingerprint.js";
import { type Attempt, runIdempotent } from "../idempotency/run.js";
import type { Intent } from "../idempotency/store.js";
import { errorFields } from "../log.js";
import { Metric } from "../metrics.js";
import {
  type CreateCustomerBody,
  CustomerPathSchema,
  LIST_CUSTOMERS_FIELDS,
  ListCustomersQuerySchema,
  type SimulateBody,
  type StartKycBody,
} from "./api-schemas.js";
import {
  CustomerOwnedElsewhereError,
  type CustomerPage,
  type CustomerRecord,
  InvalidCursorError,
  projectCustomer,
} from "./customer-store.js";

/** KYC statuses after which nothing changes without a new session (`rejected` stays open to resubmission). */
const FINAL_KYC_STATUSES: ReadonlySet<string | undefined> = new Set(["approved"]);

/** The customer as our API shows it: the stored projection, plus `stale` when Align could not be reached. */
function publicCustomer(record: CustomerRecord, stale = false): Customer & { stale?: true } {
  return stale ? { ...record.customer, stale: true } : record.customer;
}

/** Sandbox-only routes do not exist elsewhere: 404, whatever the request. */
export function requireSandbox(invocation: Invocation): void {
  if (invocation.runtime.config.alignEnvironment !== "sandbox") throw new ProblemError("not_found");
}

/** Validates the `{customer_id}` path parameter (400 with its path when malformed). */
export function customerIdOf(invocation: Invocation): string {
  const parsed = safeParse(CustomerPathSchema, invocation.request.pathParameters);
  if (!parsed.success) throw new ProblemError("validation_failed", { errors: toFieldErrors(parsed.error.issues) });
  return parsed.data.customer_id;
}

/** The caller's customer, or 404: another caller's customer looks exactly like a missing one. */
export async function ownedCustomer(
  invocation: Invocation,
  caller: Caller,
  customerId: string,
): Promise<CustomerRecord> {
  const record = await invocation.runtime.customers.get(customerId);
  if (!record || record.owner !== caller.sub) throw new ProblemError("not_found", { detail: "No such customer" });
  return record;
}

function idempotent(invocation: Invocation, caller: Caller, key: string, json: unknown, intent?: Intent) {
  const { request, runtime, log } = invocation;
  return {
    ...(intent ? { intent } : {}),
    store: runtime.idempotency,
    id: scopeId(request.routeKey, caller.sub, key),
    fingerprint: requestFingerprint(request.method, request.rawPath, json),
    leaseUntilMs: invocation.leaseUntilMs,
    requestId: request.requestId,
    log,
    annotate: invocation.annotate,
    count: invocation.count,
    report: invocation.report,
  };
}

const normalised = (value: string | null | undefined) => (value ?? "").trim().toLowerCase();
const same = (a: string | null | undefined, b: string | undefined) => normalised(a) === normalised(b);

const keyedHash = (invocation: Invocation, text: string) =>
  createHmac("sha256", requireAlignKey(invocation.runtime.config)).update(text).digest("hex");

/**
 * What a create is about, as HMACs keyed with the Align API key (neither the
 * email nor a guessable hash of it sits in the table): the email (indexed),
 * and every field that decides whether an Align customer is this request's.
 */
function createIntent(invocation: Invocation, caller: Caller, body: CreateCustomerBody): Intent {
  const fields = [body.email, body.type, body.first_name, body.last_name, body.company_name].map(normalised);
  return {
    owner: caller.sub,
    subject: keyedHash(invocation, normalised(body.email)),
    detail: keyedHash(invocation, JSON.stringify(fields)),
  };
}

/**
 * Whether an Align customer is the one this request describes (before claiming an orphan). The email is
 * not compared again: every candidate comes from a lookup that kept only the request's email.
 */
function matchesRequest(customer: Customer, body: CreateCustomerBody): boolean {
  if (customer.type !== undefined && customer.type !== body.type) return false;
  return body.type === "individual"
    ? same(customer.first_name, body.first_name) && same(customer.last_name, body.last_name)
    : same(customer.company_name, body.company_name);
}

/**
 * Align said the email exists. Find that customer (exact email, normalised) and decide:
 * - ours and recorded by this very idempotency record (an earlier attempt whose
 *   answer was lost): converge on it (201);
 * - ours otherwise: 409 carrying its `customer_id`;
 * - nobody's (an earlier attempt with this key created it at Align and died
 *   before recording it) and it matches the request: claim it (201), unless
 *   another caller has an open attempt with the identical request (409, not stored);
 * - anything else: 409 without an id, so nothing leaks about others' customers.
 */
async function resolveExistingEmail(
  invocation: Invocation,
  caller: Caller,
  body: CreateCustomerBody,
  attempt: Attempt,
  attemptOf: { id: string; intent: Intent },
  spelledAs: string,
): Promise<ApiResult> {
  const createdBy = attemptOf.id;
  const { runtime, request } = invocation;
  const askedAt = now();
  const lookup = async (email: string) =>
    (await runtime.align.customers.list({ email }, invocation.alignOptions())).items.filter((candidate) =>
      same(candidate.email, body.email),
    );
  let candidates = await lookup(body.email);
  // A customer made elsewhere may be spelled as the caller wrote it, and Align's filter may be exact.
  if (candidates.length === 0 && spelledAs !== body.email) candidates = await lookup(spelledAs);
  if (candidates.length === 0) {
    // Align reported a duplicate it does not show (not yet, or under another spelling): a 409 that is
    // not stored, so a retry with the key decides again.
    throw new ProblemError("email_already_exists", { retryAfter: 2, disposition: Disposition.Release });
  }
  for (const candidate of candidates) {
    const record = await runtime.customers.get(candidate.customer_id);
    if (record) {
      if (record.owner !== caller.sub) continue;
      if (attempt.uncertain && record.createdBy === createdBy) {
        invocation.annotate({ event: "create_converged", customer_id: record.customerId });
        return jsonResult(request.requestId, 201, publicCustomer(record));
      }
      throw new ProblemError("email_already_exists", { extensions: { customer_id: record.customerId } });
    }
    if (attempt.uncertain && matchesRequest(candidate, body)) {
      // Another caller with an open attempt at this very request may be the orphan's author: then it is
      // nobody's to take. The 409 is not stored, so a retry decides again once that attempt has settled.
      const { intent } = attemptOf;
      const open = await runtime.idempotency.openIntents(intent.subject);
      if (open.some((other) => other.owner !== caller.sub && other.detail === intent.detail)) {
        invocation.annotate({ event: "create_orphan_contested", customer_id: candidate.customer_id });
        throw new ProblemError("email_already_exists", { retryAfter: 2, disposition: Disposition.Release });
      }
      try {
        const claimed = await runtime.customers.create(caller.sub, { customer: candidate, asOf: askedAt }, createdBy);
        invocation.annotate({ event: "create_recovered", customer_id: claimed.customerId });
        invocation.count(Metric.CustomersCreated);
        return jsonResult(request.requestId, 201, publicCustomer(claimed));
      } catch (error) {
        if (!(error instanceof CustomerOwnedElsewhereError)) throw error;
      }
    }
  }
  throw new ProblemError("email_already_exists");
}

/**
 * `POST /customers`: creates the customer at Align and records it as the
 * caller's, exactly once per idempotency key. After an unknown outcome it
 * converges: first on a customer this key already recorded, then (Align
 * having no idempotency keys) through Align's 409 and lookup by email.
 */
export function createCustomer(
  invocation: Invocation,
  caller: Caller,
  key: string,
  body: ParsedBody<CreateCustomerBody>,
): Promise<ApiResult> {
  const { runtime, request } = invocation;
  // One spelling at Align (lower case): a lookup after a 409 finds it even where Align's filter is exact.
  const data: CreateCustomerBody = { ...body.data, email: body.data.email.toLowerCase() };
  const intent = createIntent(invocation, caller, data);
  const call = idempotent(invocation, caller, key, body.json, intent);
  return runIdempotent(call, async (attempt) => {
    if (attempt.uncertain) {
      const mine = await runtime.customers.findCreatedBy(caller.sub, call.id);
      if (mine) {
        invocation.annotate({ event: "create_converged", customer_id: mine.customerId });
        return jsonResult(request.requestId, 201, publicCustomer(mine));
      }
    }
    const askedAt = now();
    let customer: Customer;
    try {
      customer = await runtime.align.customers.create(data, invocation.alignOptions());
    } catch (error) {
      if (!(error instanceof AlignConflictError)) throw error;
      return resolveExistingEmail(invocation, caller, data, attempt, { id: call.id, intent }, body.data.email);
    }
    const record = await runtime.customers.create(caller.sub, { customer, asOf: askedAt }, call.id);
    invocation.annotate({
      event: "customer_created",
      customer_id: record.customerId,
      align_request_id: alignRequestId(customer),
    });
    invocation.count(Metric.CustomersCreated);
    return jsonResult(request.requestId, 201, publicCustomer(record));
  });
}

/**
 * `POST /customers/{id}/kyc-sessions`: the open session when there is one
 * (an integration in production reuses `kyc_flow_link`), else a new one.
 */
export async function startKyc(
  invocation: Invocation,
  caller: Caller,
  customerId: string,
  key: string,
  body: ParsedBody<StartKycBody>,
): Promise<ApiResult> {
  const { runtime, request } = invocation;
  const record = await ownedCustomer(invocation, caller, customerId);
  return runIdempotent(idempotent(invocation, caller, key, body.json), async (attempt) => {
    let latest = record.customer;
    let linkAt = record.kycLinkAt;
    if (attempt.uncertain) {
      // After an attempt with an unknown outcome, Align may hold a session our copy does not show yet:
      // a link we have not recorded is that attempt's, issued moments ago.
      const readAt = now();
      latest = await runtime.align.customers.get(customerId, invocation.alignOptions());
      const link = latest.kycs?.kyc_flow_link;
      const ours = link && link !== record.customer.kycs?.kyc_flow_link;
      if (ours) linkAt = readAt;
      await runtime.customers.observe(customerId, {
        customer: latest,
        asOf: readAt,
        ...(ours ? { linkIssuedAt: readAt } : {}),
      });
    }
    // A pending session's link is handed out again while it is young enough to work (KYC links expire).
    const open = latest.kycs;
    const young = linkAt !== undefined && now() - linkAt < runtime.config.kycLinkMaxAgeMs;
    if (!body.data.new_session && open?.status === "pending" && open.kyc_flow_link && young) {
      return jsonResult(request.requestId, 201, { kycs: projectCustomer(latest).kycs });
    }
    const askedAt = now();
    const session = await runtime.align.customers.createKycSession(
      customerId,
      body.data.redirect_uri === undefined ? {} : { redirect_uri: body.data.redirect_uri },
      invocation.alignOptions(),
    );
    const observed = { ...latest, kycs: session.kycs };
    // Recorded with the idempotency completion: one transaction where the table has them.
    attempt.completeWith(
      runtime.customers.observeUpdate(customerId, { customer: observed, asOf: askedAt, linkIssuedAt: askedAt }),
      (applied) => {
        // A fresher observation (a webhook) was stored meanwhile and kept.
        if (!applied) invocation.annotate({ kept_newer_copy: true });
      },
    );
    invocation.count(Metric.KycSessionsStarted);
    invocation.annotate({
      event: "kyc_session_started",
      customer_id: customerId,
      align_request_id: alignRequestId(session),
      kyc_status: session.kycs.status,
    });
    return jsonResult(request.requestId, 201, { kycs: projectCustomer(observed).kycs });
  });
}

/** `POST /sandbox/customers/{id}/simulate`: asks Align's sandbox for a KYC decision. */
export async function simulate(
  invocation: Invocation,
  caller: Caller,
  customerId: string,
  key: string,
  body: ParsedBody<SimulateBody>,
): Promise<ApiResult> {
  const { runtime, request } = invocation;
  requireSandbox(invocation);
  const record = await ownedCustomer(invocation, caller, customerId);
  // Align approves only a customer with a KYC session; refused here, before anything is recorded.
  if (record.customer.kycs === null) {
    throw new ProblemError("kyc_not_started", { detail: "Start KYC (POST /customers/{id}/kyc-sessions) first" });
  }
  return runIdempotent(idempotent(invocation, caller, key, body.json), async () => {
    const simulated = await runtime.align.customers.simulateCustomer(
      { customer_id: customerId, action: body.data.action },
      invocation.alignOptions(),
    );
    invocation.annotate({
      event: "kyc_simulated",
      customer_id: customerId,
      action: body.data.action,
      align_request_id: alignRequestId(simulated),
    });
    invocation.count(Metric.KycSimulations);
    return jsonResult(request.requestId, 200, { customer_id: customerId, action: body.data.action });
  });
}

/**
 * `GET /customers/{id}`: the stored customer. A KYC status that is not final
 * and older than the refresh bound is re-read from Align first, so a lost
 * webhook never strands a customer; if Align is down the stored copy is
 * served with `stale: true`.
 */
export async function getCustomer(invocation: Invocation, caller: Caller, customerId: string): Promise<ApiResult> {
  const { runtime, request, log } = invocation;
  const record = await ownedCustomer(invocation, caller, customerId);
  const due = now() - record.syncedAt >= runtime.config.kycRefreshAfterMs;
  if (!due || FINAL_KYC_STATUSES.has(record.customer.kycs?.status)) {
    return jsonResult(request.requestId, 200, publicCustomer(record));
  }
  try {
    // A user is waiting and a stored copy exists: one short attempt, no retries.
    const options = invocation.alignOptions();
    const askedAt = now();
    const fresh = await runtime.align.customers.get(customerId, {
      timeoutMs: Math.min(3_000, options.timeoutMs ?? 3_000),
      maxRetries: 0,
    });
    const observed = await runtime.customers.observe(customerId, { customer: fresh, asOf: askedAt });
    const current = observed === "applied" ? undefined : await runtime.customers.get(customerId);
    return jsonResult(request.requestId, 200, current ? publicCustomer(current) : projectCustomer(fresh));
  } catch (error) {
    log.warn("refresh from Align failed; serving the stored copy", { customer_id: customerId, ...errorFields(error) });
    return jsonResult(request.requestId, 200, publicCustomer(record, true));
  }
}

/** `GET /customers`: the caller's customers, newest first, paged. */
export async function listCustomers(invocation: Invocation, caller: Caller): Promise<ApiResult> {
  const { runtime, request } = invocation;
  const unknown = Object.keys(request.query).filter(
    (name) => !(LIST_CUSTOMERS_FIELDS as readonly string[]).includes(name),
  );
  const parsed = safeParse(ListCustomersQuerySchema, request.query);
  const errors = [
    ...(parsed.success ? [] : toFieldErrors(parsed.error.issues)),
    ...unknown.map((name) => ({ path: [name], message: "Unknown query parameter" })),
  ];
  if (!parsed.success || errors.length > 0) throw new ProblemError("validation_failed", { errors });
  const { limit, cursor } = parsed.data;
  let page: CustomerPage;
  try {
    page = await runtime.customers.listByOwner(caller.sub, limit, cursor);
  } catch (error) {
    if (!(error instanceof InvalidCursorError)) throw error;
    throw new ProblemError("validation_failed", { errors: [{ path: ["cursor"], message: "Invalid cursor" }] });
  }
  return jsonResult(request.requestId, 200, {
    items: page.items.map((record) => publicCustomer(record)),
    ...(page.nextCursor === undefined ? {} : { next_cursor: page.nextCursor }),
  });
}
