import {
  CREATE_CUSTOMER_FIELDS,
  CreateCustomerBodySchema,
  createCustomer,
  httpHandler,
  parseJsonBody,
  requireCaller,
  requireIdempotencyKey,
} from "@align-onboarding/core";

/** `POST /customers` (Idempotency-Key required): 201 with the new customer. */
export const handler = httpHandler("create-customer", async (invocation) => {
  const caller = requireCaller(invocation.request);
  const key = requireIdempotencyKey(invocation.request);
  const body = parseJsonBody(invocation.request, CreateCustomerBodySchema, CREATE_CUSTOMER_FIELDS);
  return createCustomer(invocation, caller, key, body);
});
