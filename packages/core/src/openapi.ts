import { CustomerObjectSchema, KycsSchema, SIGNATURE_HEADER, WebhookEventBaseSchema } from "@align-onboarding/align";
import * as z from "zod/mini";
import {
  CreateCustomerBodySchema,
  ListCustomersLimitSchema,
  SimulateBodySchema,
  StartKycBodySchema,
} from "./customers/api-schemas.js";
import { MAX_BODY_BYTES } from "./http/body.js";
import { PROBLEM_TYPE_PREFIX, type ProblemCode, Problems } from "./http/problem.js";
import { IDEMPOTENCY_KEY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency/key.js";

/** What the document needs of a route (functions/routes.ts has more). */
export interface OpenApiRoute {
  method: string;
  path: string;
  auth: "jwt" | "none";
}

type Json = Record<string, unknown>;

const schema = (type: z.core.$ZodType, io: "input" | "output") => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(type, {
    target: "draft-2020-12",
    io,
    unrepresentable: "any",
  }) as Json;
  return rest;
};
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (body: Json, example?: unknown) => ({
  "application/json": { schema: body, ...(example === undefined ? {} : { example }) },
});

const exampleCustomer = {
  customer_id: "123e4567-e89b-12d3-a456-426614174000",
  email: "alice@example.com",
  type: "individual",
  first_name: "Alice",
  last_name: "Smith",
  kycs: null,
};
const exampleKycs = {
  status: "pending",
  sub_status: "kyc_form_submission_started",
  kyc_flow_link: "https://kyc.example.com/flow/abc",
  status_breakdown: [],
};

/** Problems a route can answer, by status. */
function problems(codes: ProblemCode[]) {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of codes) byStatus.set(Problems[code].status, [...(byStatus.get(Problems[code].status) ?? []), code]);
  const responses: Json = {};
  for (const [status, list] of [...byStatus.entries()].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: list.map((code) => `\`${code}\`: ${Problems[code].title}`).join("; "),
      ...(status >= 500 || list.includes("idempotency_key_in_use")
        ? { headers: { "Retry-After": { $ref: "#/components/headers/RetryAfter" } } }
        : {}),
      content: {
        "application/problem+json": {
          schema: ref("Problem"),
          example: {
            type: `${PROBLEM_TYPE_PREFIX}${list[0]}`,
            title: Problems[list[0] as ProblemCode].title,
            status,
            code: list[0],
            request_id: "4f9c2a7e-1b3d-4c5e-9f00-123456789abc",
          },
        },
      },
    };
  }
  return responses;
}

const TRANSIENT: ProblemCode[] = [
  "internal_error",
  "upstream_error",
  "upstream_unavailable",
  "upstream_rate_limited",
  "service_unavailable",
  "upstream_timeout",
];
const KEY: ProblemCode[] = [
  "idempotency_key_missing",
  "idempotency_key_invalid",
  "idempotency_key_in_use",
  "idempotency_key_reused",
];
const BODY: ProblemCode[] = [
  "validation_failed",
  "invalid_json",
  "invalid_body",
  "payload_too_large",
  "unsupported_media_type",
];

const replayed = {
  "Idempotent-Replayed": {
    description: "`true` when this is the stored answer to an earlier request with the same key",
    schema: { type: "string", enum: ["true"] },
  },
};

const customerIdParameter = { $ref: "#/components/parameters/CustomerId" };
const keyParameter = { $ref: "#/components/parameters/IdempotencyKey" };

/** Operation documentation, by route key. */
const OPERATIONS: Record<string, Json> = {
  "POST /customers": {
    operationId: "createCustomer",
    tags: ["customers"],
    summary: "Create a customer",
    description:
      "Creates the customer at Align and records it as the caller's. Names are required for `individual`, `company_name` for `corporate`; unknown fields are refused.",
    parameters: [keyParameter],
    requestBody: {
      required: true,
      content: json(ref("CreateCustomerRequest"), {
        email: "alice@example.com",
        type: "individual",
        first_name: "Alice",
        last_name: "Smith",
      }),
    },
    responses: {
      "201": {
        description: "Created (or the replay of an earlier create)",
        headers: replayed,
        content: json(ref("Customer"), exampleCustomer),
      },
      ...problems([...BODY, ...KEY, "unauthorized", "email_already_exists", "upstream_rejected", ...TRANSIENT]),
    },
  },
  "GET /customers": {
    operationId: "listCustomers",
    tags: ["customers"],
    summary: "List the caller's customers",
    description: "Newest first, paged with `next_cursor`.",
    parameters: [
      { name: "limit", in: "query", required: false, schema: schema(ListCustomersLimitSchema, "input") },
      {
        name: "cursor",
        in: "query",
        required: false,
        schema: { type: "string" },
        description: "`next_cursor` of the previous page",
      },
    ],
    responses: {
      "200": {
        description: "The caller's customers",
        content: json(ref("CustomerList"), { items: [exampleCustomer] }),
      },
      ...problems(["validation_failed", "unauthorized", ...TRANSIENT]),
    },
  },
  "GET /customers/{customer_id}": {
    operationId: "getCustomer",
    tags: ["customers"],
    summary: "Get one of the caller's customers",
    description:
      "A KYC status that is not final and older than the refresh bound is re-read from Align first; if Align cannot be reached, the stored copy is returned with `stale: true`.",
    parameters: [customerIdParameter],
    responses: {
      "200": { description: "The customer", content: json(ref("Customer"), exampleCustomer) },
      ...problems(["validation_failed", "unauthorized", "not_found", ...TRANSIENT]),
    },
  },
  "POST /customers/{customer_id}/kyc-sessions": {
    operationId: "startKycSession",
    tags: ["kyc"],
    summary: "Start KYC (or get the open session)",
    parameters: [customerIdParameter, keyParameter],
    requestBody: { required: false, content: json(ref("StartKycRequest"), {}) },
    responses: {
      "201": {
        description: "The KYC session",
        headers: replayed,
        content: json(ref("KycSession"), { kycs: exampleKycs }),
      },
      ...problems([...BODY, ...KEY, "unauthorized", "not_found", "upstream_rejected", ...TRANSIENT]),
    },
  },
  "POST /sandbox/customers/{customer_id}/simulate": {
    operationId: "simulateKyc",
    tags: ["sandbox"],
    summary: "Simulate a KYC decision (sandbox stages only)",
    description: "The new status arrives through Align's webhook; read it back with getCustomer.",
    parameters: [customerIdParameter, keyParameter],
    requestBody: { required: true, content: json(ref("SimulateRequest"), { action: "kyc.status.approve" }) },
    responses: {
      "200": {
        description: "Accepted by Align",
        headers: replayed,
        content: json(ref("SimulateResponse"), {
          customer_id: exampleCustomer.customer_id,
          action: "kyc.status.approve",
        }),
      },
      ...problems([...BODY, ...KEY, "unauthorized", "not_found", "kyc_not_started", "upstream_rejected", ...TRANSIENT]),
    },
  },
  "POST /webhooks/align": {
    operationId: "receiveAlignWebhook",
    tags: ["webhooks"],
    summary: "Align's webhook deliveries",
    description:
      "Called by Align, not by apps. Signed with `x-hmac-signature` (hex HMAC-SHA256 of the raw body). Duplicates are answered 200 and do nothing.",
    security: [],
    parameters: [
      {
        name: SIGNATURE_HEADER,
        in: "header",
        required: true,
        description: "Hex HMAC-SHA256 of the raw body, keyed with the Align API key",
        schema: { type: "string", pattern: "^[0-9a-fA-F]{64}$" },
      },
    ],
    requestBody: {
      required: true,
      content: json(ref("WebhookEvent"), {
        event_type: "customer.kycs.updated",
        entity_id: exampleCustomer.customer_id,
        entity_type: "customer",
        created_at: "2026-01-01T00:00:00.000Z",
      }),
    },
    responses: {
      "200": {
        description: "Acknowledged",
        content: json(ref("WebhookAck"), { received: true, outcome: "processed" }),
      },
      ...problems(["invalid_webhook_payload", "invalid_signature", "payload_too_large", ...TRANSIENT]),
    },
  },
  "GET /openapi.json": {
    operationId: "getOpenApi",
    tags: ["meta"],
    summary: "This document",
    security: [],
    responses: {
      "200": { description: "The OpenAPI document", content: { "application/json": { schema: { type: "object" } } } },
    },
  },
};

/**
 * The OpenAPI 3.1 document of the public API, generated from the zod schemas
 * the handlers validate with and from the route table it is given.
 *
 * @example
 * ```ts
 * const document = buildOpenApi(routesFor("sandbox"));
 * ```
 */
export function buildOpenApi(routes: readonly OpenApiRoute[], serverUrl = "http://127.0.0.1:3000"): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const operation = OPERATIONS[`${route.method} ${route.path}`];
    if (!operation) throw new Error(`No OpenAPI documentation for ${route.method} ${route.path}`);
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "align-onboarding",
      version: "0.1.0",
      description:
        "Onboard customers onto Align: create a customer, start KYC, follow its status and, in sandbox, simulate approval. Errors are RFC 9457 problem+json with a stable `code`.",
    },
    servers: [{ url: serverUrl, description: "Local stack (`npm start`); use your stage's API URL in AWS" }],
    security: [{ bearer: [] }],
    tags: [
      { name: "customers" },
      { name: "kyc" },
      { name: "sandbox", description: "Only on sandbox stages" },
      { name: "webhooks", description: "Called by Align" },
      { name: "meta" },
    ],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "A token your identity provider issued; `sub` identifies the caller",
        },
      },
      parameters: {
        IdempotencyKey: {
          name: IDEMPOTENCY_KEY_HEADER,
          in: "header",
          required: true,
          description:
            'A new UUID per user action, reused on retries. 1-255 printable ASCII characters; the quoted form `"abc"` means `abc`. Results are replayed for 24 hours.',
          schema: { type: "string", minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH + 2 },
        },
        CustomerId: {
          name: "customer_id",
          in: "path",
          required: true,
          schema: { type: "string", format: "uuid" },
        },
      },
      headers: {
        RetryAfter: { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 0 } },
      },
      schemas: {
        CreateCustomerRequest: { ...schema(CreateCustomerBodySchema, "input"), additionalProperties: false },
        StartKycRequest: { ...schema(StartKycBodySchema, "input"), additionalProperties: false },
        SimulateRequest: { ...schema(SimulateBodySchema, "input"), additionalProperties: false },
        Kycs: schema(KycsSchema, "output"),
        Customer: {
          ...schema(CustomerObjectSchema, "output"),
          properties: {
            ...(schema(CustomerObjectSchema, "output").properties as Json),
            kycs: { anyOf: [ref("Kycs"), { type: "null" }] },
            stale: {
              type: "boolean",
              description: "Present (true) when Align could not be reached to refresh the status",
            },
          },
        },
        CustomerList: {
          type: "object",
          required: ["items"],
          properties: { items: { type: "array", items: ref("Customer") }, next_cursor: { type: "string" } },
        },
        KycSession: { type: "object", required: ["kycs"], properties: { kycs: ref("Kycs") } },
        SimulateResponse: {
          type: "object",
          required: ["customer_id", "action"],
          properties: { customer_id: { type: "string", format: "uuid" }, action: { type: "string" } },
        },
        WebhookEvent: schema(WebhookEventBaseSchema, "input"),
        WebhookAck: {
          type: "object",
          required: ["received", "outcome"],
          properties: {
            received: { type: "boolean" },
            outcome: {
              type: "string",
              enum: ["processed", "duplicate", "stale", "unknown_customer", "ignored_event_type", "entity_mismatch"],
            },
          },
        },
        Problem: {
          type: "object",
          description: `RFC 9457 problem details. Bodies over ${MAX_BODY_BYTES} bytes are refused.`,
          required: ["type", "title", "status", "code", "request_id"],
          properties: {
            type: { type: "string", format: "uri", description: `\`${PROBLEM_TYPE_PREFIX}<code>\`` },
            title: { type: "string" },
            status: { type: "integer" },
            code: { type: "string", enum: Object.keys(Problems) },
            detail: { type: "string" },
            errors: {
              type: "array",
              items: {
                type: "object",
                required: ["path", "message"],
                properties: { path: { type: "array", items: { type: "string" } }, message: { type: "string" } },
              },
            },
            customer_id: {
              type: "string",
              description: "With `email_already_exists`, when the caller owns that customer",
            },
            request_id: { type: "string" },
          },
        },
      },
    },
  };
}
