/**
 * What real DynamoDB does and dynalite does not, supplied through a client's
 * middleware stack (after any counting middleware, so a supplied call is
 * still one call), with a second client `side` that counting does not see:
 * - `ReturnValuesOnConditionCheckFailure: ALL_OLD`: a failed conditional
 *   write carries the current item;
 * - `TransactWriteItems` of Updates: applied one by one, the ones already made
 *   restored if a later condition fails, and cancelled with DynamoDB's
 *   reasons. Not isolated from concurrent writers by itself: enough for
 *   counting calls and single-request tests; the simulation gets isolation
 *   from its scheduler, which runs nothing else during one gated call.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  type TransactWriteItemsCommandInput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";

type Item = Record<string, AttributeValue>;

export interface LikeDynamoDb {
  /** Supply the old item on failed conditional writes (off: dynalite's behaviour). */
  returnOldItem: boolean;
}

export function likeDynamoDb(client: DynamoDBClient, side: DynamoDBClient): LikeDynamoDb {
  const state: LikeDynamoDb = { returnOldItem: true };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "TransactWriteItemsCommand") {
        await transactWrite(side, args.input as TransactWriteItemsCommandInput);
        return { output: { $metadata: {} }, response: {} } as never;
      }
      try {
        return await next(args);
      } catch (error) {
        const input = args.input as {
          TableName?: string;
          Item?: Item;
          Key?: Item;
          ReturnValuesOnConditionCheckFailure?: string;
        };
        if (
          !state.returnOldItem ||
          !(error instanceof ConditionalCheckFailedException) ||
          input.ReturnValuesOnConditionCheckFailure !== "ALL_OLD"
        )
          throw error;
        const source = input.Key ?? input.Item ?? {};
        const key = { pk: { S: source.pk?.S ?? "" }, sk: { S: source.sk?.S ?? "" } };
        const current = await side.send(
          new GetItemCommand({ TableName: input.TableName, Key: key, ConsistentRead: true }),
        );
        if (current.Item) (error as { Item?: unknown }).Item = current.Item;
        throw error;
      }
    },
    { step: "initialize", priority: "low", name: "likeDynamoDb" },
  );
  return state;
}

async function transactWrite(side: DynamoDBClient, input: TransactWriteItemsCommandInput): Promise<void> {
  const items = input.TransactItems ?? [];
  const undo: { table: string; key: Item; old: Item | undefined }[] = [];
  for (const [index, item] of items.entries()) {
    const update = item.Update;
    if (!update) throw new Error("only Update items are supplied");
    try {
      const output = await side.send(new UpdateItemCommand({ ...update, ReturnValues: "ALL_OLD" }));
      undo.push({ table: update.TableName ?? "", key: update.Key ?? {}, old: output.Attributes });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      for (const made of undo.reverse()) {
        if (made.old) await side.send(new PutItemCommand({ TableName: made.table, Item: made.old }));
        else await side.send(new DeleteItemCommand({ TableName: made.table, Key: made.key }));
      }
      const reasons = items.map((_, at) =>
        at === index ? { Code: "ConditionalCheckFailed", Message: "The conditional request failed" } : { Code: "None" },
      );
      throw new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`,
        $metadata: {},
        CancellationReasons: reasons,
      });
    }
  }
}
