/**
 * AWS's DynamoDB Local for the tests that need what dynalite lacks
 * (TransactWriteItems, ALL_OLD on a failed conditional write): one JVM for the
 * whole vitest run, started by this file as a globalSetup (vitest.config.ts),
 * its endpoint handed to the test files through `provide`. Each file makes
 * its own uniquely named tables. Without Java or the jar the run goes on and
 * the tests that need it skip, saying why (DYNAMODB_LOCAL=require makes that
 * an error instead, as in CI when Java is installed).
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import type { TestProject } from "vitest/node";
// By path, not the package: vitest loads a globalSetup without the "source" condition the packages resolve by.
import {
  connectDynamo,
  DynamoDbLocalUnavailableError,
  startDynamoDbLocal,
} from "../../packages/local/src/dynamodb-local.js";

/** What the globalSetup hands to the test files. */
export interface DynamoDbLocalState {
  /** Set when DynamoDB Local is running. */
  endpoint?: string;
  /** Why it is not, otherwise. */
  reason?: string;
  /** From spawning the JVM to its first answer, in ms. */
  startMs?: number;
}

declare module "vitest" {
  export interface ProvidedContext {
    dynamoDbLocal: DynamoDbLocalState;
  }
}

/** vitest globalSetup: starts DynamoDB Local once; the returned function stops it. */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  // This runs in vitest's own process, which the config's test env does not reach.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  try {
    const local = await startDynamoDbLocal();
    project.provide("dynamoDbLocal", { endpoint: local.endpoint, startMs: local.startMs });
    // For what runs in a process of its own (the simulation's world, `npm run bench`): the workers and their
    // children inherit this environment, so they use this JVM instead of starting another.
    process.env.DYNAMODB_LOCAL_ENDPOINT = local.endpoint;
    return async () => {
      delete process.env.DYNAMODB_LOCAL_ENDPOINT;
      await local.close();
    };
  } catch (error) {
    if (!(error instanceof DynamoDbLocalUnavailableError) || process.env.DYNAMODB_LOCAL === "require") throw error;
    const reason = error.message;
    console.warn(`DynamoDB Local is not available, the tests that need it skip: ${reason}`);
    project.provide("dynamoDbLocal", { reason });
    return async () => undefined;
  }
}

/** The run's DynamoDB Local, as a test file uses it. */
export interface DynamoDbLocalForTests {
  endpoint: string;
  /** A client of its own for this test file (destroy it in afterAll). */
  client: DynamoDBClient;
  /** A table name no other test file uses (3+ characters, as DynamoDB Local requires). */
  tableName(prefix: string): string;
}

/**
 * The run's DynamoDB Local, or undefined (then `dynamoDbLocalReason` says why).
 * Use as `describe.skipIf(!local)(\`... ${dynamoDbLocalSkip}\`, ...)`.
 */
export function dynamoDbLocal(): DynamoDbLocalForTests | undefined {
  const state = inject("dynamoDbLocal");
  if (!state?.endpoint) return undefined;
  return {
    endpoint: state.endpoint,
    client: connectDynamo(state.endpoint).client,
    tableName: (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`,
  };
}

/** Why DynamoDB Local is missing in this run, or "" when it runs. */
export function dynamoDbLocalReason(): string {
  const state = inject("dynamoDbLocal");
  if (state?.endpoint) return "";
  return state?.reason ?? "no DynamoDB Local: this run's config does not start it (test/support/dynamodb-local.ts)";
}

/** For a skipped suite's name: " (skipped: <why>)", or "" when DynamoDB Local runs. */
export function dynamoDbLocalSkip(): string {
  const reason = dynamoDbLocalReason();
  return reason ? ` (skipped: ${reason})` : "";
}
