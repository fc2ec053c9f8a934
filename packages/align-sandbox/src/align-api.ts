import type { WebhookDeliverer } from "./delivery.js";
import { HttpError, jsonObject, parseJson, type Reply } from "./http.js";
import { AlignRoute } from "./routes.js";
import type { SandboxState, StoredCustomer, StoredKycs } from "./state.js";

export interface ApiContext {
  state: SandboxState;
  deliverer: WebhookDeliverer;
  /** The emulator's own URL, for KYC flow links. */
  baseUrl: () => string;
  environment: "sandbox" | "production";
}

type FieldError = { path: string[]; message: string };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CUSTOMER_TYPES = new Set(["individual", "corporate"]);
const SIMULATE_ACTIONS = new Set(["kyc.status.approve"]);

function nonEmptyString(value: unknown): value is string {
  return typeof value === "string" && value.trim().length > 0;
}

/** Align's create rules: email, type, and the names the type requires, all checked at once. */
function validateCreate(body: Record<string, unknown>): { errors: FieldError[]; type: string } {
  const errors: FieldError[] = [];
  if (!nonEmptyString(body.email)) errors.push({ path: ["email"], message: "email is required" });
  else if (!EMAIL.test(body.email) || body.email.length > 254)
    errors.push({ path: ["email"], message: "Invalid email format" });
  // The API reference calls it beneficiary_type, the SDK type; either is accepted, both must agree.
  const disagree =
    body.type !== undefined && body.beneficiary_type !== undefined && body.type !== body.beneficiary_type;
  const type = disagree ? undefined : (body.beneficiary_type ?? body.type);
  if (disagree) {
    errors.push({ path: ["beneficiary_type"], message: "type and beneficiary_type disagree" });
  } else if (typeof type !== "string" || !CUSTOMER_TYPES.has(type)) {
    errors.push({
      path: [body.beneficiary_type !== undefined ? "beneficiary_type" : "type"],
      message: "type must be 'individual' or 'corporate'",
    });
  }
  const required = type === "individual" ? ["first_name", "last_name"] : type === "corporate" ? ["company_name"] : [];
  for (const field of required) {
    if (!nonEmptyString(body[field]))
      errors.push({ path: [field], message: `${field} is required for ${String(type)} customers` });
  }
  for (const field of ["first_name", "last_name", "company_name"]) {
    if (body[field] !== undefined && body[field] !== null && typeof body[field] !== "string") {
      errors.push({ path: [field], message: `${field} must be a string` });
    }
  }
  return { errors, type: String(type) };
}

function customerOr404(ctx: ApiContext, id: string | undefined): StoredCustomer {
  const customer = id === undefined ? undefined : ctx.state.customers.get(id);
  if (!customer) throw new HttpError(404, "not_found", "Customer not found");
  return customer;
}

function publishKycsUpdated(ctx: ApiContext, customer: StoredCustomer): void {
  ctx.deliverer.publish({
    event_type: "customer.kycs.updated",
    entity_id: customer.customer_id,
    entity_type: "customer",
    created_at: ctx.state.nextEventTime(),
    entity_object: structuredClone(customer),
  });
}

function createCustomer(ctx: ApiContext, raw: Buffer): Reply {
  const body = jsonObject(raw);
  const { errors, type } = validateCreate(body);
  if (errors.length > 0) throw new HttpError(400, "validation_error", "Validation failed", errors);
  const email = body.email as string;
  if (ctx.state.emails.has(email.toLowerCase())) {
    throw new HttpError(409, "customer_already_exists", "A customer with this email already exists");
  }
  const customer: StoredCustomer = { customer_id: ctx.state.newId(), email, type, kycs: null };
  for (const field of ["first_name", "last_name", "company_name"] as const) {
    if (typeof body[field] === "string") customer[field] = body[field];
  }
  ctx.state.customers.set(customer.customer_id, customer);
  ctx.state.emails.set(email.toLowerCase(), customer.customer_id);
  return { status: 200, body: customer };
}

function listCustomers(ctx: ApiContext, query: URLSearchParams): Reply {
  const email = query.get("email");
  const all = [...ctx.state.customers.values()];
  const items = email === null ? all : all.filter((customer) => customer.email.toLowerCase() === email.toLowerCase());
  return { status: 200, body: { items } };
}

/**
 * Starts KYC. Align does not document a repeat; the emulator returns the
 * existing session unchanged (same link, same status) and emits no event.
 */
function createKycSession(ctx: ApiContext, params: Record<string, string>, raw: Buffer): Reply {
  const body = parseJson(raw);
  if (body !== undefined && (typeof body !== "object" || body === null || Array.isArray(body))) {
    throw new HttpError(400, "invalid_body", "Request body must be a JSON object");
  }
  const customer = customerOr404(ctx, params.customer_id);
  if (customer.kycs === null) {
    customer.kycs = {
      status: "pending",
      sub_status: "kyc_form_submission_started",
      kyc_flow_link: `${ctx.baseUrl()}/_emulator/kyc-flow/${ctx.state.newId()}`,
      status_breakdown: [],
    };
    publishKycsUpdated(ctx, customer);
  }
  return { status: 201, body: { kycs: customer.kycs } };
}

const APPROVED_BREAKDOWN: StoredKycs["status_breakdown"] = [
  { currency: "usd", payment_rails: "ach", status: "approved" },
  { currency: "usd", payment_rails: "wire", status: "approved" },
  { currency: "eur", payment_rails: "sepa", status: "approved" },
];

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
  customer.kycs = {
    status: "approved",
    sub_status: "kyc_form_submission_accepted",
    kyc_flow_link: customer.kycs?.kyc_flow_link ?? `${ctx.baseUrl()}/_emulator/kyc-flow/${ctx.state.newId()}`,
    status_breakdown: structuredClone(APPROVED_BREAKDOWN),
  };
  publishKycsUpdated(ctx, customer);
  return { status: 200, body: {} };
}

function createWebhook(ctx: ApiContext, raw: Buffer): Reply {
  const body = jsonObject(raw);
  let valid = false;
  if (typeof body.url === "string") {
    try {
      valid = ["http:", "https:"].includes(new URL(body.url).protocol);
    } catch {
      valid = false;
    }
  }
  if (!valid)
    throw new HttpError(400, "validation_error", "Validation failed", [
      { path: ["url"], message: "url must be an http(s) URL" },
    ]);
  const webhook = {
    id: ctx.state.newId(),
    url: body.url as string,
    status: "active" as const,
    created_at: new Date().toISOString(),
  };
  ctx.state.webhooks.set(webhook.id, webhook);
  return { status: 200, body: webhook };
}

function deleteWebhook(ctx: ApiContext, params: Record<string, string>): Reply {
  const id = params.webhook_id ?? "";
  if (!ctx.state.webhooks.delete(id)) throw new HttpError(404, "not_found", "Webhook not found");
  return { status: 200, body: {} };
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
      return { status: 200, body: customerOr404(ctx, params.customer_id) };
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
