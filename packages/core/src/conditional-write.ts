import {
  ConditionalCheckFailedException,
  type DeleteItemCommand,
  type DynamoDBClient,
  type PutItemCommand,
  type UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { now } from "./clock.js";

/** What the stores need of a DynamoDB client: `send`. See {@link boundedDynamo}. */
export type DynamoSender = Pick<DynamoDBClient, "send">;

/** Raised instead of a DynamoDB call that could not finish before the invocation's deadline. */
export class DeadlineExceededError extends Error {
  override name = "AbortError";
}

/**
 * A client whose every call (the SDK's own retries included) is aborted at
 * `deadlineMs`, so a slow or throttled DynamoDB fails as a retryable 503 that
 * the function still answers, instead of Lambda's timeout and API Gateway's
 * bare 5xx. Cheap to build: one per invocation.
 */
export function boundedDynamo(client: DynamoDBClient, deadlineMs: number): DynamoSender {
  const send = (command: Parameters<DynamoDBClient["send"]>[0]) => {
    const left = deadlineMs - now();
    if (left <= 0) return Promise.reject(new DeadlineExceededError("No time left for a DynamoDB call"));
    return client.send(command, { abortSignal: AbortSignal.timeout(left) });
  };
  return { send: send as DynamoDBClient["send"] };
}

/**
 * Sends a conditional write. Resolves false when its condition did not hold
 * (the expected outcome of a race, not an error); other failures throw.
 */
export async function conditionalWrite(
  db: DynamoSender,
  command: PutItemCommand | UpdateItemCommand | DeleteItemCommand,
): Promise<boolean> {
  try {
    await db.send(command as UpdateItemCommand);
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
