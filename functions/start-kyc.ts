import {
  customerIdOf,
  httpHandler,
  parseJsonBody,
  requireCaller,
  requireIdempotencyKey,
  START_KYC_FIELDS,
  StartKycBodySchema,
  startKyc,
} from "@align-onboarding/core";

/** `POST /customers/{customer_id}/kyc-sessions` (Idempotency-Key required): 201 `{ kycs }`. */
export const handler = httpHandler("start-kyc", async (invocation) => {
  const caller = requireCaller(invocation.request);
  const customerId = customerIdOf(invocation);
  const key = requireIdempotencyKey(invocation.request);
  const body = parseJsonBody(invocation.request, StartKycBodySchema, START_KYC_FIELDS, { optional: true });
  return startKyc(invocation, caller, customerId, key, body);
});
