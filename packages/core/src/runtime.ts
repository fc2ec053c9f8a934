import { Align } from "@align-onboarding/align";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type Config, loadConfig } from "./config.js";
import { CustomerStore } from "./customers/customer-store.js";
import { IdempotencyStore } from "./idempotency/store.js";
import { Logger } from "./log.js";
import { ReceiptStore } from "./webhooks/receipt-store.js";

/** Everything a handler needs, built once per cold start and reused while warm. */
export interface Runtime {
  config: Config;
  align: Align;
  dynamo: DynamoDBClient;
  customers: CustomerStore;
  idempotency: IdempotencyStore;
  receipts: ReceiptStore;
  log: Logger;
}

/** Builds the clients and stores for `config`. */
export function createRuntime(
  config: Config,
  log = new Logger({ service: "align-onboarding" }, config.logLevel),
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
  const align = new Align({
    apiKey: config.alignApiKey,
    environment: config.alignEnvironment,
    timeoutMs: config.alignTimeoutMs,
    ...(config.alignBaseUrl ? { baseUrl: config.alignBaseUrl } : {}),
  });
  return {
    config,
    align,
    dynamo,
    customers: new CustomerStore(dynamo, config.tableName),
    idempotency: new IdempotencyStore(dynamo, config.tableName),
    receipts: new ReceiptStore(dynamo, config.tableName),
    log,
  };
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

/** Forgets the runtime (tests, or the local runtime after changing the environment). */
export function resetRuntime(): void {
  current?.dynamo.destroy();
  current = undefined;
}
