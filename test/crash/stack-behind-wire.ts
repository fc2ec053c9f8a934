/**
 * The crash test's stack: what `npm start` runs (packages/local/src/cli/start.ts),
 * except that the functions reach the table through the crash test's wire
 * proxy (`CRASH_DYNAMO_WIRE`), which lives in the test process and so
 * survives the kill -9, as the network would. `npm start` has no setting for
 * that (it points the functions at its own dynalite), hence this entry point.
 */
import { LocalDefaults, startLocalStack } from "@align-onboarding/local";

const wire = process.env.CRASH_DYNAMO_WIRE;
if (!wire) {
  console.error("CRASH_DYNAMO_WIRE must name the wire proxy's endpoint");
  process.exit(1);
}
const port = (name: string, fallback: number) => Number(process.env[name] || fallback);

try {
  const stack = await startLocalStack({
    apiPort: port("PORT", LocalDefaults.apiPort),
    alignPort: port("ALIGN_SANDBOX_PORT", LocalDefaults.alignPort),
    dynamoPort: port("DYNAMODB_PORT", LocalDefaults.dynamoPort),
    dataDir: process.env.DATA_DIR || LocalDefaults.dataDir,
    env: { DYNAMODB_ENDPOINT: wire },
  });
  console.log(`crash stack: API ${stack.apiUrl}, DynamoDB ${stack.dynamo.endpoint} behind ${wire}`);
  process.on("SIGTERM", () => {
    stack.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
} catch (error) {
  console.error(`Could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
