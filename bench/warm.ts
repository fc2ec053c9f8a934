/**
 * The warm path on one table, in a process of its own (`npm run bench` runs it
 * once on DynamoDB Local, once on dynalite): the table and the Align emulator
 * live in the bench's process, so DynamoDB's own work is never counted here as
 * ours. Every route answers as in production, in rounds that interleave:
 * create (ours and both peers), replay, GET, list, KYC start, simulate and a
 * webhook, each on the customer that round created. On a table with
 * transactions it also times create's last two writes as two calls and as one
 * TransactWriteItems (issue 26, part 3). Prints one JSON line last.
 *
 *   WARM_RUNS (300)  WARM_TABLE (a label)  and the functions' own environment
 */
import { randomUUID } from "node:crypto";
import { signPayload } from "@align-onboarding/align";
import { getRuntime, setLogSink } from "@align-onboarding/core";
import {
  type DynamoDBClient,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { type Summary, summarize } from "./stats.js";

const RUNS = Number(process.env.WARM_RUNS ?? 300);
// 20 unmeasured rounds first; fewer in the smoke test's tiny run.
const WARMUP = Math.min(20, Math.ceil(RUNS / 5));
const transactions = process.env.DYNAMODB_TRANSACTIONS === "true";
setLogSink(() => undefined);

const { handler: createHandler } = await import("../functions/create-customer.js");
const { handler: getHandler } = await import("../functions/get-customer.js");
const { handler: kycHandler } = await import("../functions/start-kyc.js");
const { handler: simulateHandler } = await import("../functions/sandbox-simulate.js");
const { handler: webhookHandler } = await import("../functions/align-webhook.js");
const strongest = await import("./peer/strongest.js");
const typical = await import("./peer/typical.js");

let dynamoMs = 0;
let alignMs = 0;
let dynamoCalls: string[] = [];
const timeDynamo = (client: DynamoDBClient) => {
  // Counted in the middleware stack, timed around the whole `send` (as a caller waits for it).
  client.middlewareStack.add(
    (next, context) => async (args) => {
      dynamoCalls.push(context.commandName ?? "?");
      return next(args);
    },
    { step: "initialize", priority: "high", name: "benchCount" },
  );
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as { send: unknown }).send = async (...args: unknown[]) => {
    const t = performance.now();
    try {
      return await send(...args);
    } finally {
      dynamoMs += performance.now() - t;
    }
  };
};
/** Times every call of an Align client (validation, HTTP and response parsing: all of "inside the Align call"). */
const timeAlign = (client: { customers: object }) => {
  const resource = client.customers as Record<string, unknown>;
  for (const method of ["create", "get", "list", "createKycSession", "simulateCustomer"]) {
    const original = resource[method] as (...args: unknown[]) => Promise<unknown>;
    resource[method] = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await original.apply(resource, args);
      } finally {
        alignMs += performance.now() - t;
      }
    };
  }
};
const runtime = getRuntime();
timeDynamo(runtime.dynamo);
timeDynamo(strongest.dynamo);
timeDynamo(typical.dynamo);
timeAlign(runtime.align);
timeAlign(strongest.align);
timeAlign(typical.align);

const context = () => {
  const deadline = Date.now() + 20_000;
  return {
    awsRequestId: randomUUID(),
    functionName: "bench",
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as never;
};
const apiEvent = (sub: string, method: string, routeKey: string, rawPath: string, body?: string, extra = {}) => ({
  version: "2.0",
  routeKey,
  rawPath,
  rawQueryString: "",
  headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
  requestContext: {
    requestId: randomUUID(),
    routeKey,
    http: { method, path: rawPath },
    authorizer: { jwt: { claims: { sub }, scopes: null } },
  },
  ...(body === undefined ? {} : { body }),
  isBase64Encoded: false,
  ...extra,
});
const createEvent = (sub: string) =>
  apiEvent(
    sub,
    "POST",
    "POST /customers",
    "/customers",
    JSON.stringify({
      email: `${sub}-${randomUUID()}@example.com`,
      type: "individual",
      first_name: "B",
      last_name: "E",
    }),
  );
const onCustomer = (sub: string, id: string, method: string, routeKey: string, body?: string) =>
  apiEvent(sub, method, routeKey, routeKey.split(" ")[1]?.replace("{customer_id}", id) ?? "", body, {
    pathParameters: { customer_id: id },
  });

type AnyHandler = (event: never, context: never) => Promise<unknown>;
interface Sample {
  total: number;
  own: number;
  status: number | undefined;
  body: string;
  calls: string[];
}
async function timed(handler: AnyHandler, event: unknown): Promise<Sample> {
  dynamoMs = 0;
  alignMs = 0;
  dynamoCalls = [];
  const t = performance.now();
  const result = (await handler(event as never, context())) as { statusCode?: number; body?: string };
  const total = performance.now() - t;
  return {
    total,
    own: total - dynamoMs - alignMs,
    status: result.statusCode,
    body: result.body ?? "",
    calls: dynamoCalls,
  };
}

/** What production answers on each row; any other answer fails the bench. */
export const expectedStatus: Record<string, number> = {
  "create (ours)": 201,
  "create (peer, strongest)": 201,
  "create (peer, typical)": 201,
  replay: 201,
  GET: 200,
  list: 200,
  "KYC start": 201,
  simulate: 200,
  webhook: 200,
};
const rows = new Map<
  string,
  { total: number[]; own: number[]; statuses: Map<string, number>; calls: Map<string, number> }
>(Object.keys(expectedStatus).map((name) => [name, { total: [], own: [], statuses: new Map(), calls: new Map() }]));
function keep(name: string, sample: Sample, measured: boolean) {
  const row = rows.get(name);
  if (!row) return;
  const status = String(sample.status);
  row.statuses.set(status, (row.statuses.get(status) ?? 0) + 1);
  if (!measured) return;
  row.total.push(sample.total);
  row.own.push(sample.own);
  const calls = sample.calls.map((call) => call.replace("Command", "")).join(", ");
  row.calls.set(calls, (row.calls.get(calls) ?? 0) + 1);
}

for (let round = 0; round < WARMUP + RUNS; round++) {
  const measured = round >= WARMUP;
  const event = createEvent("warm-ours");
  const created = await timed(createHandler, event);
  keep("create (ours)", created, measured);
  keep(
    "create (peer, strongest)",
    await timed(strongest.handler as unknown as AnyHandler, createEvent("warm-strongest")),
    measured,
  );
  keep(
    "create (peer, typical)",
    await timed(typical.handler as unknown as AnyHandler, createEvent("warm-typical")),
    measured,
  );
  const customer = JSON.parse(created.body) as { customer_id: string };
  const id = customer.customer_id;
  // The SDK's or a client's retry: same key and body, a new request.
  const retry = { ...event, requestContext: { ...event.requestContext, requestId: randomUUID() } };
  keep("replay", await timed(createHandler, retry), measured);
  keep("GET", await timed(getHandler, onCustomer("warm-ours", id, "GET", "GET /customers/{customer_id}")), measured);
  keep("list", await timed(getHandler, apiEvent("warm-ours", "GET", "GET /customers", "/customers")), measured);
  const started = await timed(
    kycHandler,
    onCustomer("warm-ours", id, "POST", "POST /customers/{customer_id}/kyc-sessions", "{}"),
  );
  keep("KYC start", started, measured);
  keep(
    "simulate",
    await timed(
      simulateHandler,
      onCustomer(
        "warm-ours",
        id,
        "POST",
        "POST /sandbox/customers/{customer_id}/simulate",
        '{"action":"kyc.status.approve"}',
      ),
    ),
    measured,
  );
  // Align's delivery of that approval: the event carries the customer, with the session KYC start recorded.
  const kycs = (JSON.parse(started.body) as { kycs?: Record<string, unknown> }).kycs ?? {};
  const hook = JSON.stringify({
    event_type: "customer.kycs.updated",
    entity_id: id,
    entity_type: "customer",
    // Align's instant: now (each round's customer is its own; one from the future would be read first).
    created_at: new Date().toISOString(),
    entity_object: { ...customer, kycs: { ...kycs, status: "approved" } },
  });
  const delivery = apiEvent("align", "POST", "POST /webhooks/align", "/webhooks/align", hook);
  delivery.headers = {
    ...delivery.headers,
    "x-hmac-signature": signPayload(hook, process.env.ALIGN_API_KEY ?? ""),
  } as never;
  keep("webhook", await timed(webhookHandler, delivery), measured);
}

// Issue 26, part 3: create's customer and completion as two writes (today) or one transaction, same items.
const pairs: Record<string, Summary> = {};
if (transactions) {
  const db = runtime.dynamo;
  const table = process.env.TABLE_NAME ?? "";
  const twoWrites: number[] = [];
  const oneTransaction: number[] = [];
  const response = JSON.stringify({
    statusCode: 201,
    headers: { "content-type": "application/json" },
    body: "x".repeat(600),
  });
  for (let i = 0; i < WARMUP + RUNS; i++) {
    for (const asTransaction of i % 2 === 0 ? [false, true] : [true, false]) {
      const lockKey = { pk: { S: `PAIR#${randomUUID()}` }, sk: { S: "IDEMPOTENCY" } };
      const token = randomUUID();
      await db.send(
        new PutItemCommand({
          TableName: table,
          Item: { ...lockKey, state: { S: "locked" }, lock_token: { S: token } },
        }),
      );
      const customerId = randomUUID();
      const put = {
        TableName: table,
        Item: {
          pk: { S: `CUSTOMER#${customerId}` },
          sk: { S: "CUSTOMER" },
          gsi1pk: { S: "OWNER#pair" },
          gsi1sk: { S: `${new Date().toISOString()}#${customerId}` },
          customer_id: { S: customerId },
          owner: { S: "pair" },
          data: { S: "y".repeat(500) },
          version: { N: "1" },
        },
        ConditionExpression: "attribute_not_exists(pk)",
      };
      const update = {
        TableName: table,
        Key: lockKey,
        UpdateExpression: "SET #state = :completed, #response = :response REMOVE lease_expires_at",
        ConditionExpression: "#state = :locked AND lock_token = :token",
        ExpressionAttributeNames: { "#state": "state", "#response": "response" },
        ExpressionAttributeValues: {
          ":completed": { S: "completed" },
          ":locked": { S: "locked" },
          ":response": { S: response },
          ":token": { S: token },
        },
      };
      const t = performance.now();
      if (asTransaction) {
        await db.send(
          new TransactWriteItemsCommand({
            TransactItems: [{ Put: put }, { Update: update }],
            ClientRequestToken: token,
          }),
        );
      } else {
        await db.send(new PutItemCommand(put));
        await db.send(new UpdateItemCommand(update));
      }
      if (i >= WARMUP) (asTransaction ? oneTransaction : twoWrites).push(performance.now() - t);
    }
  }
  pairs["PutItem + UpdateItem"] = summarize(twoWrites);
  pairs["TransactWriteItems (Put, Update)"] = summarize(oneTransaction);
}

const out = Object.fromEntries(
  [...rows].map(([name, row]) => [
    name,
    {
      total: summarize(row.total),
      own: summarize(row.own),
      statuses: Object.fromEntries(row.statuses),
      calls: Object.fromEntries(row.calls),
      expected: expectedStatus[name],
    },
  ]),
);
process.stdout.write(`\n${JSON.stringify({ table: process.env.WARM_TABLE ?? "", rows: out, pairs })}\n`);
process.exit(0);
