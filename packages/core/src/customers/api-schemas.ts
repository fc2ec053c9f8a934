import {
  CorporateCustomerRequestSchema,
  CustomerIdSchema,
  CustomerType,
  IndividualCustomerRequestSchema,
  SimulateAction,
} from "@align-onboarding/align";
import * as z from "zod/mini";

// Built on first use, as the Align schemas are (customer-schemas.ts).

// The other type's field is refused by the schema itself (path = the field), together with every other problem.
const notFor = (field: string, type: CustomerType) =>
  z.optional(z.never({ error: `${field} is not allowed for ${type} customers` }));

/**
 * `POST /customers`: the Align client's own rules (names by type, email
 * format), as a union discriminated by `type`, refusing the other type's fields.
 */
export const CreateCustomerBodySchema = z.lazy(() =>
  z.discriminatedUnion(
    "type",
    [
      z.extend(IndividualCustomerRequestSchema.def.getter(), {
        company_name: notFor("company_name", CustomerType.Individual),
      }),
      z.extend(CorporateCustomerRequestSchema.def.getter(), {
        first_name: notFor("first_name", CustomerType.Corporate),
        last_name: notFor("last_name", CustomerType.Corporate),
      }),
    ],
    { error: "Type must be 'individual' or 'corporate'" },
  ),
);
export type CreateCustomerBody = z.output<typeof CreateCustomerBodySchema>;
/** Any other field is refused (400, path = the field), so a typo never passes silently. */
export const CREATE_CUSTOMER_FIELDS = ["email", "type", "first_name", "last_name", "company_name"] as const;

/** `POST /customers/{customer_id}/kyc-sessions`: the body is optional. */
export const StartKycBodySchema = z.lazy(() =>
  z.object({
    redirect_uri: z.optional(z.url({ protocol: /^https?$/, error: "Must be an http(s) URL" })),
    /** Open a new session even when a recent one is pending (its link may have stopped working). */
    new_session: z.optional(z.boolean({ error: "new_session must be true or false" })),
  }),
);
export type StartKycBody = z.output<typeof StartKycBodySchema>;
export const START_KYC_FIELDS = ["redirect_uri", "new_session"] as const;

/** `POST /sandbox/customers/{customer_id}/simulate`. */
export const SimulateBodySchema = z.lazy(() =>
  z.object({
    action: z.enum([SimulateAction.KycApprove], { error: "Action must be 'kyc.status.approve'" }),
  }),
);
export type SimulateBody = z.output<typeof SimulateBodySchema>;
export const SIMULATE_FIELDS = ["action"] as const;

export const CustomerPathSchema = z.lazy(() => z.object({ customer_id: CustomerIdSchema }));

export const CURSOR_MAX_LENGTH = 2048;

const LIMIT_ERROR = "limit must be an integer from 1 to 100";

/** `GET /customers` query: `limit` is a decimal integer 1..100 (as the document's `integer`), not any number text. */
export const ListCustomersQuerySchema = z.lazy(() =>
  z.object({
    limit: z.pipe(
      z.pipe(
        z.optional(z.string().check(z.regex(/^[0-9]{1,3}$/, { error: LIMIT_ERROR }))),
        z.transform((limit: string | undefined) => (limit === undefined ? 50 : Number(limit))),
      ),
      z.int().check(z.minimum(1, { error: LIMIT_ERROR }), z.maximum(100, { error: LIMIT_ERROR })),
    ),
    cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(CURSOR_MAX_LENGTH))),
  }),
);
export const LIST_CUSTOMERS_FIELDS = ["limit", "cursor"] as const;
