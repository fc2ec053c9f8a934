export { Align, Align as default, type AlignOptions } from "./client.js";
export * from "./customer-schemas.js";
export * from "./errors.js";
export { type FetchLike, httpFetch } from "./http-fetch.js";
export type { CreateKycSessionParams, Customers } from "./resources/customers.js";
export type { Webhooks } from "./resources/webhooks.js";
export { isRetryableNetworkFailure, isRetryableStatus, parseRetryAfter } from "./retry.js";
export { alignRequestId, type RequestOptions } from "./transport.js";
export { toFieldErrors } from "./validation.js";
export { isCustomerKycsUpdatedEvent, parseWebhookEvent } from "./webhook-event.js";
export * from "./webhook-schemas.js";
export { SIGNATURE_HEADER, signPayload, verifySignature } from "./webhook-signature.js";
export {
  AlignEnvironment,
  AUTH_HEADER_ORDER,
  AuthHeader,
  BASE_URLS,
  CUSTOMER_TYPE_FIELD_ORDER,
  CustomerTypeField,
  refusesKey,
  WirePoint,
  type WireVariantLearned,
} from "./wire.js";
export { safeParse } from "./zod.js";
