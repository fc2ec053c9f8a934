import {
  CorporateCustomerRequestSchema,
  CustomerIdSchema,
  CustomerType,
  IndividualCustomerRequestSchema,
  SimulateAction,
} from "@align-onboarding/align";
import * as z from "zod";

// The other type's field is refused by the schema itself (path = the field), together with every other problem.
const notFor = (field: string, type: CustomerType) =>
  z.never({ error: `${field} is not allowed for ${type} customers` }).optional();

/**
 * `POST /customers`: the Align client's own rules (names by type, email
 * format), as a union discriminated by `type`, refusing the other type's fields.
 */
export const CreateCustomerBodySchema = z.discriminatedUnion(
  "type",
  [
    IndividualCustomerRequestSchema.extend({ company_name: notFor("company_name", CustomerType.Individual) }),
    CorporateCustomerRequestSchema.extend({
      first_name: notFor("first_name", CustomerType.Corporate),
      last_name: notFor("last_name", CustomerType.Corporate),
    }),
  ],
  { error: "Type must be 'individual' or 'corporate'" },
);
export type CreateCustomerBody = z.output<typeof CreateCustomerBodySchema>;
/** Any other field is refused (400, path = the field), so a typo never passes silently. */
export const CREATE_CUSTOMER_FIELDS = ["email", "type", "first_name", "last_name", "company_name"] as const;

/** `POST /customers/{customer_id}/kyc-sessions`: the body is optional. */
export const StartKycBodySchema = z.object({
  redirect_uri: z.url({ protocol: /^https?$/, error: "Must be an http(s) URL" }).optional(),
  /** Open a new session even when a recent one is pending (its link may have stopped working). */
  new_session: z.boolean({ error: "new_session must be true or false" }).optional(),
});
export type StartKycBody = z.output<typeof StartKycBodySchema>;
export const START_KYC_FIELDS = ["redirect_uri", "new_session"] as const;

/** `POST /sandbox/customers/{customer_id}/simulate`. */
export const SimulateBodySchema = z.object({
  action: z.enum([SimulateAction.KycApprove], { error: "Action must be 'kyc.status.approve'" }),
});
export type SimulateBody = z.output<typeof SimulateBodySchema>;
export const SIMULATE_FIELDS = ["action"] as const;

export const CustomerPathSchema = z.object({ customer_id: CustomerIdSchema });

export const CURSOR_MAX_LENGTH = 2048;

/** `GET /customers` query: `limit` is a decimal integer 1..100 (as the document's `integer`), not any number text. */
export const ListCustomersQuerySchema = z.object({
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, { error: "limit must be an integer from 1 to 100" })
    .optional()
    .transform((limit) => (limit === undefined ? 50 : Number(limit)))
    .pipe(
      z
        .int()
        .min(1, { error: "limit must be an integer from 1 to 100" })
        .max(100, { error: "limit must be an integer from 1 to 100" }),
    ),
  cursor: z.string().min(1).max(CURSOR_MAX_LENGTH).optional(),
});
export const LIST_CUSTOMERS_FIELDS = ["limit", "cursor"] as const;
