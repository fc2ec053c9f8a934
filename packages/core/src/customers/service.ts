import { AlignConflictError, alignRequestId, type Customer, safeParse, toFieldErrors } from "@align-onboarding/align";
import type { Caller } from "../auth.js";
import { now } from "../clock.js";
import type { ParsedBody } from "../http/body.js";
import type { Invocation } from "../http/handler.js";
import { Disposition, ProblemError } from "../http/problem.js";
import { type ApiResult, jsonResult } from "../http/response.js";
import { requestFingerprint, scopeId } from "../idempotency/fingerprint.js";
import { type Attempt, runIdempotent } from "../idempotency/run.js";
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

function idempotent(invocation: Invocation, caller: Caller, key: string, json: unknown) {
  const { request, runtime, log } = invocation;
  return {
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
 * How long after an attempt began Align's lookup by email may still miss the
 * customer that attempt made: while an earlier attempt of this key is this
 * recent, a duplicate Align reports but does not show may be that attempt's.
 * It covers how late the attempt's create may reach Align (a request in
 * flight, queued, landing after its sender died) plus how long Align's list
 * then lags: 60 s was too short (the simulation's long run landed a create
 * 90 s after its attempt began), so ten minutes. The cost of a longer window
 * is small: a duplicate made outside this service under another spelling is
 * answered "may change, retry" that long before its final 409.
 */
export const ALIGN_LOOKUP_LAG_MS = 10 * 60_000;

/**
 * Align said the email exists. Find that customer (exact email, normalised) and decide:
 * - ours and recorded by this very idempotency record (an earlier attempt whose
 *   answer was lost): converge on it (201);
 * - ours otherwise: 409 carrying its `customer_id`;
 * - nobody's (an earlier attempt with this key created it at Align and died
 *   before recording it) and it matches the request: claim it (201). The
 *   claim is the record's conditional put, keyed by Align's customer id: when
 *   two callers' identical creates both lost their answers, the first claim
 *   wins and the other caller gets 409 without the id;
 * - anything else: 409 without an id, so nothing leaks about others' customers.
 *
 * A duplicate Align reports but does not show (made outside this service
 * under another spelling, where Align's filter is exact) is a final 409,
 * except while an earlier attempt of this key is recent enough to be its
 * author ({@link ALIGN_LOOKUP_LAG_MS}): at most three Align calls per request,
 * and a definite answer within that bound.
 */
async function resolveExistingEmail(
  invocation: Invocation,
  caller: Caller,
  body: CreateCustomerBody,
  attempt: Attempt,
  createdBy: string,
  spelledAs: string,
): Promise<ApiResult> {
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
    const { uncertain, earlierAt } = attempt;
    if (uncertain && earlierAt !== undefined && askedAt - earlierAt < ALIGN_LOOKUP_LAG_MS) {
      // Perhaps our own earlier attempt's customer, not listed yet: may change, so a retry decides again.
      throw new ProblemError("email_already_exists", { retryAfter: 5, disposition: Disposition.Release });
    }
    throw new ProblemError("email_already_exists");
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
      let claimed: CustomerRecord;
      try {
        claimed = await runtime.customers.create(caller.sub, { customer: candidate, asOf: askedAt }, createdBy);
      } catch (error) {
        // Another caller's identical create claimed it first: theirs.
        if (!(error instanceof CustomerOwnedElsewhereError)) throw error;
        continue;
      }
      if (claimed.createdBy !== createdBy) {
        // This caller's other key claimed it first: that key's answer, not this one's.
        throw new ProblemError("email_already_exists", { extensions: { customer_id: claimed.customerId } });
      }
      invocation.annotate({ event: "create_recovered", customer_id: claimed.customerId });
      invocation.count(Metric.CustomersCreated);
      return jsonResult(request.requestId, 201, publicCustomer(claimed));
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
  const call = idempotent(invocation, caller, key, body.json);
  return runIdempotent(call, async (attempt) => {
    if (attempt.uncertain) {
      // Only a shortcut: the index may lag (DynamoDB's is eventually consistent), and Align's 409
      // below finds the record all the same.
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
      return resolveExistingEmail(invocation, caller, data, attempt, call.id, body.data.email);
    }
    // A link in create's answer (an older documented shape) was issued by this very call.
    const linkIssuedAt = customer.kycs?.kyc_flow_link ? now() : undefined;
    let record: CustomerRecord;
    try {
      record = await runtime.customers.create(
        caller.sub,
        { customer, asOf: askedAt, ...(linkIssuedAt === undefined ? {} : { linkIssuedAt }) },
        call.id,
      );
    } catch (error) {
      if (!(error instanceof CustomerOwnedElsewhereError)) throw error;
      // Another caller's recovery claimed the customer this call made before we recorded it: theirs now.
      throw new ProblemError("email_already_exists", { cause: error });
    }
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
 * (an integration in production reuses `kyc_flow_link`), none for an approved
 * customer, else a new one. At most one Align session per key: a retry after
 * an unknown outcome first looks at Align for the session the earlier attempt
 * may have opened, and answers with it.
 */
export async function startKyc(
  invocation: Invocation,
  caller: Caller,
  customerId: string,
  key: string,
  body: ParsedBody<StartKycBody>,
): Promise<ApiResult> {
  const { runtime, request } = invocation;
  let record = await ownedCustomer(invocation, caller, customerId);
  return runIdempotent(idempotent(invocation, caller, key, body.json), async (attempt) => {
    let latest = record.customer;
    let linkAt = record.kycLinkAt;
    if (attempt.uncertain) {
      // Align may hold a session our copy does not show yet, or shows without its issue instant (its
      // webhook came first), or one issued since the earlier attempt began: that session is the earlier
      // attempt's answer (a session issued after the request began is as new as it asked for), whatever
      // its status now. One session per key. A link whose issue we never saw is dated when this read saw it:
      // the latest it can have been issued, so a newer session is never judged older than it, and a later
      // request never takes it for one issued before it began when it was issued after.
      const readAt = now();
      latest = await runtime.align.customers.get(customerId, invocation.alignOptions());
      const link = latest.kycs?.kyc_flow_link;
      const seenAt = link === record.customer.kycs?.kyc_flow_link ? record.kycLinkAt : undefined;
      const { earlierAt } = attempt;
      const issuedUnseen =
        typeof link === "string" &&
        link !== "" &&
        (seenAt === undefined || (earlierAt !== undefined && seenAt >= earlierAt));
      if (issuedUnseen) linkAt = seenAt ?? readAt;
      const observation = {
        customer: latest,
        asOf: readAt,
        ...(issuedUnseen && seenAt === undefined && linkAt !== undefined ? { linkIssuedAt: linkAt } : {}),
      };
      await runtime.customers.observe(customerId, observation, readAt, record);
      record = (await runtime.customers.get(customerId)) ?? record;
      if (issuedUnseen) {
        // Answered as recorded: what a caller is told is what it will read back (the ordering rule may
        // have kept a copy it judges newer than this read).
        invocation.annotate({ event: "kyc_session_converged", customer_id: customerId });
        return jsonResult(request.requestId, 201, { kycs: record.customer.kycs });
      }
    }
    const open = latest.kycs;
    // Approved is final: there is no session to open, whatever was asked.
    if (open?.status === "approved") return jsonResult(request.requestId, 201, { kycs: projectCustomer(latest).kycs });
    // A pending session's link is handed out again while it is young enough to work (KYC links expire).
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
    // The link's issue instant: when Align's answer reached us (a read asked later shows it, or a newer one).
    const issuedAt = now();
    const observation = { customer: { ...latest, kycs: session.kycs }, asOf: askedAt, linkIssuedAt: issuedAt };
    // Recorded with the idempotency completion (one transaction where the table has them). Should the
    // record have changed since it was read (a webhook of this very session, say), the ordering rule
    // decides again on the fresh copy afterwards, so the session's issue instant is never lost.
    const planned = runtime.customers.observeUpdate(record, observation, issuedAt);
    const followUp = async () => {
      const result = await runtime.customers.observe(customerId, observation, issuedAt);
      if (result !== "applied") invocation.annotate({ kept_newer_copy: true });
    };
    if (planned) attempt.completeWith(planned.update, (applied) => (applied ? undefined : followUp()));
    else invocation.annotate({ kept_newer_copy: true });
    invocation.count(Metric.KycSessionsStarted);
    invocation.annotate({
      event: "kyc_session_started",
      customer_id: customerId,
      align_request_id: alignRequestId(session),
      kyc_status: session.kycs.status,
    });
    return jsonResult(request.requestId, 201, { kycs: projectCustomer(observation.customer).kycs });
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
    const observed = await runtime.customers.observe(customerId, { customer: fresh, asOf: askedAt }, now(), record);
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
