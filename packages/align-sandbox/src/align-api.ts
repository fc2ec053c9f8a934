/**
 * Align's routes. Each behaviour is sourced or labelled "assumed" in
 * docs/align-assumptions.md; the contested ones follow the active profile.
 */
import { CreateAnswer } from "./dialects.js";
import { HttpError, jsonObject, parseJson, type Reply } from "./http.js";
import { EmailFilter, type ProfileSettings, SandboxTypeField } from "./profiles.js";
import { AlignRoute } from "./routes.js";
import type { KycSession, SandboxState, StoredCustomer, StoredKycs, WebhookPayload } from "./state.js";

export interface ApiContext {
  state: SandboxState;
  /** Events to deliver once the change that caused them is durable. */
  outbox: WebhookPayload[];
  /** The emulator's own URL, for KYC flow links. */
  baseUrl: () => string;
  environment: "sandbox" | "production";
  profile: ProfileSettings;
  /** How long a KYC flow link works. */
  kycLinkTtlMs: number;
  /** The emulator's clock (ms since the epoch): every instant it records comes from here. */
  now: () => number;
  /** What create answers (see {@link CreateAnswer}). */
  createAnswer: CreateAnswer;
  /** What a second KYC start does while a session is open (see {@link KycSessions}). */
  kycSessions: KycSessions;
  /** How long after its creation a customer first shows in the customer list (0: at once). */
  listLagMs: number;
}

/**
 * What `POST /v0/customers/{id}/kycs` does while the customer's session is
 * still open: `reuse_active` hands that session back (the default); or
 * `per_request`, every request opens a new session that replaces the open
 * one (a reading of Align's advice that integrations reuse `kyc_flow_link`
 * "rather than opening a new session each time"). Approved customers get no
 * new session either way.
 */
export type KycSessions = "reuse_active" | "per_request";

type FieldError = { path: string[]; message: string };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CUSTOMER_TYPES = new Set(["individual", "corporate"]);
const SIMULATE_ACTIONS = new Set(["kyc.status.approve"]);
const TYPE_FIELDS = [SandboxTypeField.Type, SandboxTypeField.BeneficiaryType] as const;

function nonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim().length > 0;
}

/**
 * Align's create rules, all checked at once. The type must arrive under the
 * profile's field name; the other name is refused as an unknown field, so a
 * client that guessed wrong gets a 400 naming both.
 */
function validateCreate(ctx: ApiContext, body: Record<string, unknown>): { errors: FieldError[]; type: string } {
  const errors: FieldError[] = [];
  if (!nonEmptyString(body.email)) errors.push({ path: ["email"], message: "email is required" });
  else if (!EMAIL.test(body.email) || body.email.length > 254)
    errors.push({ path: ["email"], message: "Invalid email format" });
  const field = ctx.profile.typeField;
  const other = TYPE_FIELDS.find((name) => name !== field) ?? SandboxTypeField.BeneficiaryType;
  const type = body[field];
  if (type === undefined) errors.push({ path: [field], message: `${field} is required` });
  else if (typeof type !== "string" || !CUSTOMER_TYPES.has(type)) {
    errors.push({ path: [field], message: `${field} must be 'individual' or 'corporate'` });
  }
  if (Object.hasOwn(body, other)) errors.push({ path: [other], message: `Unrecognized field: ${other}` });
  const required = type === "individual" ? ["first_name", "last_name"] : type === "corporate" ? ["company_name"] : [];
  for (const name of required) {
    if (!nonEmptyString(body[name]))
      errors.push({ path: [name], message: `${name} is required for ${String(type)} customers` });
  }
  for (const name of ["first_name", "last_name", "company_name"]) {
    if (body[name] !== undefined && body[name] !== null && typeof body[name] !== "string") {
      errors.push({ path: [name], message: `${name} must be a string` });
    }
  }
  return { errors, type: String(type) };
}

/**
 * A customer as this profile's Align returns it: the type under the profile's
 * field name, without the emulator's own `created_at`.
 */
export function present(profile: ProfileSettings, customer: StoredCustomer): Record<string, unknown> {
  const copy: Record<string, unknown> = structuredClone(customer);
  delete copy.created_at;
  if (profile.typeField === SandboxTypeField.BeneficiaryType) {
    copy.beneficiary_type = copy.type;
    delete copy.type;
  }
  return copy;
}

function customerOr404(ctx: ApiContext, id: string | undefined): StoredCustomer {
  const customer = id === undefined ? undefined : ctx.state.customers.get(id);
  if (!customer) throw new HttpError(404, "not_found", "Customer not found");
  return customer;
}

/** Queues `customer.kycs.updated` for the customer's current state. */
export function publishKycsUpdated(ctx: ApiContext, customer: StoredCustomer): void {
  ctx.outbox.push({
    event_type: "customer.kycs.updated",
    entity_id: customer.customer_id,
    entity_type: "customer",
    created_at: ctx.state.nextEventTime(ctx.now()),
    entity_object: present(ctx.profile, customer),
  });
}

function createCustomer(ctx: ApiContext, raw: Buffer): Reply {
  const body = jsonObject(raw);
  const { errors, type } = validateCreate(ctx, body);
  if (errors.length > 0) throw new HttpError(400, "validation_error", "Validation failed", errors);
  const email = body.email as string;
  if (ctx.state.emails.has(email.toLowerCase())) {
    throw new HttpError(409, "customer_already_exists", "A customer with this email already exists");
  }
  const customer: StoredCustomer = {
    customer_id: ctx.state.newId(),
    email,
    type,
    kycs: null,
    created_at: new Date(ctx.now()).toISOString(),
  };
  for (const field of ["first_name", "last_name", "company_name"] as const) {
    if (typeof body[field] === "string") customer[field] = body[field];
  }
  ctx.state.putCustomer(customer);
  if (ctx.createAnswer === CreateAnswer.WithKycs) {
    // The older reference: create starts KYC too, and shows only status and link.
    const session = startKyc(ctx, customer);
    return {
      status: 201,
      body: { ...present(ctx.profile, customer), kycs: { status: "pending", kyc_flow_link: session.kyc_flow_link } },
    };
  }
  return { status: 200, body: present(ctx.profile, customer) };
}

/**
 * Whether the customer list (Align's search) shows `customer` yet: it lags
 * creation by `listLagMs` (assumed: a search index is eventually consistent),
 * while uniqueness (the 409) and reads by id see a customer at once.
 */
function listed(ctx: ApiContext, customer: StoredCustomer): boolean {
  if (ctx.listLagMs <= 0 || customer.created_at === undefined) return true;
  return Date.parse(customer.created_at) + ctx.listLagMs <= ctx.now();
}

function listCustomers(ctx: ApiContext, query: URLSearchParams): Reply {
  const email = query.get("email");
  const all = [...ctx.state.customers.values()].filter((customer) => listed(ctx, customer));
  const matches =
    ctx.profile.emailFilter === EmailFilter.Exact
      ? (customer: StoredCustomer) => customer.email === email
      : (customer: StoredCustomer) => customer.email.toLowerCase() === email?.toLowerCase();
  const items = email === null ? all : all.filter(matches);
  return { status: 200, body: { items: items.map((customer) => present(ctx.profile, customer)) } };
}

/**
 * The customer's current session; a customer stored before sessions were
 * recorded (an older data file) keeps its link, valid from now.
 */
function sessionOf(ctx: ApiContext, customer: StoredCustomer): KycSession | undefined {
  const session = ctx.state.sessions.get(customer.customer_id);
  if (session || customer.kycs === null) return session;
  const now = ctx.now();
  return {
    session_id: "legacy",
    customer_id: customer.customer_id,
    kyc_flow_link: customer.kycs.kyc_flow_link,
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + ctx.kycLinkTtlMs).toISOString(),
  };
}

/** Whether a session's link still works. */
export function isActive(ctx: ApiContext, session: KycSession): boolean {
  return Date.parse(session.expires_at) > ctx.now();
}

function openSession(ctx: ApiContext, customer: StoredCustomer): KycSession {
  const sessionId = ctx.state.newId();
  // One reading of the clock: a session lives exactly the link's TTL.
  const now = ctx.now();
  const session: KycSession = {
    session_id: sessionId,
    customer_id: customer.customer_id,
    kyc_flow_link: `${ctx.baseUrl()}/_emulator/kyc-flow/${sessionId}`,
    created_at: new Date(now).toISOString(),
    expires_at: new Date(now + ctx.kycLinkTtlMs).toISOString(),
  };
  ctx.state.putSession(session);
  return session;
}

/** A customer's first KYC session: `pending`, and `customer.kycs.updated` (assumed). */
function startKyc(ctx: ApiContext, customer: StoredCustomer): KycSession {
  const session = openSession(ctx, customer);
  customer.kycs = {
    status: "pending",
    sub_status: "kyc_form_submission_started",
    kyc_flow_link: session.kyc_flow_link,
    status_breakdown: [],
  };
  ctx.state.putCustomer(customer);
  publishKycsUpdated(ctx, customer);
  return session;
}

/**
 * Starts KYC, or hands back the open session. The first start opens a
 * pending session (and emits `customer.kycs.updated`, assumed). A repeat
 * while the link works returns it unchanged (assumed); once it expired, a new
 * session with a new link (SDK docs: "call this method again to generate a
 * new one"), status unchanged. `rejected` stays open to resubmission: it gets
 * a working link the same way. `approved` is returned as is.
 */
function createKycSession(ctx: ApiContext, params: Record<string, string>, raw: Buffer): Reply {
  const body = parseJson(raw);
  if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
    throw new HttpError(400, "invalid_body", "Request body must be a JSON object");
  }
  const customer = customerOr404(ctx, params.customer_id);
  if (customer.kycs === null) {
    startKyc(ctx, customer);
  } else if (customer.kycs.status !== "approved") {
    const current = sessionOf(ctx, customer);
    if (ctx.kycSessions === "per_request" || !current || !isActive(ctx, current)) {
      customer.kycs = { ...customer.kycs, kyc_flow_link: openSession(ctx, customer).kyc_flow_link };
      ctx.state.putCustomer(customer);
    }
  }
  return { status: 201, body: { kycs: customer.kycs } };
}

const APPROVED_BREAKDOWN: StoredKycs["status_breakdown"] = [
  { currency: "usd", payment_rails: "ach", status: "approved" },
  { currency: "usd", payment_rails: "wire", status: "approved" },
  { currency: "eur", payment_rails: "sepa", status: "approved" },
];

/** A KYC decision: `approved`, or `rejected` (open to resubmission). Emits `customer.kycs.updated`. */
export function decideKyc(ctx: ApiContext, customer: StoredCustomer, status: "approved" | "rejected"): void {
  const link = customer.kycs?.kyc_flow_link ?? openSession(ctx, customer).kyc_flow_link;
  customer.kycs =
    status === "approved"
      ? {
          status,
          sub_status: "kyc_form_submission_accepted",
          kyc_flow_link: link,
          status_breakdown: structuredClone(APPROVED_BREAKDOWN),
        }
      : {
          status,
          sub_status: "kyc_form_resubmission_required",
          kyc_flow_link: link,
          status_breakdown: APPROVED_BREAKDOWN.map((line) => ({ ...line, status: "rejected" })),
        };
  ctx.state.putCustomer(customer);
  publishKycsUpdated(ctx, customer);
}

/**
 * Simulate's refusals while KYC has no working link, exactly as sent (status
 * 400 and both bodies assumed; Align's error body is `{ message, code }` per
 * the SDK):
 *
 * - no session yet: `400 {"message":"The customer has no active KYC session: start KYC first","code":"kyc_session_required"}`
 * - the link's TTL (`kycLinkTtlMs`) has passed on the emulator's clock (a link
 *   expires at creation + TTL, inclusive): `400 {"message":"The customer's KYC link expired: start KYC again","code":"kyc_session_expired"}`
 *
 * Both may change: a new session (`POST /v0/customers/{id}/kycs`) lifts them.
 */
export const KycRefusal = {
  SessionRequired: {
    status: 400,
    code: "kyc_session_required",
    message: "The customer has no active KYC session: start KYC first",
  },
  SessionExpired: {
    status: 400,
    code: "kyc_session_expired",
    message: "The customer's KYC link expired: start KYC again",
  },
} as const;

function refuse(refusal: (typeof KycRefusal)[keyof typeof KycRefusal]): never {
  throw new HttpError(refusal.status, refusal.code, refusal.message);
}

/**
 * Sandbox approval. Needs an active KYC session (SDK docs); without one, or
 * with an expired link, it is refused as {@link KycRefusal} says and nothing
 * changes. Approving an approved customer changes nothing and answers `{}`
 * (assumed), whatever its link.
 */
function simulateCustomer(ctx: ApiContext, raw: Buffer): Reply {
  if (ctx.environment === "production") {
    throw new HttpError(403, "forbidden", "Simulation is only available in the sandbox");
  }
  const body = jsonObject(raw);
  const errors: FieldError[] = [];
  if (!nonEmptyString(body.customer_id)) errors.push({ path: ["customer_id"], message: "customer_id is required" });
  if (typeof body.action !== "string" || !SIMULATE_ACTIONS.has(body.action)) {
    errors.push({ path: ["action"], message: "action must be 'kyc.status.approve'" });
  }
  if (errors.length > 0) throw new HttpError(400, "validation_error", "Validation failed", errors);
  const customer = customerOr404(ctx, body.customer_id as string);
  const session = sessionOf(ctx, customer);
  if (customer.kycs === null || !session) refuse(KycRefusal.SessionRequired);
  if (customer.kycs.status === "approved") return { status: 200, body: {} };
  if (!isActive(ctx, session)) refuse(KycRefusal.SessionExpired);
  decideKyc(ctx, customer, "approved");
  return { status: 200, body: {} };
}

/** Whether a host is this machine, where plain http is allowed for local receivers. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Registration is HTTPS only (SDK docs); plain http is allowed for loopback receivers (assumed, for local runs). */
function createWebhook(ctx: ApiContext, raw: Buffer): Reply {
  const body = jsonObject(raw);
  let valid = false;
  if (typeof body.url === "string") {
    try {
      const url = new URL(body.url);
      valid = url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
    } catch {
      valid = false;
    }
  }
  if (!valid)
    throw new HttpError(400, "validation_error", "Validation failed", [
      { path: ["url"], message: "url must be an https URL" },
    ]);
  const webhook = {
    id: ctx.state.newId(),
    url: body.url as string,
    status: "active" as const,
    created_at: new Date(ctx.now()).toISOString(),
  };
  ctx.state.putWebhook(webhook);
  return { status: 200, body: webhook };
}

/** Delete answers with no body (SDK docs); the status, 204, is assumed. */
function deleteWebhook(ctx: ApiContext, params: Record<string, string>): Reply {
  const id = params.webhook_id ?? "";
  if (!ctx.state.deleteWebhook(id)) throw new HttpError(404, "not_found", "Webhook not found");
  return { status: 204, body: undefined };
}

/** Runs one Align route; throws {@link HttpError} for a 4xx. */
export function handleAlignRoute(
  ctx: ApiContext,
  route: AlignRoute,
  params: Record<string, string>,
  query: URLSearchParams,
  raw: Buffer,
): Reply {
  switch (route) {
    case AlignRoute.CreateCustomer:
      return createCustomer(ctx, raw);
    case AlignRoute.ListCustomers:
      return listCustomers(ctx, query);
    case AlignRoute.GetCustomer:
      return { status: 200, body: present(ctx.profile, customerOr404(ctx, params.customer_id)) };
    case AlignRoute.CreateKycSession:
      return createKycSession(ctx, params, raw);
    case AlignRoute.SimulateCustomer:
      return simulateCustomer(ctx, raw);
    case AlignRoute.CreateWebhook:
      return createWebhook(ctx, raw);
    case AlignRoute.ListWebhooks:
      return { status: 200, body: { items: [...ctx.state.webhooks.values()] } };
    case AlignRoute.DeleteWebhook:
      return deleteWebhook(ctx, params);
  }
}
