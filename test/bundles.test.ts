/**
 * The bundles, not just the sources, work: each function is built as SST
 * builds it, then imported in a fresh Node process (no TypeScript loader, no
 * workspace resolution) and invoked with a sample event against the local stack.
 */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { signPayload } from "@align-onboarding/align";
import { type BuiltFunction, buildFunctions } from "@align-onboarding/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const run = promisify(execFile);
let t: TestStack;
let built: Map<string, BuiltFunction>;
let mine = "";

beforeAll(async () => {
  const outDir = mkdtempSync(`${tmpdir()}/bundles-`);
  built = new Map((await buildFunctions(outDir)).map((fn) => [fn.name, fn]));
  t = await startTestStack({ registerWebhook: false });
  mine = (await t.api("POST", "/customers", { body: individual("bundle-owner@example.com") })).json
    .customer_id as string;
}, 60_000);
afterAll(() => t.close());

const event = (method: string, routeKey: string, rawPath: string, extra: Record<string, unknown> = {}) => ({
  version: "2.0",
  routeKey,
  rawPath,
  rawQueryString: "",
  headers: { "content-type": "application/json", "idempotency-key": `bundle-${Math.random()}` },
  requestContext: {
    requestId: `bundle-${Math.random()}`,
    routeKey,
    http: { method, path: rawPath },
    authorizer: { jwt: { claims: { sub: "user-a" }, scopes: null } },
  },
  isBase64Encoded: false,
  ...extra,
});

/** Imports the bundle in a fresh process and prints what the handler returned. */
async function invokeBundle(name: string, payload: unknown) {
  const file = built.get(name)?.file;
  const script = `const { handler } = await import(${JSON.stringify(file)});
    const deadline = Date.now() + 10000;
    const result = await handler(JSON.parse(process.env.EVENT), { awsRequestId: "bundle", getRemainingTimeInMillis: () => deadline - Date.now() });
    process.stdout.write(JSON.stringify(result));`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    env: {
      PATH: process.env.PATH,
      EVENT: JSON.stringify(payload),
      ...t.functionEnv(),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      // As in Lambda: credentials in the environment, read by the bundled env-only provider.
      AWS_ACCESS_KEY_ID: "bundle-test",
      AWS_SECRET_ACCESS_KEY: "bundle-test",
      AWS_SESSION_TOKEN: "bundle-test",
      LOG_LEVEL: "error",
    },
  });
  // The result is the last line (metric lines, which ignore LOG_LEVEL, may come before it).
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as { statusCode?: number; body?: string } & Record<
    string,
    unknown
  >;
}

describe("function bundles", () => {
  it("every function is one self-contained ESM file", () => {
    expect([...built.keys()].sort()).toEqual(
      [
        "align-webhook",
        "create-customer",
        "get-customer",
        "openapi",
        "sandbox-reset",
        "sandbox-simulate",
        "start-kyc",
      ].sort(),
    );
    for (const fn of [...built.values()].filter((entry) => entry.name !== "openapi")) {
      const inputs = Object.keys(fn.metafile.inputs);
      expect(inputs.some((input) => input.includes("@aws-sdk/client-dynamodb"))).toBe(true); // the SDK is inside
      // ... without the credential chain Lambda never uses (SSO, profiles, STS, IMDS).
      expect(inputs.filter((input) => /credential-provider-(node|ini|sso|imds)|nested-clients/.test(input))).toEqual(
        [],
      );
      expect(fn.bytes).toBeGreaterThan(0);
    }
  });

  it("create-customer creates", async () => {
    const result = await invokeBundle(
      "create-customer",
      event("POST", "POST /customers", "/customers", { body: JSON.stringify(individual("bundled@example.com")) }),
    );
    expect(result.statusCode).toBe(201);
    expect(JSON.parse(result.body ?? "{}").email).toBe("bundled@example.com");
  });

  it("get-customer reads, start-kyc starts, sandbox-simulate approves", async () => {
    const path = (suffix: string) => ({
      pathParameters: { customer_id: mine },
      rawPath: `/customers/${mine}${suffix}`,
    });
    const read = await invokeBundle("get-customer", {
      ...event("GET", "GET /customers/{customer_id}", `/customers/${mine}`),
      ...path(""),
    });
    expect(read.statusCode).toBe(200);
    const kyc = await invokeBundle("start-kyc", {
      ...event("POST", "POST /customers/{customer_id}/kyc-sessions", `/customers/${mine}/kyc-sessions`),
      ...path("/kyc-sessions"),
    });
    expect(kyc.statusCode).toBe(201);
    const simulated = await invokeBundle("sandbox-simulate", {
      ...event("POST", "POST /sandbox/customers/{customer_id}/simulate", `/sandbox/customers/${mine}/simulate`, {
        body: '{"action":"kyc.status.approve"}',
      }),
      pathParameters: { customer_id: mine },
    });
    expect(simulated.statusCode).toBe(200);
  });

  it("align-webhook verifies and applies a signed delivery", async () => {
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: mine,
      entity_type: "customer",
      created_at: new Date().toISOString(),
    });
    const unsigned = await invokeBundle(
      "align-webhook",
      event("POST", "POST /webhooks/align", "/webhooks/align", { body }),
    );
    expect(unsigned.statusCode).toBe(401);
    const signed = await invokeBundle("align-webhook", {
      ...event("POST", "POST /webhooks/align", "/webhooks/align", { body }),
      headers: { "content-type": "application/json", "x-hmac-signature": signPayload(body, "sandbox-key") },
    });
    expect(signed.statusCode).toBe(200);
  });

  it("openapi serves the document with no configuration at all", async () => {
    const file = built.get("openapi")?.file;
    const { stdout } = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { handler } = await import(${JSON.stringify(file)}); process.stdout.write((await handler({})).body);`,
      ],
      { env: { PATH: process.env.PATH } },
    );
    expect(JSON.parse(stdout).openapi).toBe("3.1.0");
  });

  it("sandbox-reset counts in a dry run", async () => {
    const report = await invokeBundle("sandbox-reset", { dryRun: true });
    expect(report).toMatchObject({ dry_run: true, complete: true });
    expect((report.counts as { customer: number }).customer).toBeGreaterThanOrEqual(2);
  });
});
