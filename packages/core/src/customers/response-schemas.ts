import { SimulateAction } from "@align-onboarding/align";
import * as z from "zod";
import { type ProblemCode, Problems } from "../http/problem.js";
import type { WebhookOutcome } from "../webhooks/service.js";
import { API_CUSTOMER_TYPES, API_KYC_STATUSES } from "./api-values.js";

/**
 * What our API answers, as closed schemas: the OpenAPI document is generated
 * from them (`additionalProperties: false`), and the API tests validate every
 * response against that document. Closed, because a generated client should
 * type a misspelled field as an error, not as `unknown`; a new field is a new
 * document version, and clients must still ignore fields they do not know
 * (packages/client does not validate responses at run time).
 */

export { API_CUSTOMER_TYPES, API_KYC_STATUSES };

export const KycStatusLineSchema = z.strictObject({
  currency: z.string(),
  payment_rails: z.string(),
  status: z.string(),
});

export const KycsResponseSchema = z
  .strictObject({
    status: z.enum(API_KYC_STATUSES),
    sub_status: z.string().nullable().optional(),
    kyc_flow_link: z.string().nullable().optional(),
    status_breakdown: z.array(KycStatusLineSchema).nullable().optional(),
  })
  .meta({ description: "KYC state. A status Align adds later reads as `pending` until this document lists it." });
export type KycsResponse = z.output<typeof KycsResponseSchema>;

export const CustomerResponseSchema = z.strictObject({
  customer_id: z.string().min(1),
  email: z.string(),
  type: z.enum(API_CUSTOMER_TYPES).optional(),
  first_name: z.string().nullable().optional(),
  last_name: z.string().nullable().optional(),
  company_name: z.string().nullable().optional(),
  kycs: KycsResponseSchema.nullable().meta({ description: "`null` until KYC starts" }),
  stale: z
    .literal(true)
    .optional()
    .meta({ description: "Present (true) when Align could not be reached to refresh the status" }),
});
export type CustomerResponse = z.output<typeof CustomerResponseSchema>;

export const CustomerListResponseSchema = z.strictObject({
  items: z.array(CustomerResponseSchema),
  next_cursor: z.string().min(1).optional().meta({ description: "Pass as `cursor` for the next page" }),
});

export const KycSessionResponseSchema = z.strictObject({ kycs: KycsResponseSchema });

export const SimulateResponseSchema = z.strictObject({
  customer_id: z.string().min(1),
  action: z.enum([SimulateAction.KycApprove]),
});

const WEBHOOK_OUTCOMES = [
  "processed",
  "duplicate",
  "stale",
  "unknown_customer",
  "ignored_event_type",
  "entity_mismatch",
] as const satisfies readonly WebhookOutcome[];

export const WebhookAckSchema = z.strictObject({
  received: z.literal(true),
  outcome: z.enum(WEBHOOK_OUTCOMES),
});

export const FieldErrorSchema = z.strictObject({ path: z.array(z.string()), message: z.string() });

/** RFC 9457 problem details, as every error of our functions. */
export const ProblemSchema = z.strictObject({
  type: z.string().meta({ description: "`urn:align-onboarding:problem:<code>`" }),
  title: z.string(),
  status: z.int(),
  code: z.enum(Object.keys(Problems) as [ProblemCode, ...ProblemCode[]]),
  detail: z.string().optional(),
  errors: z.array(FieldErrorSchema).optional(),
  customer_id: z
    .string()
    .optional()
    .meta({ description: "With `email_already_exists`, when the caller owns that customer" }),
  request_id: z.string(),
});

/**
 * API Gateway's own answers (401 for a refused token, 404 for no route, 429
 * when throttled, 500/503 when the function failed or timed out): HTTP APIs
 * cannot change them, so they carry neither `code` nor `request_id`.
 */
export const GatewayMessageSchema = z.strictObject({ message: z.string() });
