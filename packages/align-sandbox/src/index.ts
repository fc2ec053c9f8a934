export { KycRefusal, type KycSessions } from "./align-api.js";
export type {
  DeliveryOptions,
  DeliveryRef,
  EventListener,
  PublishedEvent,
  RedeliverOptions,
  SignedRequest,
} from "./delivery.js";
export {
  AuthRefusal,
  type AuthRefusals,
  CreateAnswer,
  type Dialect,
  ValidationBody,
} from "./dialects.js";
export { DropPoint, type FaultAction, FaultKind, type FaultSpec } from "./faults.js";
export {
  DEFAULT_PROFILE,
  EmailFilter,
  isSandboxProfile,
  type ProfileRefusals,
  type ProfileSettings,
  profileRefusals,
  SandboxAuth,
  SandboxProfile,
  SandboxTypeField,
} from "./profiles.js";
export { AlignRoute } from "./routes.js";
export { type AlignSandbox, type AlignSandboxOptions, startAlignSandbox } from "./server.js";
export type {
  Delivery,
  DeliveryAttempt,
  KycSession,
  RequestLogEntry,
  SandboxSnapshot,
  StoredCustomer,
  StoredWebhook,
} from "./state.js";
