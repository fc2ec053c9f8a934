import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/**
 * DynamoDB faults, injected through the SDK client's middleware stack at the
 * `initialize` step (outside the SDK's own retries, so the application sees
 * them): throttling, or a connection dropped before or after the write
 * reached the table.
 */
export type DynamoFaultKind = "throttle" | "drop_before" | "drop_after";

export interface DynamoFault {
  /** e.g. `PutItemCommand`. */
  command: string;
  /** Only items whose partition key starts with this (e.g. `IDEMPOTENCY#`). */
  keyPrefix?: string;
  kind: DynamoFaultKind;
  count?: number;
}

function partitionKey(input: Record<string, unknown>): string {
  const item = (input.Item ?? input.Key) as Record<string, { S?: string }> | undefined;
  return item?.pk?.S ?? "";
}

export function installDynamoFaults(client: DynamoDBClient) {
  const armed: (DynamoFault & { remaining: number })[] = [];
  let injected = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const index = armed.findIndex(
        (fault) =>
          fault.command === context.commandName &&
          (!fault.keyPrefix || partitionKey(input).startsWith(fault.keyPrefix)),
      );
      const fault = armed[index];
      if (!fault) return next(args);
      fault.remaining -= 1;
      if (fault.remaining <= 0) armed.splice(index, 1);
      injected += 1;
      if (fault.kind === "throttle") {
        throw Object.assign(new Error("Rate of requests exceeds the allowed throughput."), {
          name: "ThrottlingException",
          $metadata: { httpStatusCode: 400 },
        });
      }
      const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      if (fault.kind === "drop_before") throw reset;
      await next(args);
      throw reset;
    },
    { step: "initialize", name: "testDynamoFaults" },
  );
  return {
    add: (fault: DynamoFault) => armed.push({ ...fault, remaining: fault.count ?? 1 }),
    clear: () => armed.splice(0, armed.length),
    injected: () => injected,
  };
}
