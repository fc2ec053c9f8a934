export { type Caller, requireCaller } from "./auth.js";
export { now, setClock } from "./clock.js";
export {
  type Config,
  ConfigError,
  loadConfig,
  requireAlignKey,
  requireSigningSecrets,
  type SigningSecret,
} from "./config.js";
export * from "./customers/api-schemas.js";
export { type CustomerRecord, CustomerStore } from "./customers/customer-store.js";
export * from "./customers/response-schemas.js";
export {
  createCustomer,
  customerIdOf,
  getCustomer,
  listCustomers,
  ownedCustomer,
  requireSandbox,
  simulate,
  startKyc,
} from "./customers/service.js";
export { MAX_BODY_BYTES, type ParsedBody, parseJsonBody } from "./http/body.js";
export { httpHandler, type Invocation, type RouteHandler } from "./http/handler.js";
export { PROBLEM_TYPE_PREFIX, type ProblemCode, ProblemError, Problems } from "./http/problem.js";
export type { ApiEvent, HttpRequest } from "./http/request.js";
export { type ApiResult, jsonResult, problemResult } from "./http/response.js";
export { toProblem } from "./http/to-problem.js";
export {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENCY_KEY_PATTERN,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  requireIdempotencyKey,
} from "./idempotency/key.js";
export { REPLAYED_HEADER } from "./idempotency/run.js";
export { BEGIN_CONDITION, IDEMPOTENCY_TTL_SECONDS, IdempotencyStore } from "./idempotency/store.js";
export { Logger, type LogSink, setLogSink } from "./log.js";
export { emfLine, LOCAL_STAGE, METRICS_NAMESPACE, Metric, metricsStage } from "./metrics.js";
export { Audience, buildOpenApi, type OpenApiOptions, type OpenApiRoute } from "./openapi.js";
export { createRuntime, getRuntime, type Runtime, type RuntimeOptions, resetRuntime, setRuntime } from "./runtime.js";
export { type ResetOptions, type ResetReport, resetSandboxData, SandboxResetRefusedError } from "./sandbox-reset.js";
export { ItemKind, TableKeys, tableDefinition } from "./table.js";
export { isWellFormedSubject, isWellFormedText, MAX_SUBJECT_LENGTH, WELL_FORMED_TEXT_PATTERN } from "./text.js";
export {
  MAX_WEBHOOK_BYTES,
  parseDelivery,
  receiveWebhook,
  verifyDelivery,
  type WebhookOutcome,
} from "./webhooks/service.js";
