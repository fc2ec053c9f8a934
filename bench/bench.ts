/**
 * `npm run bench`: our functions next to three references (bench/peer), all
 * built and measured in one run on this machine:
 * - the strongest peer: the same create written as Powertools' and zod 4's docs
 *   write it (Powertools Idempotency + Logger, Middy, `import * as z from "zod"`,
 *   no DocumentClient), SST's default build;
 * - the typical peer: the same with `import { z } from "zod"` and a
 *   DocumentClient, SST's default build;
 * - the SDK floor: the DynamoDB client alone with a create's three writes,
 *   built with our tuned settings.
 * Measured: bundle bytes, cold start (import and first invocation, fresh
 * processes, interleaved), the warm path (our own time without DynamoDB and
 * Align), DynamoDB calls per request, and local throughput (information only).
 * Writes bench/results.md and bench/results.json, and prints each target.
 *
 *   BENCH_COLD_RUNS (25)  BENCH_WARM_RUNS (300)  BENCH_SECONDS (8, per throughput run)
 *   BENCH_OUT_DIR (bench/): where results.md and results.json go
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { signPayload } from "@align-onboarding/align";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { getRuntime, resetRuntime, setLogSink } from "@align-onboarding/core";
import {
  buildFunctions,
  bundle,
  DynamoDbLocalUnavailableError,
  ensureTable,
  openDynamoDbLocal,
  startLocalStack,
} from "@align-onboarding/local";
import { type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import autocannon from "autocannon";
import { type ColdTarget, measureColdStarts } from "./cold-start.js";
import { kib, ms, summarize } from "./stats.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 25);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 300);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const OUT_DIR = process.env.BENCH_OUT_DIR ?? here;
const log = (line: string) => console.log(line);
const started = performance.now();
const loadAtStart = loadavg()
  .map((value) => value.toFixed(2))
  .join(", ");

setLogSink(() => undefined); // the functions' own log lines are not the subject here
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
process.env.AWS_ACCESS_KEY_ID ??= "local"; // as in Lambda: credentials in the environment
process.env.AWS_SECRET_ACCESS_KEY ??= "local";

// ---- bundles ---------------------------------------------------------------
log("building bundles (ours and the SDK floor tuned; the peers and the empty handler as SST builds by default)");
const out = mkdtempSync(`${tmpdir()}/align-bench-`);
const ours = await buildFunctions(`${out}/ours`);
const Ref = {
  strongest: "peer, strongest",
  typical: "peer, typical",
  floor: "SDK floor",
  empty: "empty handler",
} as const;
const strongestFile = `${out}/peer/strongest.mjs`;
await bundle(`${here}peer/strongest.ts`, strongestFile, { tuned: false });
const typicalFile = `${out}/peer/typical.mjs`;
await bundle(`${here}peer/typical.ts`, typicalFile, { tuned: false });
const floorFile = `${out}/peer/sdk-floor.mjs`;
await bundle(`${here}peer/sdk-floor.ts`, floorFile);
const emptyFile = `${out}/empty/index.mjs`;
await bundle(`${here}empty-handler.ts`, emptyFile, { tuned: false });
const size = (file: string) => {
  const bytes = readFileSync(file);
  return { min: bytes.length, gzip: gzipSync(bytes).length };
};
const sizes = [
  ...ours.map((fn) => ({ name: fn.name, ...size(fn.file) })),
  { name: Ref.strongest, ...size(strongestFile) },
  { name: Ref.typical, ...size(typicalFile) },
  { name: Ref.floor, ...size(floorFile) },
  { name: Ref.empty, ...size(emptyFile) },
];
const strongestSize = size(strongestFile);
const typicalSize = size(typicalFile);
const floorSize = size(floorFile);

// ---- the stack -------------------------------------------------------------
const stack = await startLocalStack({ registerWebhook: false });
const sandbox = stack.sandbox;
const env: Record<string, string> = {
  PATH: process.env.PATH ?? "",
  TABLE_NAME: stack.tableName,
  DYNAMODB_ENDPOINT: stack.dynamo.endpoint,
  ALIGN_BASE_URL: stack.alignUrl,
  ALIGN_API_KEY: "sandbox-key",
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local",
  AWS_REGION: "us-east-1",
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  LOG_LEVEL: "error",
  POWERTOOLS_LOG_LEVEL: "ERROR",
  AWS_LAMBDA_FUNCTION_NAME: "bench",
};

const apiEvent = (
  method: string,
  routeKey: string,
  rawPath: string,
  body?: string,
  headers: Record<string, string> = {},
) => ({
  version: "2.0",
  routeKey,
  rawPath,
  rawQueryString: "",
  headers: { "content-type": "application/json", "idempotency-key": randomUUID(), ...headers },
  requestContext: {
    requestId: randomUUID(),
    routeKey,
    http: { method, path: rawPath },
    authorizer: { jwt: { claims: { sub: "bench-user" }, scopes: null } },
  },
  ...(body === undefined ? {} : { body }),
  isBase64Encoded: false,
});
const createBody = (tag: string) =>
  JSON.stringify({
    email: `${tag}-${randomUUID()}@example.com`,
    type: "individual",
    first_name: "B",
    last_name: "Ench",
  });
const createEvent = (tag: string) => apiEvent("POST", "POST /customers", "/customers", createBody(tag));
const someId = "00000000-0000-4000-8000-000000000000";

// ---- cold start ------------------------------------------------------------
log(`cold start: ${COLD_RUNS} rounds of fresh processes, targets interleaved`);
const file = (name: string) => ours.find((fn) => fn.name === name)?.file ?? "";
const unsignedHook = JSON.stringify({
  event_type: "customer.kycs.updated",
  entity_id: someId,
  entity_type: "customer",
  created_at: new Date().toISOString(),
});
const targets: ColdTarget[] = [
  { name: Ref.empty, file: emptyFile, event: () => ({}) },
  { name: Ref.floor, file: floorFile, event: () => createEvent("cold-floor") },
  { name: Ref.strongest, file: strongestFile, event: () => createEvent("cold-strongest") },
  { name: Ref.typical, file: typicalFile, event: () => createEvent("cold-typical") },
  { name: "create-customer", file: file("create-customer"), event: () => createEvent("cold-ours") },
  { name: "get-customer", file: file("get-customer"), event: () => apiEvent("GET", "GET /customers", "/customers") },
  {
    name: "start-kyc",
    file: file("start-kyc"),
    event: () => ({
      ...apiEvent("POST", "POST /customers/{customer_id}/kyc-sessions", `/customers/${someId}/kyc-sessions`),
      pathParameters: { customer_id: someId },
    }),
  },
  {
    name: "sandbox-simulate",
    file: file("sandbox-simulate"),
    event: () => ({
      ...apiEvent(
        "POST",
        "POST /sandbox/customers/{customer_id}/simulate",
        `/sandbox/customers/${someId}/simulate`,
        '{"action":"kyc.status.approve"}',
      ),
      pathParameters: { customer_id: someId },
    }),
  },
  {
    name: "align-webhook",
    file: file("align-webhook"),
    event: () =>
      apiEvent("POST", "POST /webhooks/align", "/webhooks/align", unsignedHook, {
        "x-hmac-signature": signPayload(unsignedHook, "sandbox-key"),
      }),
  },
  { name: "sandbox-reset", file: file("sandbox-reset"), event: () => ({ dryRun: true }) },
  { name: "openapi", file: file("openapi"), event: () => apiEvent("GET", "GET /openapi.json", "/openapi.json") },
];
const cold = await measureColdStarts(targets, COLD_RUNS, env, log);
const coldOf = (name: string) => cold.find((entry) => entry.name === name);

// ---- warm path -------------------------------------------------------------
log(`warm path: ${WARM_RUNS} invocations each, ours and both peers interleaved, in process`);
// In process, the DynamoDB behaviour the call counts need is supplied (below); the cold processes get none.
Object.assign(process.env, env, { DYNAMODB_TRANSACTIONS: "true" });
const ourCreate = (await import("../functions/create-customer.js")).handler;
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
const ourRuntime = getRuntime();
timeDynamo(ourRuntime.dynamo);
timeDynamo(strongest.dynamo);
timeDynamo(typical.dynamo);
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
timeAlign(ourRuntime.align);
timeAlign(strongest.align);
timeAlign(typical.align);
const realFetch = globalThis.fetch;
const context = () => {
  const deadline = Date.now() + 20_000;
  return {
    awsRequestId: randomUUID(),
    functionName: "bench",
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as never;
};
type AnyHandler = (event: never, context: never) => Promise<unknown>;
async function timed(handler: AnyHandler, event: unknown) {
  dynamoMs = 0;
  alignMs = 0;
  dynamoCalls = [];
  const t = performance.now();
  const result = (await handler(event as never, context())) as { statusCode?: number };
  const total = performance.now() - t;
  return { total, own: total - dynamoMs - alignMs, status: result.statusCode, calls: [...dynamoCalls] };
}
const warmRunners = [
  { name: "ours", handler: ourCreate as AnyHandler },
  { name: Ref.strongest, handler: strongest.handler as unknown as AnyHandler },
  { name: Ref.typical, handler: typical.handler as unknown as AnyHandler },
];
for (let i = 0; i < 20; i++) {
  for (const runner of warmRunners) await timed(runner.handler, createEvent("warmup"));
}
const warm = new Map(warmRunners.map((runner) => [runner.name, { total: [] as number[], own: [] as number[] }]));
const warmStatuses = new Set<string>();
for (let i = 0; i < WARM_RUNS; i++) {
  for (const runner of warmRunners) {
    const sample = await timed(runner.handler, createEvent("warm"));
    warm.get(runner.name)?.total.push(sample.total);
    warm.get(runner.name)?.own.push(sample.own);
    warmStatuses.add(`${runner.name} ${sample.status}`);
  }
}
const warmSummary = Object.fromEntries(
  [...warm].map(([name, samples]) => [name, { total: summarize(samples.total), own: summarize(samples.own) }]),
);
const ourOwn = warmSummary.ours?.own.median ?? Number.NaN;

// ---- DynamoDB calls per request ---------------------------------------------
// Counted as on DynamoDB: on AWS's DynamoDB Local (Java; docs/dynamodb-local.md) with transactions on, where a
// failed conditional write carries the old item and TransactWriteItems exists (as test/dynamo-calls.test.ts).
// Without Java, on dynalite without transactions, and the report says so.
const calls: Record<string, string[]> = {};
const retry = <T extends { requestContext: object }>(event: T) => ({
  ...event,
  requestContext: { ...event.requestContext, requestId: randomUUID() },
});
// Its own customer: a create for one Align already holds would not be a first create below.
const onDynalite = createEvent("calls-dynalite");
await timed(ourCreate, onDynalite);
const replayOnDynalite = (await timed(ourCreate, retry(onDynalite))).calls;
const dynamoDbLocal = await openDynamoDbLocal().catch((error: unknown) => {
  if (error instanceof DynamoDbLocalUnavailableError) return error.message;
  throw error;
});
const callsOn =
  typeof dynamoDbLocal === "string"
    ? `dynalite without transactions (DynamoDB Local unavailable: ${dynamoDbLocal})`
    : "DynamoDB Local, DYNAMODB_TRANSACTIONS=true";
log(`DynamoDB calls per request, on ${callsOn}`);
if (typeof dynamoDbLocal === "string") {
  process.env.DYNAMODB_TRANSACTIONS = "false";
} else {
  // Named apart: the DynamoDB Local may be a test run's, shared (DYNAMODB_LOCAL_ENDPOINT).
  const tableName = `bench-calls-${randomUUID().slice(0, 8)}`;
  await ensureTable(dynamoDbLocal.client, tableName);
  Object.assign(process.env, { DYNAMODB_ENDPOINT: dynamoDbLocal.endpoint, TABLE_NAME: tableName });
}
resetRuntime();
timeDynamo(getRuntime().dynamo);
timeAlign(getRuntime().align);
const first = createEvent("calls");
calls["first create"] = (await timed(ourCreate, first)).calls;
calls["replay (dynalite: no old item on a failed write)"] = replayOnDynalite;
calls.replay = (await timed(ourCreate, retry(first))).calls;
sandbox?.addFault({ route: AlignRoute.CreateCustomer, action: { type: "delay", ms: 300 } });
const slow = createEvent("inflight");
const holder = timed(ourCreate, slow);
await new Promise((resolve) => setTimeout(resolve, 100));
calls["in-flight repeat"] = (await timed(ourCreate, slow)).calls;
await holder;
const created = JSON.parse(
  String(((await ourCreate(createEvent("calls-kyc") as never, context())) as { body: string }).body),
) as { customer_id: string };
const withId = (method: string, routeKey: string, path: string, body?: string) => ({
  ...apiEvent(method, routeKey, path, body),
  pathParameters: { customer_id: created.customer_id },
});
calls["GET (fresh)"] = (
  await timed(
    (
      await import("../functions/get-customer.js")
    ).handler,
    withId("GET", "GET /customers/{customer_id}", `/customers/${created.customer_id}`),
  )
).calls;
calls["KYC start"] = (
  await timed(
    (
      await import("../functions/start-kyc.js")
    ).handler,
    withId("POST", "POST /customers/{customer_id}/kyc-sessions", `/customers/${created.customer_id}/kyc-sessions`),
  )
).calls;
const hook = JSON.stringify({
  event_type: "customer.kycs.updated",
  entity_id: created.customer_id,
  entity_type: "customer",
  created_at: new Date(Date.now() + 5_000).toISOString(),
  entity_object: { ...created, kycs: { status: "approved" } },
});
calls.webhook = (
  await timed(
    (
      await import("../functions/align-webhook.js")
    ).handler,
    apiEvent("POST", "POST /webhooks/align", "/webhooks/align", hook, {
      "x-hmac-signature": signPayload(hook, "sandbox-key"),
    }),
  )
).calls;
const replayCalls = calls["replay (dynalite: no old item on a failed write)"]?.length ?? 0;
const replayOnDynamo = calls.replay?.length ?? 0;
// The throughput runs on the stack's dynalite, as before the count.
Object.assign(process.env, env, { DYNAMODB_TRANSACTIONS: "false" });
resetRuntime();
if (typeof dynamoDbLocal !== "string") await dynamoDbLocal.close();

// ---- throughput ------------------------------------------------------------
log(`throughput: ${SECONDS} s each over loopback (creates, replays, raw PutItem)`);
const token = stack.token("bench-user");
const cannon = (opts: autocannon.Options) =>
  new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(opts, (error, result) => (error ? reject(error) : resolve(result)));
  });
const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
const creates = await cannon({
  url: `${stack.apiUrl}/customers`,
  connections: 16,
  duration: SECONDS,
  requests: [
    {
      method: "POST",
      setupRequest: (request) => ({
        ...request,
        headers: { ...headers, "idempotency-key": randomUUID() },
        body: createBody("tp"),
      }),
    },
  ],
});
const replayBody = createBody("tp-replay");
await realFetch(`${stack.apiUrl}/customers`, {
  method: "POST",
  headers: { ...headers, "idempotency-key": "bench-replay" },
  body: replayBody,
});
const replays = await cannon({
  url: `${stack.apiUrl}/customers`,
  connections: 16,
  duration: SECONDS,
  method: "POST",
  headers: { ...headers, "idempotency-key": "bench-replay" },
  body: replayBody,
});
/** PutItem as fast as 16 callers can, for `SECONDS`; `conditional` adds the lock's condition expression. */
async function putRateOf(conditional: boolean): Promise<number> {
  let puts = 0;
  const until = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < until) {
        await stack.dynamo.client.send(
          new PutItemCommand({
            TableName: stack.tableName,
            Item: { pk: { S: `BENCH#${randomUUID()}` }, sk: { S: "BENCH" }, data: { S: "x".repeat(200) } },
            ...(conditional ? { ConditionExpression: "attribute_not_exists(pk)" } : {}),
          }),
        );
        puts += 1;
      }
    }),
  );
  return puts / SECONDS;
}
const putRate = await putRateOf(false);
const conditionalPutRate = await putRateOf(true);
await stack.close();

// ---- report ----------------------------------------------------------------
const createCold = coldOf("create-customer");
const strongestCold = coldOf(Ref.strongest);
const typicalCold = coldOf(Ref.typical);
const floorCold = coldOf(Ref.floor);
const ratio = (a: number, b: number) => (b === 0 ? Number.NaN : a / b);
const x = (value: number) => `${value.toFixed(2)}x`;
const worstSize = ours.reduce((worst, fn) => (size(fn.file).min > size(worst.file).min ? fn : worst));
const worstSizeRatio = ratio(size(worstSize.file).min, strongestSize.min);
const importVsFloor = ratio(createCold?.importMs.median ?? 0, floorCold?.importMs.median ?? 0);
const totalVsStrongest = ratio(createCold?.totalMs.median ?? 0, strongestCold?.totalMs.median ?? 0);
const callCount = (name: string) => calls[name]?.length ?? Number.NaN;
const targetsTable = [
  {
    target: "every function's bundle <= 0.5x the strongest peer's bytes",
    value: `${x(worstSizeRatio)} (largest: ${worstSize.name}, ${kib(size(worstSize.file).min)} vs ${kib(strongestSize.min)})`,
    met: worstSizeRatio <= 0.5,
  },
  {
    target: "create-customer import <= 1.3x the SDK floor's import (medians)",
    value: `${x(importVsFloor)} (${ms(createCold?.importMs.median ?? 0)} vs ${ms(floorCold?.importMs.median ?? 0)})`,
    met: importVsFloor <= 1.3,
  },
  {
    target: "create-customer import + first invocation <= 0.75x the strongest peer's (medians)",
    value: `${x(totalVsStrongest)} (${ms(createCold?.totalMs.median ?? 0)} vs ${ms(strongestCold?.totalMs.median ?? 0)})`,
    met: totalVsStrongest <= 0.75,
  },
  {
    target: "first create <= 3 DynamoDB calls",
    value: String(callCount("first create")),
    met: callCount("first create") <= 3,
  },
  {
    target: "replay = 1 DynamoDB call where the old item is returned",
    value: `${replayOnDynamo} (dynalite: ${replayCalls})`,
    met: replayOnDynamo === 1,
  },
  { target: "GET = 1 DynamoDB call", value: String(callCount("GET (fresh)")), met: callCount("GET (fresh)") === 1 },
  {
    target: "KYC start <= 3 DynamoDB calls",
    value: String(callCount("KYC start")),
    met: callCount("KYC start") <= 3,
  },
  {
    target: "webhook (an event that carries its customer) = 1 DynamoDB call",
    value: String(callCount("webhook")),
    met: callCount("webhook") === 1,
  },
  {
    target: "our own time per warm create < 0.5 ms (median)",
    value: `${ourOwn.toFixed(3)} ms`,
    met: ourOwn < 0.5,
  },
];

const load = loadavg()
  .map((value) => value.toFixed(2))
  .join(", ");
const machine = `${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`;
const sizeRow = (s: { name: string; min: number; gzip: number }) =>
  `| ${s.name} | ${kib(s.min)} | ${kib(s.gzip)} | ${x(ratio(s.min, strongestSize.min))} | ${x(ratio(s.min, typicalSize.min))} | ${x(ratio(s.min, floorSize.min))} |`;
const coldRow = (c: (typeof cold)[number]) =>
  `| ${c.name} | ${ms(c.importMs.median)} (${ms(c.importMs.p10)}-${ms(c.importMs.p90)}) | ${x(ratio(c.importMs.median, floorCold?.importMs.median ?? 0))} | ${ms(c.firstInvocationMs.median)} (${ms(c.firstInvocationMs.p10)}-${ms(c.firstInvocationMs.p90)}) | ${ms(c.totalMs.median)} | ${x(ratio(c.totalMs.median, strongestCold?.totalMs.median ?? 0))} | ${x(ratio(c.totalMs.median, typicalCold?.totalMs.median ?? 0))} | ${x(ratio(c.totalMs.median, floorCold?.totalMs.median ?? 0))} | ${c.statuses.join(", ")} |`;
const md = `# Benchmark results

Run by \`npm run bench\` on ${new Date().toISOString()} (${machine}), in ${((performance.now() - started) / 1000).toFixed(0)} s;
load average at the start ${loadAtStart}, at the end ${load}.
All numbers come from this one run on a shared 2-core machine: read ratios, not absolutes. Cold starts are ${COLD_RUNS} fresh
processes per target, interleaved round by round; the warm path is ${WARM_RUNS} in-process invocations each, interleaved.

References, built in this run (\`bench/peer/\`, dev-only):
- **${Ref.strongest}**: create-customer as Powertools' and zod 4's docs write it: Powertools Idempotency (DynamoDB
  persistence layer) + Logger through Middy, \`import * as z from "zod"\`, the DynamoDB client alone; SST's default build.
- **${Ref.typical}**: the same with \`import { z } from "zod"\` and a DocumentClient; SST's default build.
- **${Ref.floor}**: the DynamoDB client alone with the commands a create uses, making a create's three writes (no
  validation, no Align call, no logging); built with our tuned settings. What any create on this SDK loads at least.

## Targets

| target | this run | met |
|---|---|---|
${targetsTable.map((t) => `| ${t.target} | ${t.value} | ${t.met ? "yes" : "**no**"} |`).join("\n")}

## Bundle bytes (esbuild ESM, minified, keepNames, node22, AWS SDK inside)

| bundle | minified | gzip | vs strongest peer | vs typical peer | vs SDK floor |
|---|---|---|---|---|---|
${sizes.map(sizeRow).join("\n")}

## Cold start (fresh process: import, then first invocation against the local stack)

| function | import median (p10-p90) | import vs SDK floor | first invocation median (p10-p90) | total median | total vs strongest | vs typical | vs floor | answered |
|---|---|---|---|---|---|---|---|---|
${cold.map(coldRow).join("\n")}

The SDK floor's first invocation makes three DynamoDB writes and no Align call, so its total is a floor for the import
only; the peers' and ours include the Align call to the emulator.

## Warm path (create-customer, in process, against the same dynalite and emulator)

| | total median | total p99 | own time median (total minus DynamoDB and Align calls) | own p99 |
|---|---|---|---|---|
${[...Object.entries(warmSummary)].map(([name, w]) => `| ${name} | ${ms(w.total.median)} | ${ms(w.total.p99)} | ${ms(w.own.median)} | ${ms(w.own.p99)} |`).join("\n")}

Answers: ${[...warmStatuses].sort().join(", ")}. Time inside DynamoDB calls is measured around each client's \`send\` (so it
includes the SDK's serialisation, middleware and signing; for the peers, Powertools' calls; the typical peer's
DocumentClient marshalling counts as its own code); time inside Align calls around each Align client method (validation,
HTTP, response parsing). Own time is the rest: the handler, our HTTP adapter, idempotency logic, logging.

## DynamoDB calls per request (counted in the SDK middleware stack)

| request | calls |
|---|---|
${Object.entries(calls)
  .map(([name, list]) => `| ${name} | ${list.length}: ${list.map((c) => c.replace("Command", "")).join(", ")} |`)
  .join("\n")}

Counted on ${callsOn} (the dynalite replay apart), as in \`test/dynamo-calls.test.ts\`. AWS's DynamoDB
Local has what DynamoDB has and dynalite lacks: a failed conditional write carries the current item
(\`ReturnValuesOnConditionCheckFailure\`), so a replay or an in-flight repeat makes no GetItem; and TransactWriteItems, so
a KYC start writes its session and its completion in one call (on dynalite: two). Why each route needs what it makes:
README, "DynamoDB calls per request".

## Local throughput (information, not a target; loopback, 16 connections, ${SECONDS} s each)

| load | requests/s | p50 latency | p99 latency | non-2xx |
|---|---|---|---|---|
| creates, distinct keys | ${creates.requests.average.toFixed(0)} | ${creates.latency.p50} ms | ${creates.latency.p99} ms | ${creates.non2xx} |
| replays, one key | ${replays.requests.average.toFixed(0)} | ${replays.latency.p50} ms | ${replays.latency.p99} ms | ${replays.non2xx} |
| raw PutItem on the same dynalite | ${putRate.toFixed(0)} | | | |
| conditional PutItem (as our writes are) | ${conditionalPutRate.toFixed(0)} | | | |

Everything here shares one Node process and one core: the API Gateway emulator, the handlers, the AWS SDK, dynalite, the
Align emulator and the load generator (the raw PutItem loop pays only the SDK and dynalite). So this measures the SDK's
per-call cost and the single-threaded local stack more than our code; in AWS each of these runs elsewhere.
`;
writeFileSync(`${OUT_DIR}/results.md`, md);
writeFileSync(
  `${OUT_DIR}/results.json`,
  `${JSON.stringify({ when: new Date().toISOString(), machine, load: { start: loadAtStart, end: load }, sizes, cold, warm: warmSummary, calls, callsOn, throughput: { creates: creates.requests.average, replays: replays.requests.average, putItem: putRate, conditionalPutItem: conditionalPutRate }, targets: targetsTable }, null, 2)}\n`,
);
console.log(`\n${targetsTable.map((t) => `${t.met ? "MET    " : "NOT MET"}  ${t.target}: ${t.value}`).join("\n")}\n`);
console.log(`wrote ${OUT_DIR}/results.md and results.json`);
process.exit(0);
