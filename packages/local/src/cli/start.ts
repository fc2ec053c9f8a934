/**
 * `npm start`: the whole system on this machine. See docs/local-runtime.md.
 */
import { isSandboxProfile } from "@align-onboarding/align-sandbox";
import { DynamoDbLocalUnavailableError } from "../dynamodb-local.js";
import { LocalDefaults, startLocalStack } from "../stack.js";

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    console.error(`${name} must be a port number (got "${raw}")`);
    process.exit(1);
  }
  return value;
}

const realAlignKey = process.env.ALIGN_API_KEY || undefined;
const environment = process.env.ALIGN_ENVIRONMENT === "production" ? "production" : "sandbox";
const profile = process.env.ALIGN_SANDBOX_PROFILE || undefined;
if (profile !== undefined && !isSandboxProfile(profile)) {
  console.error(`ALIGN_SANDBOX_PROFILE must be official, sdk or legacy (got "${profile}")`);
  process.exit(1);
}
// DYNAMODB=local-java: AWS's DynamoDB Local (Java) instead of dynalite, with transactions on as in AWS.
const dynamodb = process.env.DYNAMODB || "dynalite";
if (dynamodb !== "dynalite" && dynamodb !== "local-java") {
  console.error(`DYNAMODB must be dynalite or local-java (got "${dynamodb}")`);
  process.exit(1);
}
const passthrough = [
  "KYC_REFRESH_AFTER_SECONDS",
  "LOG_LEVEL",
  "ALIGN_TIMEOUT_MS",
  "ALIGN_WEBHOOK_SECRET",
  "ALIGN_AUTH_HEADER",
  "ALIGN_CUSTOMER_TYPE_FIELD",
  "DYNAMODB_TRANSACTIONS",
];

try {
  const stack = await startLocalStack({
    apiPort: port("PORT", LocalDefaults.apiPort),
    alignPort: port("ALIGN_SANDBOX_PORT", LocalDefaults.alignPort),
    dynamoPort: port("DYNAMODB_PORT", LocalDefaults.dynamoPort),
    dynamodb,
    dataDir: process.env.DATA_DIR || LocalDefaults.dataDir,
    alignEnvironment: environment,
    sandboxKey: process.env.ALIGN_SANDBOX_KEY || LocalDefaults.sandboxKey,
    ...(profile ? { sandboxProfile: profile } : {}),
    ...(realAlignKey ? { alignApiKey: realAlignKey } : {}),
    ...(process.env.ALIGN_BASE_URL ? { alignBaseUrl: process.env.ALIGN_BASE_URL } : {}),
    jwt: {
      ...(process.env.LOCAL_JWT_SECRET ? { secret: process.env.LOCAL_JWT_SECRET } : {}),
      ...(process.env.JWT_ISSUER ? { issuer: process.env.JWT_ISSUER } : {}),
      ...(process.env.JWT_AUDIENCE ? { audience: process.env.JWT_AUDIENCE } : {}),
    },
    env: {
      ...(dynamodb === "local-java" ? { DYNAMODB_TRANSACTIONS: "true" } : {}),
      ...Object.fromEntries(
        passthrough.flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])),
      ),
    },
    log: (line) => console.log(JSON.stringify({ source: "api-gateway", ...line })),
  });
  const token = stack.token("dev-user");
  console.log(`
align-onboarding is running (Align environment: ${environment})
  API             ${stack.apiUrl}
  API reference   ${stack.apiUrl}/docs  (Authorize with the token below, then "Try it out")
  Align           ${realAlignKey ? "the real Align sandbox (ALIGN_API_KEY is set)" : `${stack.alignUrl}  (emulator; admin at /_emulator/state)`}
  DynamoDB        ${stack.dynamo.endpoint}  (${dynamodb === "local-java" ? "DynamoDB Local, transactions on" : "dynalite"}, table ${stack.tableName}, data in ${process.env.DATA_DIR || LocalDefaults.dataDir})

A token for sub "dev-user", valid 24 h (another: npm run --silent token -- <sub>):
  export TOKEN=${token}

Try \`npm run demo\` (the whole onboarding), the OpenAPI document at ${stack.apiUrl}/openapi.json, or:
  curl -s ${stack.apiUrl}/customers -H "authorization: Bearer $TOKEN" -H "content-type: application/json" \\
    -H "idempotency-key: $(uuidgen 2>/dev/null || date +%s%N)" \\
    -d '{"email":"alice@example.com","type":"individual","first_name":"Alice","last_name":"Smith"}'

Ctrl-C stops everything.
`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    stack.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
} catch (error) {
  const code = (error as { code?: string }).code;
  if (code === "EADDRINUSE") {
    console.error(
      `A port is already in use (${(error as { port?: number }).port ?? "?"}): stop the other process or set PORT, ALIGN_SANDBOX_PORT, DYNAMODB_PORT`,
    );
  } else if (error instanceof DynamoDbLocalUnavailableError) {
    console.error(`Could not start DynamoDB Local (DYNAMODB=local-java): ${error.message}`);
  } else if (code === "LEVEL_DATABASE_NOT_OPEN" || code === "LEVEL_LOCKED") {
    console.error("The DynamoDB data folder is locked: is another `npm start` running?");
  } else {
    console.error(`Could not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  process.exit(1);
}
