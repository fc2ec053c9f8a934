/**
 * The document says exactly what the server does: the response validator the
 * API test helper runs on every answer catches a wrong one; header, parameter
 * and email bounds are the server's own; the gateway's `{"message"}` answers
 * are their own schema; `servers` names where the document is served; and the
 * `app` document has only what apps call.
 */
import { createServer } from "node:http";
import { EmailSchema } from "@align-onboarding/align";
import {
  Audience,
  buildOpenApi,
  IDEMPOTENCY_KEY_PATTERN,
  type ProblemError,
  requireIdempotencyKey,
} from "@align-onboarding/core";
import { openApiAppDocument, openApiDocument } from "@align-onboarding/local";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverUrlOf } from "../functions/openapi.js";
import { routesFor } from "../functions/routes.js";
import { createResponseValidator, type ObservedResponse } from "./support/openapi-validator.js";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

// biome-ignore lint/suspicious/noExplicitAny: the document is walked as untyped JSON
type Json = Record<string, any>;
const document = JSON.parse(openApiDocument()) as Json;
const validate = createResponseValidator(document);

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false });
});
afterAll(() => t.close());

describe("the response validator of the API test helper", () => {
  let created: ObservedResponse;
  beforeAll(async () => {
    const answer = await t.api("POST", "/customers", { body: individual("validator@example.com") });
    created = { method: "POST", path: "/customers", status: answer.status, headers: answer.headers, body: answer.text };
  });
  const withBody = (change: (body: Json) => void): ObservedResponse => {
    const body = JSON.parse(created.body) as Json;
    change(body);
    return { ...created, body: JSON.stringify(body) };
  };
  const withHeaders = (change: (headers: Headers) => void): ObservedResponse => {
    const headers = new Headers(created.headers);
    change(headers);
    return { ...created, headers };
  };

  it("passes a real answer", () => {
    expect(created.status).toBe(201);
    expect(validate(created)).toEqual([]);
  });

  it.each([
    ["an extra (misspelled) field", (body: Json) => Object.assign(body, { frist_name: "A" }), "additional"],
    [
      "a KYC status outside the enum",
      (body: Json) => Object.assign(body, { kycs: { status: "in_review" } }),
      "allowed values",
    ],
    ["a type outside the enum", (body: Json) => Object.assign(body, { type: "robot" }), "allowed values"],
    ["a missing required field", (body: Json) => delete body.customer_id, "required"],
  ])("catches %s in the body", (_, change, word) => {
    expect(validate(withBody(change)).join("\n")).toContain(word);
  });

  it("catches an undocumented status, content type or header value, and a missing required header", () => {
    expect(validate({ ...created, status: 418 })).toEqual(["status 418 is not documented"]);
    expect(validate(withHeaders((h) => h.set("content-type", "text/plain")))[0]).toMatch(/content type "text\/plain"/);
    expect(validate(withHeaders((h) => h.delete("x-request-id")))).toEqual(["header X-Request-Id is required"]);
    expect(validate(withHeaders((h) => h.set("idempotent-replayed", "yes")))[0]).toMatch(/Idempotent-Replayed/);
    const unavailable = {
      method: "GET",
      path: "/customers",
      status: 502,
      headers: new Headers({ "content-type": "application/problem+json", "x-request-id": "r", "retry-after": "soon" }),
      body: JSON.stringify({ type: "t", title: "t", status: 502, code: "upstream_error", request_id: "r" }),
    };
    expect(validate(unavailable)).toEqual([expect.stringMatching(/^header Retry-After: .* must be integer/)]);
  });

  it("catches a problem body where API Gateway answers, and anything but its message on a path no operation has", () => {
    const gateway = {
      method: "GET",
      path: "/nowhere",
      status: 404,
      headers: new Headers({ "content-type": "application/json" }),
    };
    expect(validate({ ...gateway, body: '{"message":"Not Found"}' })).toEqual([]);
    expect(validate({ ...gateway, body: '{"message":"Not Found","code":"not_found"}' }).join()).toContain("additional");
    expect(validate({ ...gateway, status: 200, body: "{}" }).length).toBeGreaterThan(0);
  });

  it("fails the helper's call when a server answers off the document", async () => {
    const wrong = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-request-id": "r" });
      res.end(JSON.stringify({ items: [{ customer_id: "c", email: "e", kycs: null, nickname: "x" }] }));
    });
    await new Promise<void>((resolve) => wrong.listen(0, "127.0.0.1", resolve));
    const real = t.stack.apiUrl;
    try {
      const { port } = wrong.address() as { port: number };
      t.stack.apiUrl = `http://127.0.0.1:${port}`;
      await expect(t.api("GET", "/customers")).rejects.toThrow(/does not match docs\/openapi\.json[\s\S]*additional/);
    } finally {
      t.stack.apiUrl = real;
      await new Promise((resolve) => wrong.close(resolve));
    }
  });
});

describe("bounds: the document's equal the server's", () => {
  const ajv = new Ajv2020({ strict: false });
  addFormats.default(ajv);

  it("Idempotency-Key: the documented pattern accepts exactly the values the server accepts", () => {
    const parameter = document.components.parameters.IdempotencyKey;
    expect(parameter.schema.pattern).toBe(IDEMPOTENCY_KEY_PATTERN);
    const documented = ajv.compile(parameter.schema);
    const serverAccepts = (value: string) => {
      try {
        requireIdempotencyKey({ headers: { "idempotency-key": value } } as never);
        return true;
      } catch (error) {
        expect((error as ProblemError).code).toBe("idempotency_key_invalid");
        return false;
      }
    };
    const char = fc.oneof(
      fc.constantFrom('"', "\\", " ", "a", "~", "\u007f", "\u0000", "é", "\t"),
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }),
    );
    const value = fc.oneof(
      fc.array(char, { maxLength: 12 }).map((chars) => chars.join("")),
      fc.integer({ min: 250, max: 260 }).map((n) => "k".repeat(n)),
      fc.integer({ min: 250, max: 260 }).map((n) => `"${"k".repeat(n)}"`),
    );
    fc.assert(
      fc.property(value, (raw) => {
        // HTTP delivers a header value without leading or trailing whitespace.
        const sent = raw.trim();
        if (sent === "") return;
        expect([sent, documented(sent)]).toEqual([sent, serverAccepts(sent)]);
      }),
      { numRuns: 3000, seed: 15 },
    );
  });

  it("email: the document's email (format + pattern + length) accepts exactly what the server and the Align client do", () => {
    const emailSchema = document.components.schemas.IndividualCustomerRequest.properties.email;
    expect(emailSchema).toMatchObject({ format: "email", maxLength: 254 });
    const documented = ajv.compile(emailSchema);
    const local = fc.oneof(
      fc.stringMatching(/^[a-z0-9._'+-]{1,70}$/),
      fc.integer({ min: 60, max: 70 }).map((n) => "a".repeat(n)),
    );
    const domain = fc.oneof(
      fc.domain(),
      fc.stringMatching(/^[a-z0-9-]{1,66}\.[a-z0-9]{1,4}$/),
      fc.constantFrom("example.com", "b-.co", "-b.co", "b.c", "b.c0m", "x.y.z"),
    );
    const email = fc.oneof(
      fc.emailAddress(),
      fc.tuple(local, domain).map(([l, d]) => `${l}@${d}`),
      fc.string({ maxLength: 30 }),
    );
    fc.assert(
      fc.property(email, (value) => {
        expect([value, documented(value)]).toEqual([value, EmailSchema.safeParse(value).success]);
      }),
      { numRuns: 5000, seed: 15 },
    );
    expect(documented(`${"a".repeat(65)}@example.com`)).toBe(false);
    expect(EmailSchema.safeParse(`${"a".repeat(65)}@example.com`).success).toBe(false);
  });

  it("limit is an integer 1..100 and cursor non-empty, in the document and on the server", async () => {
    const [limit, cursor] = document.paths["/customers"].get.parameters;
    expect(limit.schema).toEqual({ type: "integer", minimum: 1, maximum: 100, default: 50 });
    expect(cursor.schema).toMatchObject({ type: "string", minLength: 1 });
    for (const [query, status] of [
      ["limit=1", 200],
      ["limit=100", 200],
      ["limit=0", 400],
      ["limit=101", 400],
      ["limit=1.5", 400],
      ["limit=0x10", 400],
      ["limit=1e1", 400],
      ["cursor=", 400],
    ] as const) {
      expect([query, (await t.api("GET", `/customers?${query}`)).status]).toEqual([query, status]);
    }
  });
});

describe("what the document tells a client", () => {
  it("API Gateway's own 401 and 404 are their own schema (no code, no request_id), beside our problems", async () => {
    const gateway = document.components.schemas.GatewayMessage;
    expect(gateway).toMatchObject({ required: ["message"], additionalProperties: false });
    for (const operation of Object.values(document.paths).flatMap((item) => Object.values(item as Json))) {
      expect(operation.responses["404"].content["application/json"].schema.$ref).toBe(
        "#/components/schemas/GatewayMessage",
      );
    }
    const list = document.paths["/customers"].get.responses["401"].content;
    expect(Object.keys(list).sort()).toEqual(["application/json", "application/problem+json"]);
    const refused = await t.api("GET", "/customers", { token: "not-a-jwt" });
    expect([refused.status, refused.headers.get("content-type"), refused.json]).toEqual([
      401,
      "application/json",
      { message: "Unauthorized" },
    ]);
  });

  it("documents Idempotent-Replayed, Retry-After and X-Request-Id where they are sent", async () => {
    const create = document.paths["/customers"].post.responses;
    expect(Object.keys(create["201"].headers).sort()).toEqual(["Idempotent-Replayed", "X-Request-Id"]);
    expect(create["201"].headers["X-Request-Id"].required).toBe(true);
    expect(create["409"].headers["Retry-After"]).toBeDefined();
    expect(create["502"].headers["Retry-After"].required).toBe(true);
    // And the server sends them (the helper checks their values on every call).
    const key = "contract-replay";
    const first = await t.api("POST", "/customers", { key, body: individual("replay-doc@example.com") });
    const again = await t.api("POST", "/customers", { key, body: individual("replay-doc@example.com") });
    expect([first.headers.get("idempotent-replayed"), again.headers.get("idempotent-replayed")]).toEqual([
      null,
      "true",
    ]);
    expect(again.headers.get("x-request-id")).toEqual(expect.any(String));
  });

  it("objects are closed: every object schema of a response or request says additionalProperties: false", () => {
    const open: string[] = [];
    for (const [name, schema] of Object.entries(document.components.schemas as Json)) {
      if (name === "WebhookEvent" || name === "CreateCustomerRequest") continue; // Align's event is open; the union has variants
      const walk = (value: Json, path: string) => {
        if (value.type === "object" && value.additionalProperties !== false) open.push(path);
        for (const inner of Object.values(value.properties ?? {})) walk(inner as Json, `${path}.?`);
        if (value.items) walk(value.items, `${path}[]`);
        for (const option of value.anyOf ?? []) walk(option, path);
      };
      walk(schema as Json, name);
    }
    expect(open).toEqual([]);
  });

  it("servers is where the document is served: locally the real port, in AWS the stage's URL", async () => {
    const served = await t.api("GET", "/openapi.json");
    expect((served.json.servers as Json[])[0]).toEqual({ url: t.stack.apiUrl });
    expect(t.stack.apiUrl).not.toMatch(/:3000$/);
    const aws = { requestContext: { domainName: "abc123.execute-api.eu-west-1.amazonaws.com", stage: "$default" } };
    expect(serverUrlOf(aws as never)).toBe("https://abc123.execute-api.eu-west-1.amazonaws.com");
    expect(serverUrlOf({ requestContext: { ...aws.requestContext, stage: "dev" } } as never)).toBe(
      "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
    );
    // The committed copy is a template for `npm start`'s port.
    expect(document.servers[0]).toMatchObject({
      url: "http://127.0.0.1:{port}",
      variables: { port: { default: "3000" } },
    });
  });

  it("the app document (docs/openapi.app.json, ?audience=app) has what apps call and no webhook or document", async () => {
    const app = JSON.parse(openApiAppDocument()) as Json;
    const operations = Object.values(app.paths).flatMap((item) => Object.values(item as Json)) as Json[];
    expect(operations.map((operation) => operation.operationId).sort()).toEqual([
      "createCustomer",
      "getCustomer",
      "listCustomers",
      "simulateKyc",
      "startKycSession",
    ]);
    expect(operations.every((operation) => operation["x-audience"] === Audience.App)).toBe(true);
    expect(Object.keys(app.components.schemas)).not.toContain("WebhookEvent");
    const result = await new Validator().validate(app);
    expect(result.errors ?? []).toEqual([]);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(new URL("../docs/openapi.app.json", import.meta.url), "utf8")).toBe(openApiAppDocument());
    const served = await t.api("GET", "/openapi.json?audience=app");
    expect(served.json).toEqual(
      buildOpenApi(routesFor("sandbox"), { audience: Audience.App, serverUrl: t.stack.apiUrl }),
    );
    // Every operation of the full document says who calls it.
    const all = Object.values(document.paths).flatMap((item) => Object.values(item as Json)) as Json[];
    expect(Object.fromEntries(all.map((operation) => [operation.operationId, operation["x-audience"]]))).toMatchObject({
      receiveAlignWebhook: "align",
      getOpenApi: "tooling",
    });
  });
});
