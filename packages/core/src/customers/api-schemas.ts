import {
  CorporateCustomerRequestSchema,
  CustomerIdSchema,
  CustomerType,
  IndividualCustomerRequestSchema,
  SimulateAction,
} from "@align-onboarding/align";
import * as z from "zod/mini";
import { WELL_FORMED_TEXT_PATTERN } from "../text.js";

// Built on first use, as the Align schemas are (customer-schemas.ts).

// The other type's field is refused by the schema itself (path = the field), together with every other problem.
const notFor = (field: string, type: CustomerType) =>
  z.optional(z.never({ error: `${field} is not allowed for ${type} customers` }));

/**
 * A stored text field: the Align client's rule for it, refusing first (before
 * its trim) lone surrogates, control characters (NUL, CR/LF, C1) and bidi
 * controls, so what Align stores is exactly what we send and record (a lone
 * surrogate would reach it as U+FFFD). The email's own pattern is ASCII and
 * refuses them already.
 */
function storedText(base: z.ZodMiniString<string>): z.ZodMiniString<string> {
  const def = base._zod.def;
  const wellFormed = z.regex(new RegExp(WELL_FORMED_TEXT_PATTERN, "u"), {
    error: "Must not contain control characters, bidi controls or lone surrogates",
  });
  return base.clone({ ...def, checks: [wellFormed, ...(def.checks ?? [])] });
}

/**
 * `POST /customers`: the Align client's own rules (names by type, email
 * format), as a union discriminated by `type`, refusing the other type's
 * fields and text Align would not store as sent (see {@link storedText}).
 */
export const CreateCustomerBodySchema = z.lazy(() =>
  z.discriminatedUnion(
    "type",
    [
      z.extend(IndividualCustomerRequestSchema.def.getter(), {
        first_name: storedText(IndividualCustomerRequestSchema.def.getter().shape.first_name),
        last_name: storedText(IndividualCustomerRequestSchema.def.getter().shape.last_name),
        company_name: notFor("company_name", CustomerType.Individual),
      }),
      z.extend(CorporateCustomerRequestSchema.def.getter(), {
        company_name: storedText(CorporateCustomerRequestSchema.def.getter().shape.company_name),
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

/**
 * Where Align's KYC flow sends the user back: https, or http to a loopback
 * host only (a device or simulator during development), checked on the text
 * as sent (a URL parser drops tabs and newlines silently), without control
 * characters or lone surrogates.
 */
export const REDIRECT_URI_PATTERN = `^(?=https://|http://(?:127\\.0\\.0\\.1|localhost|\\[::1\\])(?:[:/?#]|$))${WELL_FORMED_TEXT_PATTERN.slice(1)}`;
const REDIRECT_URI_ERROR =
  "Must be an https URL (http only for 127.0.0.1, localhost or [::1]) without control characters";

/** `POST /customers/{customer_id}/kyc-sessions`: the body is optional. */
export const StartKycBodySchema = z.lazy(() =>
  z.object({
    // Not z.url(): it trims and drops tabs and newlines before it checks, so it would pass what we refuse.
    redirect_uri: z.optional(
      z.string({ error: REDIRECT_URI_ERROR }).check(
        z.regex(new RegExp(REDIRECT_URI_PATTERN, "u"), { error: REDIRECT_URI_ERROR }),
        z.refine((uri) => URL.canParse(uri), { error: REDIRECT_URI_ERROR }),
      ),
    ),
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
/**
 * A cursor's form, `<version>.<payload>.<mac>` (customer-store.ts): the signing secret's version
 * (1-16 letters, digits, `-` or `_`), the page's last key as base64url JSON, and 16 bytes of
 * HMAC-SHA256 as base64url (22 characters). Checked here too, so the server refuses exactly what
 * the document's pattern refuses (a MAC with stray characters would otherwise decode the same).
 */
export const CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,16}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{22}$";

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
    cursor: z.optional(
      z
        .string()
        .check(
          z.minLength(1),
          z.maxLength(CURSOR_MAX_LENGTH),
          z.regex(new RegExp(CURSOR_PATTERN), { error: "Invalid cursor" }),
        ),
    ),
  }),
);
export const LIST_CUSTOMERS_FIELDS = ["limit", "cursor"] as const;
