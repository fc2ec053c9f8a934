export type * from "./api-types.js";
export {
  AlignOnboarding,
  AlignOnboarding as default,
  type AlignOnboardingOptions,
  type ApiPromise,
  type CallOptions,
  type FetchLike,
  type MutationOptions,
  type TokenProvider,
  type WithResponse,
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
export { NoRandomSourceError, newIdempotencyKey } from "./idempotency-key.js";
export type {
  CustomerListPromise,
  Customers,
  KycStatus,
  ListCustomersParams,
  StartKycOptions,
  WaitForKycStatusOptions,
} from "./resources/customers.js";
export type { Sandbox } from "./resources/sandbox.js";
export { isRetryable, parseRetryAfter } from "./retry.js";
