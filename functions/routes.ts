/**
 * The one route table. `sst.config.ts` builds API Gateway routes and Lambda
 * functions from it; the local runtime (`npm start`) serves the same routes
 * with the same handler modules. Keep this file free of imports: the SST
 * config loads it at deploy time.
 */

/** One Lambda per entry: its file is `functions/<name>.ts`, exporting `handler`. */
export const FunctionName = {
  CreateCustomer: "create-customer",
  GetCustomer: "get-customer",
  StartKyc: "start-kyc",
  SandboxSimulate: "sandbox-simulate",
  AlignWebhook: "align-webhook",
  SandboxReset: "sandbox-reset",
  OpenApi: "openapi",
} as const;
export type FunctionName = (typeof FunctionName)[keyof typeof FunctionName];

export interface RouteDefinition {
  method: "GET" | "POST";
  /** API Gateway path syntax: `{name}` for a parameter. */
  path: string;
  function: FunctionName;
  /** `jwt`: API Gateway's JWT authorizer must have verified a token. */
  auth: "jwt" | "none";
  /** Only deployed (and served locally) where the Align environment is `sandbox`. */
  sandboxOnly: boolean;
}

export const routes: readonly RouteDefinition[] = [
  { method: "POST", path: "/customers", function: FunctionName.CreateCustomer, auth: "jwt", sandboxOnly: false },
  { method: "GET", path: "/customers", function: FunctionName.GetCustomer, auth: "jwt", sandboxOnly: false },
  {
    method: "GET",
    path: "/customers/{customer_id}",
    function: FunctionName.GetCustomer,
    auth: "jwt",
    sandboxOnly: false,
  },
  {
    method: "POST",
    path: "/customers/{customer_id}/kyc-sessions",
    function: FunctionName.StartKyc,
    auth: "jwt",
    sandboxOnly: false,
  },
  {
    method: "POST",
    path: "/sandbox/customers/{customer_id}/simulate",
    function: FunctionName.SandboxSimulate,
    auth: "jwt",
    sandboxOnly: true,
  },
  // Align signs deliveries (x-hmac-signature); there is no JWT.
  { method: "POST", path: "/webhooks/align", function: FunctionName.AlignWebhook, auth: "none", sandboxOnly: false },
  // The API's OpenAPI document: no auth, no DynamoDB, no Align.
  { method: "GET", path: "/openapi.json", function: FunctionName.OpenApi, auth: "none", sandboxOnly: false },
];

/** Functions run on a schedule rather than a route. */
/**
 * The API's CORS settings (API Gateway's own, so it answers preflights before
 * any function runs and adds these headers to every answer; the local gateway
 * does the same). Browser and web-view apps call with a bearer token, never
 * cookies, so any origin may; `Authorization` is named because a `*` in
 * Access-Control-Allow-Headers does not cover it. The exposed headers are the
 * ones the document gives a meaning (request id, Retry-After, replays).
 */
export const cors = {
  allowOrigins: ["*"],
  allowMethods: ["GET", "POST"],
  allowHeaders: ["authorization", "content-type", "idempotency-key"],
  exposeHeaders: ["x-request-id", "retry-after", "idempotent-replayed"],
  maxAgeSeconds: 86_400,
} as const;

export interface ScheduleDefinition {
  function: FunctionName;
  /** EventBridge Scheduler expression; the deploy may override it (see sst.config.ts). */
  schedule: `cron(${string})` | `rate(${string})`;
  sandboxOnly: boolean;
}

export const schedules: readonly ScheduleDefinition[] = [
  // Nightly at 03:00 UTC: sandbox data is disposable, and the next day starts clean.
  { function: FunctionName.SandboxReset, schedule: "cron(0 3 * * ? *)", sandboxOnly: true },
];

/**
 * What a function may reach, by SST link name (the name it has in `Resource`).
 * Least privilege: sst.config.ts links each function to these and nothing else.
 */
export const Link = {
  /** The stage's DynamoDB table (SST grants `dynamodb:*` on it and its index). */
  Table: "Table",
  /** The Align API key (an SST secret). */
  AlignApiKey: "AlignApiKey",
  /** The webhook signing secret(s) (an SST secret). */
  AlignWebhookSecret: "AlignWebhookSecret",
  /** Our own versioned signing secrets (list cursors; an SST secret, never the Align key). */
  SigningSecrets: "SigningSecrets",
} as const;
export type Link = (typeof Link)[keyof typeof Link];

/** Per-function Lambda settings. Timeouts stay under API Gateway's 30 s integration limit. */
export const functionSettings: Record<
  FunctionName,
  { timeoutSeconds: number; memoryMb: number; links: readonly Link[] }
> = {
  "create-customer": { timeoutSeconds: 20, memoryMb: 512, links: [Link.Table, Link.AlignApiKey] },
  "get-customer": { timeoutSeconds: 10, memoryMb: 512, links: [Link.Table, Link.AlignApiKey, Link.SigningSecrets] },
  "start-kyc": { timeoutSeconds: 20, memoryMb: 512, links: [Link.Table, Link.AlignApiKey] },
  "sandbox-simulate": { timeoutSeconds: 20, memoryMb: 512, links: [Link.Table, Link.AlignApiKey] },
  // The webhook secret defaults to the API key (Align signs with it), so the receiver has both.
  "align-webhook": {
    timeoutSeconds: 20,
    memoryMb: 512,
    links: [Link.Table, Link.AlignApiKey, Link.AlignWebhookSecret],
  },
  // Not behind API Gateway, so it may run for Lambda's full 15 minutes. It never calls Align, but
  // packages/core/src/config.ts requires ALIGN_API_KEY of every function that builds the runtime,
  // so the key stays linked until that check moves to the Align client's first use.
  "sandbox-reset": { timeoutSeconds: 900, memoryMb: 1024, links: [Link.Table] },
  // The OpenAPI document is built from the schemas alone: no table, no secret.
  openapi: { timeoutSeconds: 5, memoryMb: 256, links: [] },
};

/** The schedules that exist for an Align environment. */
export function schedulesFor(environment: "sandbox" | "production"): ScheduleDefinition[] {
  return schedules.filter((schedule) => environment === "sandbox" || !schedule.sandboxOnly);
}

/** The routes that exist for an Align environment. */
export function routesFor(environment: "sandbox" | "production"): RouteDefinition[] {
  return routes.filter((route) => environment === "sandbox" || !route.sandboxOnly);
}
