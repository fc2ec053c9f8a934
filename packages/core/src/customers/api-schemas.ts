import { CreateCustomerRequestSchema, CustomerIdSchema, SimulateAction } from "@align-onboarding/align";
import * as z from "zod/mini";

/** `POST /customers`: the Align client's own rules (names by type, email format). */
export const CreateCustomerBodySchema = CreateCustomerRequestSchema;
export type CreateCustomerBody = z.output<typeof CreateCustomerBodySchema>;
/** Any other field is refused (400, path = the field), so a typo never passes silently. */
export const CREATE_CUSTOMER_FIELDS = ["email", "type", "first_name", "last_name", "company_name"] as const;

// Built on first use, as the Align schemas are (customer-schemas.ts).

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

/** `GET /customers` query. */
export const ListCustomersLimitSchema = z.lazy(() =>
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)), 50),
);
export const ListCustomersQuerySchema = z.lazy(() =>
  z.object({
    limit: ListCustomersLimitSchema,
    cursor: z.optional(z.string().check(z.minLength(1), z.maxLength(2048))),
  }),
);
export const LIST_CUSTOMERS_FIELDS = ["limit", "cursor"] as const;
