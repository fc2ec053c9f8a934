/**
 * Every place where the documented Align API disagrees with itself lives here.
 * Where sources contradict each other the client does not guess: it sends one
 * variant, learns from Align's answer and remembers what worked (see
 * {@link WireNegotiator}), unless the caller pins the variant.
 */
import type { AlignError } from "./errors.js";

export const AlignEnvironment = {
  Sandbox: "sandbox",
  Production: "production",
} as const;
export type AlignEnvironment = (typeof AlignEnvironment)[keyof typeof AlignEnvironment];

export const BASE_URLS: Record<AlignEnvironment, string> = {
  sandbox: "https://api-sandbox.alignlabs.dev",
  production: "https://api.alignlabs.dev",
};

/** Every path starts with this version prefix. */
export const API_PREFIX = "/v0";

/**
 * How the API key is sent. The public SDK ("remove Bearer token for alignment
 * with API requirements"), a production integration and the newest create,
 * get and KYC reference pages: raw `Authorization: <key>`; the update-customer
 * and virtual-account-simulate pages: `Api-Key: <key>`; one guide:
 * `Authorization: Bearer <key>`. Exactly one is sent per request.
 */
export const AuthHeader = {
  ApiKey: "api-key",
  Authorization: "authorization",
  Bearer: "bearer",
} as const;
export type AuthHeader = (typeof AuthHeader)[keyof typeof AuthHeader];

/** The order in which auth forms are tried: the most attested form first (issue 23's audit). */
export const AUTH_HEADER_ORDER: readonly AuthHeader[] = [
  AuthHeader.Authorization,
  AuthHeader.ApiKey,
  AuthHeader.Bearer,
];

/**
 * The name of the customer type on create: `type` in the newest reference, the
 * guide, the SDK and one integration; `beneficiary_type` in the older
 * reference and a production integration.
 */
export const CustomerTypeField = {
  Type: "type",
  BeneficiaryType: "beneficiary_type",
} as const;
export type CustomerTypeField = (typeof CustomerTypeField)[keyof typeof CustomerTypeField];

/** The order in which type field names are tried. */
export const CUSTOMER_TYPE_FIELD_ORDER: readonly CustomerTypeField[] = [
  CustomerTypeField.Type,
  CustomerTypeField.BeneficiaryType,
];

/** The one header that carries the key in `form`. */
export function authHeaders(apiKey: string, form: AuthHeader): Record<string, string> {
  if (form === AuthHeader.ApiKey) return { "api-key": apiKey };
  if (form === AuthHeader.Bearer) return { authorization: `Bearer ${apiKey}` };
  return { authorization: apiKey };
}

/** Headers in which Align (or a proxy in front of it) may return a request id. */
export const REQUEST_ID_HEADERS = ["x-request-id", "request-id", "x-amzn-requestid", "x-amz-cf-id"] as const;

export function readRequestId(headers: { get(name: string): string | null }): string | undefined {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers.get(name);
    if (value) return value;
  }
  return undefined;
}

/** The create body with the customer type under `field` (and only there). */
export function toWireCustomer<T extends { type: string }>(
  body: T,
  field: CustomerTypeField,
): Omit<T, "type"> & Partial<Record<CustomerTypeField, string>> {
  if (field === CustomerTypeField.Type) return body;
  const { type, ...rest } = body;
  return { ...rest, [field]: type };
}

const TYPE_FIELD_NAMES: readonly string[] = [CustomerTypeField.Type, CustomerTypeField.BeneficiaryType];

// A field name as a token of its own: `beneficiary_type` does not name `type`, and `Content-Type` names neither.
const NAMES_TYPE_FIELD = /(?:^|[^\w-])(?:type|beneficiary_type)(?![\w-])/;

function messageOf(body: unknown): string | undefined {
  if (typeof body === "string") return body;
  if (typeof body !== "object" || body === null) return undefined;
  const { message, error } = body as Record<string, unknown>;
  const text = [message, error].filter((part): part is string => typeof part === "string");
  return text.length > 0 ? text.join(" ") : undefined;
}

/**
 * Whether a 400/422 names the customer type field (either spelling): in
 * `errors[].path`, or, for bodies that carry only a message such as
 * `{"message":"beneficiary_type is required"}`, in `message`.
 */
export function namesCustomerTypeField(error: AlignError): boolean {
  if (error.status !== 400 && error.status !== 422) return false;
  const errors = (error as { errors?: unknown }).errors;
  if (
    Array.isArray(errors) &&
    errors.some((entry: { path?: unknown }) => TYPE_FIELD_NAMES.includes(String((entry.path as unknown[])?.[0])))
  ) {
    return true;
  }
  const message = messageOf(error.body);
  return message !== undefined && NAMES_TYPE_FIELD.test(message);
}

const DUPLICATE = /already|exist|duplicate|taken|in use|unique|registered/i;

/**
 * Whether a 400/422 to a create says the email is already in use: a field
 * error on `email` or a message naming the email, either saying so. Only the
 * SDK docs say 409; recovery must not depend on it.
 */
export function namesDuplicateEmail(error: AlignError): boolean {
  if (error.status !== 400 && error.status !== 422) return false;
  const errors = (error as { errors?: unknown }).errors;
  if (
    Array.isArray(errors) &&
    errors.some(
      (entry: { path?: unknown; message?: unknown }) =>
        Array.isArray(entry.path) && entry.path[0] === "email" && DUPLICATE.test(String(entry.message)),
    )
  ) {
    return true;
  }
  const message = messageOf(error.body);
  return message !== undefined && /e-?mail/i.test(message) && DUPLICATE.test(message);
}

// What a refusal of the key says: Align's own words or API Gateway's ("Missing Authentication Token").
const SPEAKS_OF_AUTH = /authenticat|unauthori[sz]ed|authori[sz]ation|api[-_ ]?key|credential/i;
const AUTH_ERROR_TYPES = /MissingAuthenticationToken|Unauthorized|AccessDenied|InvalidSignature|IncompleteSignature/i;

/**
 * Whether an answer refuses the key itself, so that nothing ran and another
 * auth form may be tried: 401, 403, or a 400 whose body (or API Gateway's
 * `x-amzn-errortype`) speaks of authentication. A 400 about anything else is
 * a judgement of the request and proves the key was read.
 *
 * @example
 * ```ts
 * const response = await fetch(url, { headers: { authorization: key } });
 * const body = await response.json().catch(() => undefined);
 * if (refusesKey(response.status, body, response.headers)) console.log("this form is not read");
 * ```
 */
export function refusesKey(status: number, body: unknown, headers: { get(name: string): string | null }): boolean {
  if (status === 401 || status === 403) return true;
  if (status !== 400) return false;
  if (AUTH_ERROR_TYPES.test(headers.get("x-amzn-errortype") ?? "")) return true;
  const code = typeof body === "object" && body !== null ? (body as Record<string, unknown>).code : undefined;
  const text = [messageOf(body), typeof code === "string" ? code : undefined].filter(Boolean).join(" ");
  return SPEAKS_OF_AUTH.test(text);
}

/** A contested wire detail the client negotiates. */
export const WirePoint = {
  AuthHeader: "auth_header",
  CustomerTypeField: "customer_type_field",
} as const;
export type WirePoint = (typeof WirePoint)[keyof typeof WirePoint];

/** Told once per point when the client learns which variant Align accepts. Carries no secret. */
export interface WireVariantLearned {
  event: "align_wire_variant_learned";
  point: WirePoint;
  variant: string;
  /** How many variants were tried, the working one included. */
  tried: number;
}

/** One contested point: a pinned variant, or candidates tried in order until one works. */
class Negotiation<V extends string> {
  readonly #order: readonly V[];
  readonly #pinned: boolean;
  readonly #point: WirePoint;
  readonly #onLearned: ((event: WireVariantLearned) => void) | undefined;
  #current: number;
  #learned: V | undefined;
  #tried = 1;

  constructor(
    point: WirePoint,
    order: readonly V[],
    pinned: V | undefined,
    onLearned?: (e: WireVariantLearned) => void,
  ) {
    this.#point = point;
    this.#order = order;
    this.#pinned = pinned !== undefined;
    this.#current = pinned === undefined ? 0 : Math.max(0, order.indexOf(pinned));
    this.#learned = pinned;
    this.#onLearned = onLearned;
  }

  /** The variant a new request uses. */
  get current(): V {
    return this.#learned ?? (this.#order[this.#current] as V);
  }

  /** The learned or pinned variant, if any. */
  get learned(): V | undefined {
    return this.#learned;
  }

  /**
   * After a refusal of `used` that names this point: the variant to retry with,
   * or undefined when nothing is left to try (pinned, learned, or no other).
   * The cursor moves on, so a later request starts from the next variant.
   */
  next(used: V): V | undefined {
    if (this.#pinned) return undefined;
    if (this.#learned !== undefined) return used === this.#learned ? undefined : this.#learned;
    this.refused(used);
    const candidate = this.#order[this.#current] as V;
    return candidate === used ? undefined : candidate;
  }

  /** `used` was refused and will not be retried now: a later request starts from the variant after it. */
  refused(used: V): void {
    if (this.#pinned || this.#learned !== undefined) return;
    // Only from the cursor: concurrent refusals of the same variant move it once.
    if (this.#order[this.#current] !== used) return;
    this.#current = (this.#current + 1) % this.#order.length;
    this.#tried += 1;
  }

  /** Align accepted `used`: remember it for the life of this client, and say so once. */
  accepted(used: V): void {
    if (this.#learned !== undefined) return;
    this.#learned = used;
    try {
      this.#onLearned?.({ event: "align_wire_variant_learned", point: this.#point, variant: used, tried: this.#tried });
    } catch {
      // A failing log hook must not fail the request that Align just accepted.
    }
  }
}

/** Pins and the learning hook of a {@link WireNegotiator}. */
export interface WireNegotiatorOptions {
  authHeader?: AuthHeader | undefined;
  customerTypeField?: CustomerTypeField | undefined;
  onLearned?: ((event: WireVariantLearned) => void) | undefined;
}

/**
 * What this client knows about Align's wire dialect. One per `Align`
 * instance: build one client per process (as core does, per cold start) and
 * the learned variants last the process's life. A refusal of the key (401,
 * 403, or a 400 speaking of authentication) proves nothing ran, and a 400
 * proves nothing was created, so retrying with the next variant is safe; any
 * other refusal is never retried for negotiation.
 */
export class WireNegotiator {
  readonly auth: Negotiation<AuthHeader>;
  readonly customerType: Negotiation<CustomerTypeField>;

  constructor(options: WireNegotiatorOptions = {}) {
    this.auth = new Negotiation(WirePoint.AuthHeader, AUTH_HEADER_ORDER, options.authHeader, options.onLearned);
    this.customerType = new Negotiation(
      WirePoint.CustomerTypeField,
      CUSTOMER_TYPE_FIELD_ORDER,
      options.customerTypeField,
      options.onLearned,
    );
  }
}
