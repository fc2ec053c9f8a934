import { customerIdOf, getCustomer, httpHandler, listCustomers, requireCaller } from "@align-onboarding/core";

/** `GET /customers` (the caller's customers) and `GET /customers/{customer_id}` (owner only). */
export const handler = httpHandler("get-customer", async (invocation) => {
  const caller = requireCaller(invocation.request);
  if (invocation.request.pathParameters.customer_id === undefined) return listCustomers(invocation, caller);
  return getCustomer(invocation, caller, customerIdOf(invocation));
});
