import { Align, type FetchLike } from "@align-onboarding/align";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { boundedDynamo, type DynamoSender } from "./conditional-write.js";
import { type Config, loadConfig, requireAlignKey, requireSigningSecrets } from "./config.js";
import { CustomerStore } from "./customers/customer-store.js";
import { IdempotencyStore } from "./idempotency/store.js";
import { Logger } from "./log.js";

/** Everything a handler needs, built once per cold start and reused while warm. */
export interface Runtime {
  config: Config;
  align: Align;
  dynamo: DynamoDBClient;
  customers: CustomerStore;
  idempotency: IdempotencyStore;
  log: Logger;
  /** The same runtime whose stores abort every DynamoDB call at `deadlineMs` (one per invocation). */
  until(deadlineMs: number): Runtime;
}

/** Seams for the simulation and tests; production passes none. */
export interface RuntimeOptions {
  /** The Align client's transport (default: its own keep-alive `node:http` transport). */
  alignFetch?: FetchLike;
  /** The Align client's retries per call (default 2). */
  alignMaxRetries?: number;
}

/** Builds the clients and stores for `config`. */
export function createRuntime(
  config: Config,
  log = new Logger({ service: "align-onboarding" }, config.logLevel),
  options: RuntimeOptions = {},
): Runtime {
  const dynamo = new DynamoDBClient({
    region: config.region,
    maxAttempts: 3,
    // A stalled call must fail (503, retryable) well inside the Lambda's timeout, never hang until it.
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 2_500, throwOnRequestTimeout: true },
    // A local endpoint (dynalite) takes any credentials: fixed ones unless the environment has some.
    // In AWS the role's come from the environment.
    ...(config.dynamoEndpoint ? { endpoint: config.dynamoEndpoint } : {}),
    ...(config.dynamoEndpoint && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } }
      : {}),
  });
  // Built on first use: a function that never calls Align (the sandbox reset) needs no key.
  let align: Align | undefined;
  const alignClient = (): Align =>
    (align ??= new Align({
      apiKey: requireAlignKey(config),
      environment: config.alignEnvironment,
      timeoutMs: config.alignTimeoutMs,
      ...(options.alignFetch ? { fetch: options.alignFetch } : {}),
      ...(options.alignMaxRetries === undefined ? {} : { maxRetries: options.alignMaxRetries }),
      ...(config.alignAuthHeader ? { authHeader: config.alignAuthHeader } : {}),
      ...(config.alignCustomerTypeField ? { customerTypeField: config.alignCustomerTypeField } : {}),
      // Once per process and point: which of Align's contested dialects worked (never the key).
      onWireVariantLearned: ({ event, point, variant, tried }) => log.info(event, { point, variant, tried }),
      ...(config.alignBaseUrl ? { baseUrl: config.alignBaseUrl } : {}),
    }));

  const withStores = (db: DynamoSender): Runtime => ({
    config,
    get align() {
      return alignClient();
    },
    dynamo,
    // List cursors are signed with our own versioned secrets, never the Align key (rotating it voids nothing).
    customers: new CustomerStore(db, config.tableName, () => requireSigningSecrets(config)),
    idempotency: new IdempotencyStore(db, config.tableName, undefined, { transactions: config.dynamoTransactions }),
    log,
    until: (deadlineMs) => withStores(boundedDynamo(dynamo, deadlineMs)),
  });
  return withStores(dynamo);
}

let current: Runtime | undefined;

/**
 * The process-wide runtime, created on first use from the environment (and
 * SST links). Lazy, so importing a handler does no work and a bad config is
 * reported by the first invocation with the variable's name.
 */
export function getRuntime(): Runtime {
  current ??= createRuntime(loadConfig());
  return current;
}

/** Installs `runtime` as the process-wide one (the simulation's, with its seams). */
export function setRuntime(runtime: Runtime): void {
  current = runtime;
}

/** Forgets the runtime (tests, or the local runtime after changing the environment). */
export function resetRuntime(): void {
  current?.dynamo.destroy();
  current = undefined;
}
