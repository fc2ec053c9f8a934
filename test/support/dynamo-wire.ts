/**
 * DynamoDB faults at the wire, beneath the AWS SDK: an HTTP proxy on
 * 127.0.0.1 (real sockets) in front of any DynamoDB endpoint (dynalite,
 * DynamoDB Local). The code under test points its production client at
 * {@link DynamoWire.endpoint}, so the SDK's own retries (maxAttempts 3,
 * requestTimeout 2.5 s) happen as they do against AWS: a fault armed once is
 * usually absorbed by the SDK, and a write whose answer is lost is resent.
 *
 * Faults are armed per operation (the `X-Amz-Target` suffix, e.g. `PutItem`)
 * and optionally per partition-key prefix, with a count; every fault that
 * fires is logged, so a test asserts it fired (a renamed route or key cannot
 * pass fault-free).
 *
 * It can also make a table's indexes lag (see {@link IndexLagOptions}):
 * DynamoDB's GSIs are eventually consistent, dynalite's are not.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { resetRuntime } from "@align-onboarding/core";
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  waitUntilTableExists,
  waitUntilTableNotExists,
} from "@aws-sdk/client-dynamodb";

/** The errors the proxy answers with instead of forwarding (DynamoDB's own names and bodies). */
export type DynamoErrorName =
  | "InternalServerError"
  | "ThrottlingException"
  | "ProvisionedThroughputExceededException"
  /** TransactWriteItems: TransactionCanceledException with TransactionConflict reasons; else TransactionConflictException. */
  | "TransactionConflict";

/** What an armed fault does to one matching request (one SDK attempt). */
export type WireAction =
  /** Answer with DynamoDB's error (the table never sees the request). */
  | { type: "error"; error: DynamoErrorName; message?: string }
  /** Reset the connection before forwarding: the table never sees the request. */
  | { type: "reset" }
  /** Forward, let the table apply it, then destroy the socket: the answer is lost and the SDK resends. */
  | { type: "drop_response" }
  /** Forward, let the table apply it, then hold the answer `ms` (past the client's requestTimeout: it resends). */
  | { type: "late_response"; ms: number }
  /** Wait `ms`, then forward and answer. */
  | { type: "slow"; ms: number };

/** A fault armed for the next `count` matching requests. */
export interface WireFault {
  /** `PutItem`, or the whole target `DynamoDB_20120810.PutItem`. */
  operation: string;
  /** Only requests touching a partition key that starts with this (e.g. `IDEMPOTENCY#`). */
  keyPrefix?: string;
  action: WireAction;
  /** How many matching requests it hits (default 1). Each SDK attempt is a request. */
  count?: number;
}

/** One fault that fired. */
export interface FiredFault {
  operation: string;
  /** The partition keys the request touched. */
  keys: string[];
  action: WireAction["type"];
  /** The `error` action's error name. */
  error?: DynamoErrorName;
  at: number;
}

/** One request the proxy received (each SDK attempt is one). */
export interface WireRequest {
  operation: string;
  table: string | undefined;
  keys: string[];
  /** The fault that hit it, if any. */
  fault?: WireAction["type"];
  /** The request body as sent, to tell an SDK resend (identical) from a new call. */
  body: string;
}

/** One base-table write whose new image is queued for the lagged indexes. */
export interface LaggedWrite {
  operation: string;
  key: Record<string, AttributeValue>;
  /** The item after the write; undefined when it is gone. */
  image: Record<string, AttributeValue> | undefined;
}

/**
 * Index lag: the proxy keeps a shadow table (same definition as `table`, on
 * the same backend) that receives each written item's new image only
 * `delay(write)` ms after the write, against `now()`; Query and Scan requests
 * that name an `IndexName` of `table` are served by the shadow table's index,
 * so key conditions, filters, Limit, ordering and LastEvaluatedKey all work
 * through the real engine. Due images are applied (in per-item order) before
 * each such read: lazily, no timers, so a virtual clock works.
 */
export interface IndexLagOptions {
  table: string;
  /** Per write, how long until its image reaches the indexes (ms; 0..a few seconds). */
  delay: (write: LaggedWrite) => number;
  /** Default `<table>-lagged`. */
  shadowTable?: string;
}

export interface DynamoWireOptions {
  /** The DynamoDB endpoint behind the proxy, e.g. dynalite's `http://127.0.0.1:3002`. */
  target: string;
  /** The partition key attribute faults match on (default `pk`). */
  partitionKey?: string;
  /** The clock index lag is measured against (default `Date.now`; the simulation passes its virtual one). */
  now?: () => number;
  /** How fault delays wait (default real `setTimeout`). */
  sleep?: (ms: number) => Promise<void>;
  /** Lag the indexes from the start; see {@link DynamoWire.setLag}. */
  lag?: IndexLagOptions;
  /**
   * The credentials of the proxy's own calls (index lag) to the backend. Default `local`/`local`,
   * as the runtime uses locally; DynamoDB Local without `-sharedDb` keeps one database per access key.
   */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface DynamoWire {
  /** Point DYNAMODB_ENDPOINT here. */
  endpoint: string;
  arm(fault: WireFault): void;
  /** Disarms every fault and forgets the logs. */
  clear(): void;
  /** Faults that fired, optionally only of one operation and action. */
  fired(filter?: { operation?: string; action?: WireAction["type"] }): FiredFault[];
  /** How many armed hits have not fired yet. */
  unfired(): number;
  /** Every request received since the last {@link clear}, optionally of one operation. */
  requests(operation?: string): WireRequest[];
  /** Turns index lag on (creating and filling the shadow table) or, with undefined, off. */
  setLag(lag: IndexLagOptions | undefined): Promise<void>;
  /** Images queued for the lagged indexes and not yet applied. */
  lagPending(): number;
  close(): Promise<void>;
}

const TARGET_PREFIX = "DynamoDB_20120810.";
const ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#";
const WRITES = new Set(["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"]);

type Json = Record<string, unknown>;
type Item = Record<string, AttributeValue>;

const operationName = (operation: string) =>
  operation.startsWith(TARGET_PREFIX) ? operation.slice(TARGET_PREFIX.length) : operation;

/** The string values of `attribute` in every item or key the request names. */
function touchedKeys(operation: string, body: Json, attribute: string): string[] {
  const keyOf = (item: unknown) => (item as Record<string, { S?: string }> | undefined)?.[attribute]?.S;
  const items: unknown[] = [];
  if (body.Item) items.push(body.Item);
  if (body.Key) items.push(body.Key);
  if (operation === "TransactWriteItems" || operation === "TransactGetItems") {
    for (const entry of (body.TransactItems ?? []) as Json[]) {
      for (const part of Object.values(entry) as Json[]) items.push(part.Item ?? part.Key);
    }
  }
  if (operation === "BatchWriteItem") {
    for (const requests of Object.values((body.RequestItems ?? {}) as Record<string, Json[]>)) {
      for (const entry of requests) {
        items.push((entry.PutRequest as Json | undefined)?.Item ?? (entry.DeleteRequest as Json | undefined)?.Key);
      }
    }
  }
  const keys = items.map(keyOf).filter((key): key is string => key !== undefined);
  if (operation === "Query" || operation === "Scan") {
    // A query names its partition in the expression values.
    for (const value of Object.values((body.ExpressionAttributeValues ?? {}) as Record<string, { S?: string }>)) {
      if (value.S !== undefined) keys.push(value.S);
    }
  }
  return keys;
}

/** The base-table items a successful write touched, as (table, key) pairs. */
function writtenKeys(operation: string, body: Json): { table: string; key: Item }[] {
  const out: { table: string; key: Item }[] = [];
  const push = (table: unknown, key: unknown) => {
    if (typeof table === "string" && key) out.push({ table, key: key as Item });
  };
  if (operation === "PutItem") push(body.TableName, body.Item);
  if (operation === "UpdateItem" || operation === "DeleteItem") push(body.TableName, body.Key);
  if (operation === "TransactWriteItems") {
    for (const entry of (body.TransactItems ?? []) as Json[]) {
      const write = (entry.Put ?? entry.Update ?? entry.Delete) as Json | undefined; // ConditionCheck writes nothing
      if (write) push(write.TableName, write.Item ?? write.Key);
    }
  }
  if (operation === "BatchWriteItem") {
    for (const [table, requests] of Object.entries((body.RequestItems ?? {}) as Record<string, Json[]>)) {
      for (const entry of requests) {
        push(table, (entry.PutRequest as Json | undefined)?.Item ?? (entry.DeleteRequest as Json | undefined)?.Key);
      }
    }
  }
  return out;
}

function errorAnswer(action: { error: DynamoErrorName; message?: string }, operation: string, body: Json) {
  if (action.error === "InternalServerError") {
    return {
      status: 500,
      type: "InternalServerError",
      payload: { message: action.message ?? "Internal server error" },
    };
  }
  if (action.error === "ThrottlingException") {
    return {
      status: 400,
      type: "ThrottlingException",
      payload: { message: action.message ?? "Rate of requests exceeds the allowed throughput." },
    };
  }
  if (action.error === "ProvisionedThroughputExceededException") {
    return {
      status: 400,
      type: "ProvisionedThroughputExceededException",
      payload: {
        message:
          action.message ??
          "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
      },
    };
  }
  if (operation === "TransactWriteItems") {
    const count = ((body.TransactItems ?? []) as unknown[]).length;
    const reasons = Array.from({ length: count }, () => ({
      Code: "TransactionConflict",
      Message: "Transaction is ongoing for the item",
    }));
    return {
      status: 400,
      type: "TransactionCanceledException",
      payload: {
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(", ")}]`,
        CancellationReasons: reasons,
      },
    };
  }
  return {
    status: 400,
    type: "TransactionConflictException",
    payload: { message: action.message ?? "Transaction is ongoing for the item" },
  };
}

// Hop-by-hop headers are the proxy's own business on each side.
const HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"]);
const endToEnd = (headers: IncomingMessage["headers"]) =>
  Object.fromEntries(
    Object.entries(headers).filter(([name, value]) => !HOP.has(name) && value !== undefined),
  ) as Record<string, string | string[]>;

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

/**
 * Starts the proxy on a free loopback port.
 *
 * @example
 * ```ts
 * const wire = await startDynamoWire({ target: dynalite.endpoint });
 * process.env.DYNAMODB_ENDPOINT = wire.endpoint; resetRuntime();
 * wire.arm({ operation: "PutItem", keyPrefix: "IDEMPOTENCY#", action: { type: "drop_response" } });
 * // ... exercise the code ...
 * expect(wire.fired()).toHaveLength(1);
 * ```
 */
export async function startDynamoWire(options: DynamoWireOptions): Promise<DynamoWire> {
  const target = new URL(options.target);
  const partitionKey = options.partitionKey ?? "pk";
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const agent = new Agent({ keepAlive: true });
  // The proxy's own calls to the backend (index lag): fixed local credentials, never through the proxy.
  const backend = new DynamoDBClient({
    endpoint: options.target,
    region: process.env.AWS_REGION ?? "us-east-1",
    credentials: options.credentials ?? { accessKeyId: "local", secretAccessKey: "local" },
  });

  const armed: (WireFault & { operation: string; remaining: number })[] = [];
  let fired: FiredFault[] = [];
  let log: WireRequest[] = [];

  interface Lag extends IndexLagOptions {
    shadow: string;
    keyNames: string[];
    indexes: Set<string>;
  }
  let lag: Lag | undefined;
  let queue: { seq: number; visibleAt: number; key: Item; image: Item | undefined }[] = [];
  let seq = 0;
  const lastVisible = new Map<string, number>();
  // One chain for image reads and shadow writes: queued images and applied ones keep the order of the writes.
  let chain: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = chain.then(work, work);
    chain = run.catch(() => undefined);
    return run;
  };

  const forward = (req: IncomingMessage, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...endToEnd(req.headers), "content-length": String(body.length) },
          agent,
        },
        (response) => {
          readBody(response).then(
            (payload) =>
              resolve({ status: response.statusCode ?? 502, headers: endToEnd(response.headers), body: payload }),
            reject,
          );
        },
      );
      upstream.on("error", reject);
      upstream.end(body);
    });

  const answer = (res: ServerResponse, upstream: Upstream) => {
    if (res.destroyed || res.socket?.destroyed) return;
    res.writeHead(upstream.status, { ...upstream.headers, "content-length": String(upstream.body.length) });
    res.end(upstream.body);
  };

  /** Queues the new images of what a successful write touched on the lagged table. */
  const queueImages = (operation: string, body: Json) =>
    serially(async () => {
      const current = lag;
      if (!current) return;
      for (const { table, key: item } of writtenKeys(operation, body)) {
        if (table !== current.table) continue;
        const key = Object.fromEntries(current.keyNames.map((name) => [name, item[name] as AttributeValue]));
        const { Item: image } = await backend.send(
          new GetItemCommand({ TableName: current.table, Key: key, ConsistentRead: true }),
        );
        const id = JSON.stringify(key);
        const wanted = now() + Math.max(0, current.delay({ operation, key, image }));
        // Per-item order: an image never overtakes an earlier one of the same item.
        const visibleAt = Math.max(wanted, lastVisible.get(id) ?? Number.NEGATIVE_INFINITY);
        lastVisible.set(id, visibleAt);
        queue.push({ seq: seq++, visibleAt, key, image });
      }
    });

  /** Applies every queued image that is due to the shadow table, oldest first. */
  const applyDue = () =>
    serially(async () => {
      const current = lag;
      if (!current) return;
      const at = now();
      const due = queue
        .filter((entry) => entry.visibleAt <= at)
        .sort((a, b) => a.visibleAt - b.visibleAt || a.seq - b.seq);
      queue = queue.filter((entry) => entry.visibleAt > at);
      for (const entry of due) {
        if (entry.image) await backend.send(new PutItemCommand({ TableName: current.shadow, Item: entry.image }));
        else await backend.send(new DeleteItemCommand({ TableName: current.shadow, Key: entry.key }));
      }
    });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    const operation = operationName(String(req.headers["x-amz-target"] ?? ""));
    let body: Json = {};
    try {
      body = JSON.parse(raw.toString("utf8") || "{}") as Json;
    } catch {
      // not JSON: forwarded as is, and the backend says what is wrong
    }
    const keys = touchedKeys(operation, body, partitionKey);
    const entry: WireRequest = {
      operation,
      table: typeof body.TableName === "string" ? body.TableName : undefined,
      keys,
      body: raw.toString("utf8"),
    };
    log.push(entry);

    const index = armed.findIndex(
      (fault) =>
        fault.operation === operation &&
        (fault.keyPrefix === undefined || keys.some((key) => key.startsWith(fault.keyPrefix as string))),
    );
    const fault = armed[index];
    if (fault) {
      fault.remaining -= 1;
      if (fault.remaining <= 0) armed.splice(index, 1);
      entry.fault = fault.action.type;
      fired.push({
        operation,
        keys,
        action: fault.action.type,
        ...(fault.action.type === "error" ? { error: fault.action.error } : {}),
        at: now(),
      });
    }
    const action = fault?.action;

    if (action?.type === "error") {
      const { status, type, payload } = errorAnswer(action, operation, body);
      const text = JSON.stringify({ __type: `${ERROR_PREFIX}${type}`, ...payload });
      answer(res, {
        status,
        headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `wire-${Date.now()}` },
        body: Buffer.from(text),
      });
      return;
    }
    if (action?.type === "reset") {
      req.socket.destroy();
      return;
    }
    if (action?.type === "slow") await sleep(action.ms);

    // Index reads of a lagged table are served by its shadow, after applying what is due.
    let sent = raw;
    const current = lag;
    if (
      current &&
      (operation === "Query" || operation === "Scan") &&
      body.TableName === current.table &&
      typeof body.IndexName === "string" &&
      current.indexes.has(body.IndexName)
    ) {
      await applyDue();
      sent = Buffer.from(JSON.stringify({ ...body, TableName: current.shadow }));
    }
    const upstream = await forward(req, sent);
    if (current && upstream.status === 200 && WRITES.has(operation)) await queueImages(operation, body);

    if (action?.type === "drop_response") {
      req.socket.destroy();
      return;
    }
    if (action?.type === "late_response") await sleep(action.ms);
    answer(res, upstream);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const setLag = async (next: IndexLagOptions | undefined) => {
    await serially(async () => {
      lag = undefined;
      queue = [];
      lastVisible.clear();
      if (!next) return;
      const shadow = next.shadowTable ?? `${next.table}-lagged`;
      const { Table } = await backend.send(new DescribeTableCommand({ TableName: next.table }));
      if (!Table?.KeySchema || !Table.AttributeDefinitions) throw new Error(`${next.table} has no key schema`);
      try {
        await backend.send(new DeleteTableCommand({ TableName: shadow }));
        await waitUntilTableNotExists(
          { client: backend, maxWaitTime: 30, minDelay: 1, maxDelay: 1 },
          { TableName: shadow },
        );
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
      const indexes = (Table.GlobalSecondaryIndexes ?? []).map((index) => ({
        IndexName: index.IndexName,
        KeySchema: index.KeySchema,
        Projection: index.Projection,
      }));
      await backend.send(
        new CreateTableCommand({
          TableName: shadow,
          BillingMode: "PAY_PER_REQUEST",
          AttributeDefinitions: Table.AttributeDefinitions,
          KeySchema: Table.KeySchema,
          ...(indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
        }),
      );
      await waitUntilTableExists({ client: backend, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: shadow });
      // What the table holds now is already indexed: copy it over.
      let start: Item | undefined;
      do {
        const page = await backend.send(
          new ScanCommand({
            TableName: next.table,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) await backend.send(new PutItemCommand({ TableName: shadow, Item: item }));
        start = page.LastEvaluatedKey;
      } while (start);
      lag = {
        ...next,
        shadow,
        keyNames: Table.KeySchema.map((key) => key.AttributeName as string),
        indexes: new Set(indexes.map((index) => index.IndexName as string)),
      };
    });
  };
  if (options.lag) await setLag(options.lag);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    arm: (fault) => armed.push({ ...fault, operation: operationName(fault.operation), remaining: fault.count ?? 1 }),
    clear: () => {
      armed.splice(0, armed.length);
      fired = [];
      log = [];
    },
    fired: (filter = {}) =>
      fired.filter(
        (entry) =>
          (filter.operation === undefined || entry.operation === operationName(filter.operation)) &&
          (filter.action === undefined || entry.action === filter.action),
      ),
    unfired: () => armed.reduce((sum, fault) => sum + fault.remaining, 0),
    requests: (operation) =>
      operation === undefined ? [...log] : log.filter((entry) => entry.operation === operationName(operation)),
    setLag,
    lagPending: () => queue.length,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
      backend.destroy();
    },
  };
}

/**
 * Puts a wire in front of `target` and points the process-wide runtime (the
 * functions' production DynamoDB client, settings unchanged) at it.
 */
export async function routeRuntimeThroughWire(
  target: string,
  options: Omit<DynamoWireOptions, "target"> = {},
): Promise<DynamoWire> {
  const wire = await startDynamoWire({ ...options, target });
  process.env.DYNAMODB_ENDPOINT = wire.endpoint;
  resetRuntime();
  return wire;
}
