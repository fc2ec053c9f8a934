import {
  customerIdOf,
  httpHandler,
  parseJsonBody,
  requireCaller,
  requireIdempotencyKey,
  requireSandbox,
  SIMULATE_FIELDS,
  SimulateBodySchema,
  simulate,
} from "@align-onboarding/core";

/** `POST /sandbox/customers/{customer_id}/simulate` (sandbox only; Idempotency-Key required). */
export const handler = httpHandler("sandbox-simulate", async (invocation) => {
  requireSandbox(invocation);
  const caller = requireCaller(invocation.request);
  const customerId = customerIdOf(invocation);
  const key = requireIdempotencyKey(invocation.request);
  const body = parseJsonBody(invocation.request, SimulateBodySchema, SIMULATE_FIELDS);
  return simulate(invocation, caller, customerId, key, body);
});
