/**
 * `npm run invoke -- <function> [--event file.json] [--timeout seconds]`: invokes one function
 * once, as `sam local invoke` does, with a sample event (packages/local/events)
 * or yours, against the running `npm start` stack (or the endpoints in the
 * environment). Prints the result on stdout; the function's logs go to stderr.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { setLogSink } from "@align-onboarding/core";
import { FunctionName, functionSettings } from "../../../../functions/routes.js";
import { LocalDefaults } from "../stack.js";

const names = Object.values(FunctionName) as string[];
function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { event: { type: "string", short: "e" }, timeout: { type: "string", short: "t" } },
  });
} catch (error) {
  fail(
    `${error instanceof Error ? error.message : String(error)}\nusage: npm run invoke -- <function> [--event file.json] [--timeout seconds]`,
  );
}
const [name] = parsed.positionals;
if (!name || !names.includes(name))
  fail(`usage: npm run invoke -- <function> [--event file.json] [--timeout seconds]\nfunctions: ${names.join(", ")}`);
const functionName = name as FunctionName;

const eventPath =
  typeof parsed.values.event === "string"
    ? parsed.values.event
    : new URL(`../../events/${functionName}.json`, import.meta.url);
let event: unknown;
try {
  event = JSON.parse(readFileSync(eventPath, "utf8"));
} catch (error) {
  fail(`Cannot read the event ${String(eventPath)}: ${error instanceof Error ? error.message : String(error)}`);
}

// Point the function at the local stack unless told otherwise.
const env = process.env;
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
env.TABLE_NAME ??= LocalDefaults.tableName;
env.SIGNING_SECRETS ||= LocalDefaults.signingSecrets;
env.DYNAMODB_ENDPOINT ??= `http://127.0.0.1:${env.DYNAMODB_PORT || LocalDefaults.dynamoPort}`;
if (!env.ALIGN_API_KEY) {
  env.ALIGN_API_KEY = env.ALIGN_SANDBOX_KEY || LocalDefaults.sandboxKey;
  env.ALIGN_BASE_URL ??= `http://127.0.0.1:${env.ALIGN_SANDBOX_PORT || LocalDefaults.alignPort}`;
}

try {
  await fetch(env.DYNAMODB_ENDPOINT, { signal: AbortSignal.timeout(2_000) });
} catch {
  fail(
    `DynamoDB is not reachable at ${env.DYNAMODB_ENDPOINT}: start the stack with \`npm start\` first (or set DYNAMODB_ENDPOINT).`,
  );
}

setLogSink((line) => process.stderr.write(`${line}\n`));
const module = (await import(`../../../../functions/${functionName}.ts`)) as {
  handler: (event: unknown, context: unknown) => Promise<unknown>;
};
const timeoutSeconds =
  typeof parsed.values.timeout === "string"
    ? Number(parsed.values.timeout)
    : functionSettings[functionName].timeoutSeconds;
if (!(timeoutSeconds > 0)) fail("--timeout must be a positive number of seconds");
const timeoutMs = timeoutSeconds * 1000;
const deadline = Date.now() + timeoutMs;
try {
  const result = await module.handler(event, {
    awsRequestId: `invoke-${Date.now().toString(36)}`,
    functionName,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
} catch (error) {
  // As Lambda reports a function error: its type and message, no stack.
  fail(`${functionName} failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
}
