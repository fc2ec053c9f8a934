import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Align } from "@align-onboarding/align";
import { type AlignSandbox, type SandboxProfile, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { resetRuntime } from "@align-onboarding/core";
import { cors, functionSettings, routesFor } from "../../../functions/routes.js";
import { type ApiGateway, type LambdaHandler, startApiGateway } from "./api-gateway.js";
import { connectDynamo, startDynamoDbLocal } from "./dynamodb-local.js";
import { type EmbeddedDynamo, ensureStageMarker, ensureTable, startEmbeddedDynamo } from "./embedded-dynamo.js";
import { type JwtSettings, signToken } from "./jwt.js";

/** Defaults shared by `npm start`, `npm run token` and `npm run invoke`. */
export const LocalDefaults = {
  apiPort: 3000,
  alignPort: 3001,
  dynamoPort: 3002,
  sandboxKey: "sandbox-key",
  /** Our signing secret for list cursors locally: a fixed development value, never a deployed one. */
  signingSecrets: "local:local-development-signing-secret-not-for-aws",
  tableName: "align-onboarding-local",
  dataDir: ".data",
  jwt: { secret: "local-dev-secret", issuer: "https://auth.local.align-onboarding", audience: "align-onboarding" },
} as const;

export interface LocalStackOptions {
  /** 0 picks free ports (tests). */
  apiPort?: number;
  alignPort?: number;
  dynamoPort?: number;
  /**
   * Which DynamoDB: dynalite in process (the default, no Java), AWS's DynamoDB
   * Local in a JVM (`local-java`: transactions and ALL_OLD as in AWS; see
   * docs/dynamodb-local.md), or one already running at `endpoint` (left running on close).
   */
  dynamodb?: "dynalite" | "local-java" | { endpoint: string };
  /** Folder for data that survives restarts (DynamoDB and the emulator's state); in memory when absent. */
  dataDir?: string;
  /** Use the real Align API with this key instead of the emulator. */
  alignApiKey?: string;
  alignBaseUrl?: string;
  alignEnvironment?: "sandbox" | "production";
  /** The emulator's API key. */
  sandboxKey?: string;
  /** The emulator's profile (`official` by default; see packages/align-sandbox/README.md). */
  sandboxProfile?: SandboxProfile;
  /** How long the emulator's KYC links work (default 24 h), so tests can expire one quickly. */
  sandboxKycLinkTtlMs?: number;
  jwt?: Partial<JwtSettings>;
  tableName?: string;
  /** Extra environment for the functions, e.g. `KYC_REFRESH_AFTER_SECONDS`. */
  env?: Record<string, string>;
  /** Overrides every function's timeout (and so its idempotency lease), e.g. to test lease expiry quickly. */
  functionTimeoutSeconds?: number;
  /** Register this stack's receiver with the emulator (default true). */
  registerWebhook?: boolean;
  /** Emulator webhook retry settings (tests shorten them). */
  sandboxWebhooks?: { maxAttempts?: number; baseDelayMs?: number; timeoutMs?: number };
  /** Request lines from the gateway. */
  log?: (line: Record<string, string | number>) => void;
  /** Serve the interactive API reference at GET /docs (default true). */
  docs?: boolean;
}

export interface LocalStack {
  apiUrl: string;
  alignUrl: string;
  dynamo: EmbeddedDynamo;
  /** The emulator, unless the real Align API is used. */
  sandbox: AlignSandbox | undefined;
  tableName: string;
  jwt: JwtSettings;
  /** A token for `sub`, accepted by this stack's authorizer. */
  token(sub: string, ttlSeconds?: number): string;
  close(): Promise<void>;
}

const functionsDir = fileURLToPath(new URL("../../../functions/", import.meta.url));

async function loadHandler(name: string): Promise<LambdaHandler> {
  const module = (await import(pathToFileURL(`${functionsDir}${name}.ts`).href)) as { handler?: LambdaHandler };
  if (typeof module.handler !== "function") throw new Error(`functions/${name}.ts exports no handler`);
  return module.handler;
}

/**
 * Points the emulator's deliveries at this stack's receiver, replacing the
 * registrations an earlier run left (its port may have changed).
 */
async function registerWebhook(sandbox: AlignSandbox, apiKey: string, receiverUrl: string): Promise<void> {
  // The stack knows its emulator's dialect: pinned, so only the functions' own client negotiates.
  const align = new Align({ apiKey, baseUrl: sandbox.url, maxRetries: 0, authHeader: sandbox.profile.auth });
  const { items } = await align.webhooks.list();
  for (const webhook of items) {
    if (new URL(webhook.url).hostname === "127.0.0.1" && webhook.url.endsWith("/webhooks/align")) {
      await align.webhooks.delete(webhook.id);
    }
  }
  await align.webhooks.create({ url: receiverUrl });
}

function startDynamo(options: LocalStackOptions): Promise<EmbeddedDynamo> {
  const choice = options.dynamodb ?? "dynalite";
  if (typeof choice === "object") return Promise.resolve(connectDynamo(choice.endpoint));
  if (choice === "local-java") {
    return startDynamoDbLocal({
      port: options.dynamoPort ?? 0,
      // Not dynalite's folder: the two keep their data in different formats.
      ...(options.dataDir ? { dbPath: join(options.dataDir, "dynamodb-local-data") } : {}),
    });
  }
  return startEmbeddedDynamo({
    port: options.dynamoPort ?? 0,
    ...(options.dataDir ? { path: join(options.dataDir, "dynamodb") } : {}),
  });
}

/**
 * Starts the whole system on loopback: dynalite (or DynamoDB Local) with the table, the Align
 * emulator (or the real Align sandbox), and the API Gateway emulator in front
 * of the same handler modules Lambda runs. The functions read their
 * configuration from this process's environment, so one stack runs per process.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  // Lambda runs Node 22+; the SDK's warning about a local Node 20 is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const jwt: JwtSettings = { ...LocalDefaults.jwt, ...options.jwt };
  const tableName = options.tableName ?? LocalDefaults.tableName;
  const alignEnvironment = options.alignEnvironment ?? "sandbox";
  const opened: { close(): Promise<void> }[] = [];
  try {
    const dynamo = await startDynamo(options);
    opened.push(dynamo);
    await ensureTable(dynamo.client, tableName);
    await ensureStageMarker(dynamo.client, tableName, alignEnvironment);

    let sandbox: AlignSandbox | undefined;
    let alignUrl: string;
    let alignKey: string;
    if (options.alignApiKey) {
      alignKey = options.alignApiKey;
      alignUrl = options.alignBaseUrl ?? "";
    } else {
      alignKey = options.sandboxKey ?? LocalDefaults.sandboxKey;
      sandbox = await startAlignSandbox({
        apiKey: alignKey,
        port: options.alignPort ?? 0,
        environment: alignEnvironment,
        ...(options.sandboxProfile ? { profile: options.sandboxProfile } : {}),
        ...(options.sandboxKycLinkTtlMs ? { kycLinkTtlMs: options.sandboxKycLinkTtlMs } : {}),
        ...(options.dataDir ? { dataFile: join(options.dataDir, "align-sandbox.json") } : {}),
        ...(options.sandboxWebhooks ? { webhooks: options.sandboxWebhooks } : {}),
      });
      opened.push(sandbox);
      alignUrl = sandbox.url;
    }

    Object.assign(process.env, {
      ALIGN_API_KEY: alignKey,
      ALIGN_ENVIRONMENT: alignEnvironment,
      TABLE_NAME: tableName,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      // Ours, never the Align key: one set in the environment (a rotation being tried) is kept.
      SIGNING_SECRETS: process.env.SIGNING_SECRETS || LocalDefaults.signingSecrets,
      ...options.env,
    });
    if (alignUrl) process.env.ALIGN_BASE_URL = alignUrl;
    else delete process.env.ALIGN_BASE_URL;
    resetRuntime();

    const gateway: ApiGateway = await startApiGateway({
      routes: routesFor(alignEnvironment),
      cors,
      loadHandler,
      jwt,
      timeoutSeconds: (name) =>
        options.functionTimeoutSeconds ?? functionSettings[name as keyof typeof functionSettings]?.timeoutSeconds ?? 30,
      port: options.apiPort ?? 0,
      docs: options.docs ?? true,
      ...(options.log ? { log: options.log } : {}),
    });
    opened.push(gateway);
    if (sandbox && options.registerWebhook !== false)
      await registerWebhook(sandbox, alignKey, `${gateway.url}/webhooks/align`);

    return {
      apiUrl: gateway.url,
      alignUrl: alignUrl || "(Align sandbox host)",
      dynamo,
      sandbox,
      tableName,
      jwt,
      token: (sub, ttlSeconds) => signToken(jwt, sub, ttlSeconds),
      close: async () => {
        resetRuntime();
        for (const part of opened.reverse()) await part.close();
      },
    };
  } catch (error) {
    for (const part of opened.reverse()) await part.close().catch(() => undefined);
    throw error;
  }
}
