export type { DeliveryOptions } from "./delivery.js";
export { DropPoint, type FaultAction, FaultKind, type FaultSpec } from "./faults.js";
export { AlignRoute } from "./routes.js";
export { type AlignSandbox, type AlignSandboxOptions, startAlignSandbox } from "./server.js";
export type { Delivery, RequestLogEntry, SandboxSnapshot, StoredCustomer, StoredWebhook } from "./state.js";
