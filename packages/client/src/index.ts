export type * from "./api-types.js";
export {
  AlignOnboarding,
  AlignOnboarding as default,
  type AlignOnboardingOptions,
  type CallOptions,
  type FetchLike,
  type MutationOptions,
  type TokenProvider,
} from "./client.js";
export {
  ApiAbortError,
  ApiConnectionError,
  ApiError,
  type ApiErrorInit,
  ApiTimeoutError,
  type FieldError,
  GatewayError,
  KycWaitTimeoutError,
} from "./errors.js";
export { newIdempotencyKey } from "./idempotency-key.js";
export type { Customers, KycStatus, ListCustomersParams, WaitForKycStatusOptions } from "./resources/customers.js";
export type { Sandbox } from "./resources/sandbox.js";
export { isRetryable, parseRetryAfter } from "./retry.js";
