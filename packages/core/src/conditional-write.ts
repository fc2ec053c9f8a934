import {
  ConditionalCheckFailedException,
  type DeleteItemCommand,
  type DynamoDBClient,
  type PutItemCommand,
  type UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";

/**
 * Sends a conditional write. Resolves false when its condition did not hold
 * (the expected outcome of a race, not an error); other failures throw.
 */
export async function conditionalWrite(
  client: DynamoDBClient,
  command: PutItemCommand | UpdateItemCommand | DeleteItemCommand,
): Promise<boolean> {
  try {
    await client.send(command as UpdateItemCommand);
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
