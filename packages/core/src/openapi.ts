import { CustomerIdSchema, SIGNATURE_HEADER, WebhookEventBaseSchema } from "@align-onboarding/align";
import * as z from "zod";
import {
  CreateCustomerBodySchema,
  CURSOR_MAX_LENGTH,
  CURSOR_PATTERN,
  SimulateBodySchema,
  StartKycBodySchema,
} from "./customers/api-schemas.js";
import {
  CustomerListResponseSchema,
  CustomerResponseSchema,
  GatewayMessageSchema,
  KycSessionResponseSchema,
  KycsResponseSchema,
  ProblemSchema,
  SimulateResponseSchema,
  WebhookAckSchema,
} from "./customers/response-schemas.js";
import { MAX_BODY_BYTES } from "./http/body.js";
import { PROBLEM_TYPE_PREFIX, type ProblemCode, Problems } from "./http/problem.js";
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency/key.js";
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

/**
 * A variant of a request union, closed: a property zod forbids (`not: {}`, the
 * other type's field) is left out, and `additionalProperties: false` refuses it
 * (and any other) the same way, so a generated client has no such field.
 */
function closedVariant(variant: Json): Json {
  const properties = Object.fromEntries(
    Object.entries(variant.properties as Record<string, Json>)
      .filter(([, value]) => !("not" in value))
      .map(([key, value]) => [key, NAME_FIELDS.has(key) ? nameField(value) : value]),
  );
  return { ...variant, properties, additionalProperties: false };
}

const NAME_FIELDS = new Set(["first_name", "last_name", "company_name"]);

/**
 * A name as the server takes it: at most 255 characters as sent, then trimmed,
 * and refused when nothing but whitespace is left. The lookahead says the
 * last part (`.` never meets a line terminator: those are refused anyway, and
 * ECMA-262's `\s` is exactly what String.prototype.trim removes).
 */
function nameField(field: Json): Json {
  const pattern = String(field.pattern ?? "^.*$");
  return {
    ...field,
    pattern: `^(?=.*\\S)${pattern.slice(1)}`,
    description:
      "At most 255 characters as sent (UTF-16 code units: a character beyond U+FFFF counts two); leading and trailing whitespace is trimmed, and at least one other character must remain",
  };
}
const [individualRequest, corporateRequest] = (schema(CreateCustomerBodySchema, "input").oneOf as Json[]).map(
  closedVariant,
);
const json = (body: Json, example?: unknown) => ({
  "application/json": { schema: body, ...(example === undefined ? {} : { example }) },
});

/**
 * Who calls an operation (`x-audience` on each): `app` the mobile and web
 * apps, `align` Align's webhook deliveries, `tooling` this document. The `app`
 * document (`buildOpenApi(routes, { audience: "app" })`, `GET
 * /openapi.json?audience=app`, docs/openapi.app.json) has only the first, so a
 * client generated from it has no webhook method.
 */
export const Audience = { App: "app", Align: "align", Tooling: "tooling" } as const;
export type Audience = (typeof Audience)[keyof typeof Audience];

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

/** Response headers (inline, because a header's `required` differs by status). */
const HEADERS = {
  RequestId: {
    description: "Our request id, also `request_id` in a problem: quote it when asking for help",
    schema: { type: "string", minLength: 1 },
  },
  RetryAfter: { description: "Seconds to wait before retrying", schema: { type: "integer", minimum: 0 } },
  IdempotentReplayed: {
    description: "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
    schema: { type: "string", enum: ["true"] },
  },
} as const;
const header = (name: keyof typeof HEADERS, required: boolean) => ({ ...HEADERS[name], required });

/**
 * The statuses API Gateway answers itself, before or instead of a function,
 * with `{"message": ...}` as `application/json`: a refused token (401), no
 * route (404, also a sandbox route on production), a body over 10 MiB (413),
 * a request line or headers over its quota (414, 431), a malformed request
 * (400), throttling (429), and a function that failed or timed out (500, 503).
 */
function gatewayStatuses(auth: "jwt" | "none", hasBody: boolean): number[] {
  return [400, ...(auth === "jwt" ? [401] : []), 404, ...(hasBody ? [413] : []), 414, 429, 431, 500, 503];
}

interface Answers {
  success: { status: number; description: string; schema: Json; example: unknown };
  problems: ProblemCode[];
  auth: "jwt" | "none";
  hasBody: boolean;
  /** Answers may be replays of a stored one (`Idempotent-Replayed`). */
  idempotent: boolean;
}

/**
 * Every answer an operation can give, by status: its success, our problems
 * (`application/problem+json`) and API Gateway's own (`application/json`).
 * A header is `required` where every answer of that status carries it.
 */
function answers({ success, problems, auth, hasBody, idempotent }: Answers): Json {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of problems)
    byStatus.set(Problems[code].status, [...(byStatus.get(Problems[code].status) ?? []), code]);
  const gateway = new Set(gatewayStatuses(auth, hasBody));
  const statuses = [...new Set([success.status, ...byStatus.keys(), ...gateway])].sort((a, b) => a - b);
  const responses: Json = {};
  for (const status of statuses) {
    const codes = byStatus.get(status) ?? [];
    const ours = status === success.status || codes.length > 0;
    const theirs = gateway.has(status);
    const content: Json = {};
    const headers: Json = {};
    const descriptions: string[] = [];
    if (status === success.status) {
      descriptions.push(success.description);
      Object.assign(content, json(success.schema, success.example));
    }
    if (codes.length > 0) {
      descriptions.push(codes.map((code) => `\`${code}\`: ${Problems[code].title}`).join("; "));
      content["application/problem+json"] = {
        schema: ref("Problem"),
        example: {
          type: `${PROBLEM_TYPE_PREFIX}${codes[0]}`,
          title: Problems[codes[0] as ProblemCode].title,
          status,
          code: codes[0],
          request_id: "4f9c2a7e-1b3d-4c5e-9f00-123456789abc",
        },
      };
    }
    if (theirs) {
      descriptions.push('API Gateway\'s own answer (`{"message": ...}`)');
      content["application/json"] ??= { schema: ref("GatewayMessage"), example: { message: GATEWAY_MESSAGES[status] } };
    }
    if (ours) {
      headers["X-Request-Id"] = header("RequestId", !theirs);
      if (status >= 500 || codes.includes("idempotency_key_in_use")) {
        headers["Retry-After"] = header("RetryAfter", status >= 500 && !theirs);
      }
      if (idempotent && status < 500) headers["Idempotent-Replayed"] = header("IdempotentReplayed", false);
    }
    responses[String(status)] = {
      description: descriptions.join(". "),
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      content,
    };
  }
  return responses;
}

const GATEWAY_MESSAGES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

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

const customerIdParameter = { $ref: "#/components/parameters/CustomerId" };
const keyParameter = { $ref: "#/components/parameters/IdempotencyKey" };

/** Operation documentation, by route key. */
const OPERATIONS: Record<string, Json> = {
  "POST /customers": {
    operationId: "createCustomer",
    tags: ["customers"],
    "x-audience": Audience.App,
    summary: "Create a customer",
    description:
      "Creates the customer at Align and records it as the caller's. An `individual` has `first_name` and `last_name`, a `corporate` `company_name`; the other type's fields and unknown fields are refused (400 with the field's path).",
    parameters: [keyParameter],
    requestBody: {
      required: true,
      // The two shapes by name, each a ready example (Swagger UI offers them in a list).
      content: {
        "application/json": {
          schema: ref("CreateCustomerRequest"),
          examples: {
            individual: {
              summary: "Individual (first_name, last_name)",
              value: { email: "alice@example.com", type: "individual", first_name: "Alice", last_name: "Smith" },
            },
            corporate: {
              summary: "Corporate (company_name)",
              value: { email: "treasury@acme.example", type: "corporate", company_name: "Acme Ltd" },
            },
          },
        },
      },
    },
    responses: answers({
      success: {
        status: 201,
        description: "Created (or the replay of an earlier create)",
        schema: ref("Customer"),
        example: exampleCustomer,
      },
      problems: [...BODY, ...KEY, "unauthorized", "email_already_exists", "upstream_rejected", ...TRANSIENT],
      auth: "jwt",
      hasBody: true,
      idempotent: true,
    }),
  },
  "GET /customers": {
    operationId: "listCustomers",
    tags: ["customers"],
    "x-audience": Audience.App,
    summary: "List the caller's customers",
    description: "Newest first, paged with `next_cursor`. Any other query parameter is refused (400).",
    parameters: [
      {
        name: "limit",
        in: "query",
        required: false,
        description: "Page size",
        schema: { type: "integer", minimum: 1, maximum: 100, default: 50 },
      },
      {
        name: "cursor",
        in: "query",
        required: false,
        description:
          "`next_cursor` of the previous page, as given: `<version>.<payload>.<mac>` (the signing secret's version, then base64url). A cursor we did not sign, or signed with a secret no longer held, is a 400 `validation_failed` on `cursor`",
        schema: { type: "string", minLength: 1, maxLength: CURSOR_MAX_LENGTH, pattern: CURSOR_PATTERN },
      },
    ],
    responses: answers({
      success: {
        status: 200,
        description: "The caller's customers",
        schema: ref("CustomerList"),
        example: { items: [exampleCustomer] },
      },
      problems: ["validation_failed", "unauthorized", ...TRANSIENT],
      auth: "jwt",
      hasBody: false,
      idempotent: false,
    }),
  },
  "GET /customers/{customer_id}": {
    operationId: "getCustomer",
    tags: ["customers"],
    "x-audience": Audience.App,
    summary: "Get one of the caller's customers",
    description:
      "A KYC status that is not final and older than the refresh bound is re-read from Align first; if Align cannot be reached, the stored copy is returned with `stale: true`. Another caller's customer is 404, as a missing one.",
    parameters: [customerIdParameter],
    responses: answers({
      success: { status: 200, description: "The customer", schema: ref("Customer"), example: exampleCustomer },
      problems: ["validation_failed", "unauthorized", "not_found", ...TRANSIENT],
      auth: "jwt",
      hasBody: false,
      idempotent: false,
    }),
  },
  "POST /customers/{customer_id}/kyc-sessions": {
    operationId: "startKycSession",
    tags: ["kyc"],
    "x-audience": Audience.App,
    summary: "Start KYC (or get the open session)",
    parameters: [customerIdParameter, keyParameter],
    requestBody: { required: false, content: json(ref("StartKycRequest"), {}) },
    responses: answers({
      success: {
        status: 201,
        description: "The KYC session",
        schema: ref("KycSession"),
        example: { kycs: exampleKycs },
      },
      problems: [...BODY, ...KEY, "unauthorized", "not_found", "upstream_rejected", ...TRANSIENT],
      auth: "jwt",
      hasBody: true,
      idempotent: true,
    }),
  },
  "POST /sandbox/customers/{customer_id}/simulate": {
    operationId: "simulateKyc",
    tags: ["sandbox"],
    "x-audience": Audience.App,
    summary: "Simulate a KYC decision (sandbox stages only)",
    description:
      "The new status arrives through Align's webhook; read it back with getCustomer. Production stages have no such route (API Gateway's 404).",
    parameters: [customerIdParameter, keyParameter],
    requestBody: { required: true, content: json(ref("SimulateRequest"), { action: "kyc.status.approve" }) },
    responses: answers({
      success: {
        status: 200,
        description: "Accepted by Align",
        schema: ref("SimulateResponse"),
        example: { customer_id: exampleCustomer.customer_id, action: "kyc.status.approve" },
      },
      problems: [
        ...BODY,
        ...KEY,
        "unauthorized",
        "not_found",
        "kyc_not_started",
        "kyc_session_expired",
        "upstream_rejected",
        ...TRANSIENT,
      ],
      auth: "jwt",
      hasBody: true,
      idempotent: true,
    }),
  },
  "POST /webhooks/align": {
    operationId: "receiveAlignWebhook",
    tags: ["webhooks"],
    "x-audience": Audience.Align,
    summary: "Align's webhook deliveries",
    description:
      "Called by Align, not by apps (so it is not in the `app` document). Signed with `x-hmac-signature` (hex HMAC-SHA256 of the raw body). Duplicates are answered 200 and do nothing. An event without `entity_object` (the older format) is re-read at Align: Align's 404 for the customer is acknowledged as `unknown_customer`; any other failure of that read (our key refused, an odd answer, Align down) is a 5xx with `Retry-After`, never a 4xx, so Align delivers it again.",
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
    responses: answers({
      success: {
        status: 200,
        description: "Acknowledged",
        schema: ref("WebhookAck"),
        example: { received: true, outcome: "processed" },
      },
      problems: ["invalid_webhook_payload", "invalid_signature", "payload_too_large", ...TRANSIENT],
      auth: "none",
      hasBody: true,
      idempotent: false,
    }),
  },
  "GET /openapi.json": {
    operationId: "getOpenApi",
    tags: ["meta"],
    "x-audience": Audience.Tooling,
    summary: "This document",
    description:
      "`?audience=app` gives only the operations apps call (no webhook, no document); any other value, or none, gives the whole document.",
    security: [],
    parameters: [
      {
        name: "audience",
        in: "query",
        required: false,
        description:
          "`app`: only what mobile and web apps call. Any other value is not refused: it gives the whole document",
        schema: { type: "string", examples: [Audience.App] },
      },
    ],
    responses: answers({
      success: {
        status: 200,
        description: "The OpenAPI document",
        schema: { type: "object", required: ["openapi", "info", "paths"] },
        example: undefined,
      },
      problems: [],
      auth: "none",
      hasBody: false,
      idempotent: false,
    }),
  },
};

/** Every `$ref` a value makes, transitively resolved against `components`. */
function referenced(value: unknown, components: Record<string, Record<string, unknown>>, found = new Set<string>()) {
  if (Array.isArray(value)) for (const item of value) referenced(item, components, found);
  else if (typeof value === "object" && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string" && !found.has(inner)) {
        found.add(inner);
        const [, , kind = "", name = ""] = inner.split("/");
        referenced(components[kind]?.[name], components, found);
      } else referenced(inner, components, found);
    }
  }
  return found;
}

export interface OpenApiOptions {
  /**
   * The URL the API is served at: where the document is served from (locally
   * the real port, in AWS the stage's URL). Without it, the local default as a
   * template (`http://127.0.0.1:{port}`).
   */
  serverUrl?: string;
  /** `app`: only the operations mobile and web apps call (see {@link Audience}). */
  audience?: typeof Audience.App;
}

/**
 * The OpenAPI 3.1 document of the public API, generated from the zod schemas
 * the handlers validate requests with and build responses to, and from the
 * route table it is given.
 *
 * @example
 * ```ts
 * const document = buildOpenApi(routesFor("sandbox"), { serverUrl: "https://api.example.com" });
 * const forApps = buildOpenApi(routesFor("sandbox"), { audience: "app" }); // no webhook, no document
 * ```
 */
export function buildOpenApi(routes: readonly OpenApiRoute[], options: OpenApiOptions = {}): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const operation = OPERATIONS[`${route.method} ${route.path}`];
    if (!operation) throw new Error(`No OpenAPI documentation for ${route.method} ${route.path}`);
    if (options.audience !== undefined && operation["x-audience"] !== options.audience) continue;
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation };
  }
  const components: Record<string, Record<string, unknown>> = {
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
        description: `A new UUID per user action, reused on that action's retries. 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters; the quoted form \`"abc"\` (no quotes or backslashes inside) means \`abc\`. Answers are replayed for 24 hours.`,
        schema: {
          type: "string",
          minLength: 1,
          maxLength: MAX_IDEMPOTENCY_KEY_LENGTH + 2,
          pattern: IDEMPOTENCY_KEY_PATTERN,
        },
      },
      CustomerId: { name: "customer_id", in: "path", required: true, schema: schema(CustomerIdSchema, "input") },
    },
    schemas: {
      CreateCustomerRequest: {
        description: "A customer to create: an `individual` (first and last name) or a `corporate` (company name).",
        oneOf: [ref("IndividualCustomerRequest"), ref("CorporateCustomerRequest")],
        discriminator: {
          propertyName: "type",
          mapping: {
            individual: "#/components/schemas/IndividualCustomerRequest",
            corporate: "#/components/schemas/CorporateCustomerRequest",
          },
        },
      },
      IndividualCustomerRequest: { title: "Individual customer", ...individualRequest },
      CorporateCustomerRequest: { title: "Corporate customer", ...corporateRequest },
      StartKycRequest: withRefs(
        { ...schema(StartKycBodySchema, "input"), additionalProperties: false },
        {
          // The server checks the text as sent, then that it parses as a URL (see api-schemas.ts).
          redirect_uri: {
            ...(schema(StartKycBodySchema, "input").properties as Record<string, Json>).redirect_uri,
            format: "uri",
            description: "Where the KYC flow returns: https, or http to 127.0.0.1, localhost or [::1] only",
          },
        },
      ),
      SimulateRequest: { ...schema(SimulateBodySchema, "input"), additionalProperties: false },
      Kycs: schema(KycsResponseSchema, "output"),
      Customer: withRefs(schema(CustomerResponseSchema, "output"), {
        kycs: { anyOf: [ref("Kycs"), { type: "null" }], description: "`null` until KYC starts" },
      }),
      CustomerList: withRefs(schema(CustomerListResponseSchema, "output"), {
        items: { type: "array", items: ref("Customer") },
      }),
      KycSession: withRefs(schema(KycSessionResponseSchema, "output"), { kycs: ref("Kycs") }),
      SimulateResponse: schema(SimulateResponseSchema, "output"),
      WebhookEvent: {
        ...schema(WebhookEventBaseSchema, "input"),
        description: "Align's delivery; open, as Align may add fields",
      },
      WebhookAck: withRefs(schema(WebhookAckSchema, "output"), {
        outcome: {
          ...(schema(WebhookAckSchema, "output").properties as Record<string, Json>).outcome,
          description:
            "`processed`: applied. `duplicate`: this delivery was already applied. `stale`: a newer state is stored. `unknown_customer`: not a customer of ours, or Align no longer has it (its 404 when re-read); nothing written. `ignored_event_type`: not an event we act on. `entity_mismatch`: `entity_object` is another customer than `entity_id`; nothing written. Each is final: Align need not deliver it again.",
        },
      }),
      Problem: {
        ...schema(ProblemSchema, "output"),
        description: `RFC 9457 problem details, the body of every error our functions answer. Bodies over ${MAX_BODY_BYTES} bytes are refused.`,
      },
      GatewayMessage: {
        ...schema(GatewayMessageSchema, "output"),
        description:
          "API Gateway's own answer (refused token, no route, throttling, a failed function): HTTP APIs cannot change it, so it has no `code` or `request_id`",
      },
    },
  };
  const used = referenced(paths, components);
  const keep = (kind: string) =>
    Object.fromEntries(
      Object.entries(components[kind] ?? {}).filter(
        ([name]) => options.audience === undefined || used.has(`#/components/${kind}/${name}`),
      ),
    );
  const tags = [
    { name: "customers" },
    { name: "kyc" },
    { name: "sandbox", description: "Only on sandbox stages" },
    { name: "webhooks", description: "Called by Align" },
    { name: "meta" },
  ].filter(({ name }) =>
    Object.values(paths).some((item) =>
      Object.values(item).some((operation) => ((operation as { tags?: string[] }).tags ?? []).includes(name)),
    ),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: options.audience === Audience.App ? "align-onboarding (app operations)" : "align-onboarding",
      version: "0.1.0",
      description:
        "Onboard customers onto Align: create a customer, start KYC, follow its status and, in sandbox, simulate approval. Errors are RFC 9457 problem+json with a stable `code`; API Gateway's own answers are `{\"message\"}`. Objects are closed (`additionalProperties: false`) so generated types are exact; clients should still ignore fields they do not know, as a later version may add some. Each operation's `x-audience` says who calls it (`app`, `align`, `tooling`); `?audience=app` gives the operations apps call.",
    },
    servers: [
      options.serverUrl === undefined
        ? {
            url: "http://127.0.0.1:{port}",
            description: "Local stack (`npm start`); the served document names the URL it was fetched from",
            variables: { port: { default: "3000" } },
          }
        : { url: options.serverUrl },
    ],
    security: [{ bearer: [] }],
    tags,
    paths,
    components: {
      securitySchemes: components.securitySchemes,
      parameters: keep("parameters"),
      schemas: keep("schemas"),
    },
  };
}

/** A generated object schema with some properties replaced by references to named components. */
function withRefs(generated: Json, properties: Json): Json {
  return { ...generated, properties: { ...(generated.properties as Json), ...properties } };
}
