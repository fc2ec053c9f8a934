import * as z from "zod/mini";
import { once } from "./zod.js";

/** Customer types Align accepts on create. */
export const CustomerType = {
  Individual: "individual",
  Corporate: "corporate",
} as const;
export type CustomerType = (typeof CustomerType)[keyof typeof CustomerType];

/** KYC statuses Align documents; responses may carry others, kept as strings. */
export const KycStatus = {
  Pending: "pending",
  Approved: "approved",
  Rejected: "rejected",
} as const;
export type KycStatus = (typeof KycStatus)[keyof typeof KycStatus];

/** Simulation actions of the sandbox (`POST /v0/customers/simulate`). */
export const SimulateAction = {
  KycApprove: "kyc.status.approve",
} as const;
export type SimulateAction = (typeof SimulateAction)[keyof typeof SimulateAction];

// Every exported schema is built on first use (`z.lazy`), not at import: a function's bundle holds many
// (the client's every resource), and its first request parses with a few. Errors, paths and JSON Schema
// are the inner schema's.

/**
 * Align ids are UUIDs. The check is the 8-4-4-4-12 hex shape without the RFC
 * version/variant bits, so an id Align mints in another UUID flavour still passes.
 */
export const CustomerIdSchema = z.lazy(() => z.guid({ error: "Must be a UUID" }));

/**
 * One email rule for the Align client, our API and its OpenAPI document: a
 * dot-atom local part of 1 to 64 characters (RFC 5321's limit) from the
 * characters below, `@`, a domain of 1-63 character labels and an alphabetic
 * TLD, 254 characters at most. It is a subset of what JSON Schema's `email`
 * format (RFC 5321 mailbox) allows, so a document stating `format: email` plus
 * this pattern accepts exactly what the server does.
 */
export const EMAIL_PATTERN =
  /^(?=[^@]{1,64}@)[A-Za-z0-9_'+-]+(?:\.[A-Za-z0-9_'+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
export const MAX_EMAIL_LENGTH = 254;

export const EmailSchema = z.lazy(() =>
  z
    .email({
      pattern: EMAIL_PATTERN,
      error: (issue) => (issue.input === undefined ? "Email is required" : "Invalid email format"),
    })
    .check(z.maxLength(MAX_EMAIL_LENGTH, { error: `Email must be at most ${MAX_EMAIL_LENGTH} characters` })),
);

/** Align publishes no length limits; 255 is our assumption (docs/api.md, "Contract decisions"). */
export const MAX_NAME_LENGTH = 255;

const name = (label: string, field: string, type: CustomerType) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined || issue.input === null
          ? `${field} is required for ${type} customers`
          : `${label} must be a string`,
    })
    // The limit is on the text as sent, then it is trimmed and must keep a character: so the OpenAPI
    // document's maxLength and its "not only whitespace" pattern say exactly what is accepted.
    .check(
      z.maxLength(MAX_NAME_LENGTH, { error: `${label} must be at most ${MAX_NAME_LENGTH} characters` }),
      z.trim(),
      z.minLength(1, { error: `${label} must not be empty` }),
    );

const individualObject = once(() =>
  z.object({
    email: EmailSchema,
    type: z.literal(CustomerType.Individual),
    first_name: name("First name", "first_name", CustomerType.Individual),
    last_name: name("Last name", "last_name", CustomerType.Individual),
  }),
);
const corporateObject = once(() =>
  z.object({
    email: EmailSchema,
    type: z.literal(CustomerType.Corporate),
    company_name: name("Company name", "company_name", CustomerType.Corporate),
  }),
);

/** An individual: first and last name. */
export const IndividualCustomerRequestSchema = z.lazy(individualObject);

/** A corporate: a company name. */
export const CorporateCustomerRequestSchema = z.lazy(corporateObject);

/**
 * Body of `customers.create`, a union discriminated by `type`: names for
 * individuals, `company_name` for corporates; the variant's problems are
 * reported together. Unknown fields, including the other type's, are stripped,
 * so Align never receives them.
 */
export const CreateCustomerRequestSchema = z.lazy(() =>
  z.discriminatedUnion("type", [individualObject(), corporateObject()], {
    error: "Type must be 'individual' or 'corporate'",
  }),
);
export type CreateCustomerRequest = z.input<typeof CreateCustomerRequestSchema>;

export const GetCustomerParamsSchema = z.lazy(() => z.object({ customer_id: CustomerIdSchema }));

export const ListCustomersParamsSchema = z.lazy(() => z.object({ email: EmailSchema }));
export type ListCustomersParams = z.input<typeof ListCustomersParamsSchema>;

export const CreateKycSessionParamsSchema = z.lazy(() =>
  z.object({
    customer_id: CustomerIdSchema,
    redirect_uri: z.optional(z.url({ error: "Must be an absolute URL" })),
  }),
);

export const SimulateCustomerRequestSchema = z.lazy(() =>
  z.object({
    customer_id: CustomerIdSchema,
    action: z.enum([SimulateAction.KycApprove], { error: "Action must be 'kyc.status.approve'" }),
  }),
);
export type SimulateCustomerRequest = z.input<typeof SimulateCustomerRequestSchema>;

/** One currency/rail line of a KYC decision. */
export const KycStatusBreakdownSchema = z.lazy(() =>
  z.looseObject({
    currency: z.string(),
    payment_rails: z.string(),
    status: z.string(),
  }),
);
export type KycStatusBreakdown = z.infer<typeof KycStatusBreakdownSchema>;

const kycsObject = once(() =>
  z.looseObject({
    status: z.string(),
    sub_status: z.nullish(z.string()),
    kyc_flow_link: z.nullish(z.string()),
    status_breakdown: z.nullish(z.array(KycStatusBreakdownSchema)),
  }),
);

/**
 * A customer's KYC state. Parsed leniently: unknown fields are kept and the
 * status is any string, so a new Align value never breaks onboarding.
 */
export const KycsSchema = z.lazy(kycsObject);
export type Kycs = z.infer<typeof KycsSchema>;

const customerObject = once(() =>
  z.looseObject({
    customer_id: z.string().check(z.minLength(1)),
    email: z.string(),
    type: z.optional(z.string()),
    beneficiary_type: z.optional(z.string()),
    first_name: z.nullish(z.string()),
    last_name: z.nullish(z.string()),
    company_name: z.nullish(z.string()),
    kycs: z.nullish(KycsSchema),
  }),
);

/**
 * A customer as Align returns it. Lenient: unknown fields are kept, `kycs` is
 * null until KYC starts, and `type` falls back to `beneficiary_type`.
 */
export const CustomerObjectSchema = z.lazy(customerObject);

/** {@link CustomerObjectSchema}, normalised: `kycs` null until KYC starts, `type` from `beneficiary_type` if needed. */
export const CustomerSchema = z.lazy(() =>
  z.pipe(
    customerObject(),
    z.transform(({ kycs, type, ...rest }: z.output<ReturnType<typeof customerObject>>) => {
      const resolved = type ?? rest.beneficiary_type;
      return { ...rest, ...(resolved === undefined ? {} : { type: resolved }), kycs: kycs ?? null };
    }),
  ),
);
export type Customer = z.infer<typeof CustomerSchema>;

export const CustomerListSchema = z.lazy(() => z.looseObject({ items: z.array(CustomerSchema) }));
export type CustomerList = z.infer<typeof CustomerListSchema>;

/**
 * The answer to starting KYC. Official pages show `{ kycs: { status,
 * kyc_flow_link } }`, the SDK's docs only `kyc_flow_link`: a missing status is
 * a session just opened, so `pending`.
 */
export const KycSessionSchema = z.lazy(() =>
  z.looseObject({
    kycs: z.pipe(
      z.extend(kycsObject(), { status: z.optional(z.string()) }),
      z.transform(({ status, ...rest }: z.output<ReturnType<typeof kycsObject>> & { status?: string | undefined }) => ({
        ...rest,
        status: status ?? KycStatus.Pending,
      })),
    ),
  }),
);
export type KycSession = z.infer<typeof KycSessionSchema>;

export const SimulateCustomerResponseSchema = z.lazy(() => z.looseObject({}));
export type SimulateCustomerResponse = z.infer<typeof SimulateCustomerResponseSchema>;
