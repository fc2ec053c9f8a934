/**
 * The OpenAPI document: generated from the handlers' zod schemas, committed
 * without drift, valid per a real OpenAPI validator, and served at
 * GET /openapi.json with no token and no DynamoDB.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CREATE_CUSTOMER_FIELDS, CreateCustomerBodySchema, Problems, SimulateBodySchema } from "@align-onboarding/core";
import { openApiDocument } from "@align-onboarding/local";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { routes } from "../functions/routes.js";
import { startTestStack } from "./support/stack.js";

const committed = readFileSync(fileURLToPath(new URL("../docs/openapi.json", import.meta.url)), "utf8");
const document = JSON.parse(openApiDocument()) as {
  paths: Record<
    string,
    Record<string, { operationId: string; requestBody?: { content: Record<string, { example?: unknown }> } }>
  >;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
};

describe("OpenAPI", () => {
  it("docs/openapi.json matches the schemas (run `npm run openapi` after changing them)", () => {
    expect(committed).toBe(openApiDocument());
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(JSON.parse(committed));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("documents every route, with unique camelCase operation ids", () => {
    const operations = routes.map((route) => document.paths[route.path]?.[route.method.toLowerCase()]);
    expect(operations.every(Boolean)).toBe(true);
    const ids = operations.map((operation) => operation?.operationId ?? "");
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
  });

  it("is generated from the handlers' own schemas: fields, required fields, and examples that validate", () => {
    const individual = document.components.schemas.IndividualCustomerRequest;
    const corporate = document.components.schemas.CorporateCustomerRequest;
    expect(individual?.required).toEqual(["email", "type", "first_name", "last_name"]);
    expect(corporate?.required).toEqual(["email", "type", "company_name"]);
    // Each variant lists its own fields only and is closed: the other type's fields are refused.
    expect(Object.keys(individual?.properties ?? {})).toEqual(["email", "type", "first_name", "last_name"]);
    expect(Object.keys(corporate?.properties ?? {})).toEqual(["email", "type", "company_name"]);
    expect(
      new Set([...Object.keys(individual?.properties ?? {}), ...Object.keys(corporate?.properties ?? {})]),
    ).toEqual(new Set(CREATE_CUSTOMER_FIELDS));
    expect(document.components.schemas.CreateCustomerRequest).toMatchObject({
      oneOf: [
        { $ref: "#/components/schemas/IndividualCustomerRequest" },
        { $ref: "#/components/schemas/CorporateCustomerRequest" },
      ],
      discriminator: { propertyName: "type" },
    });
    const example = (path: string, method: string) =>
      document.paths[path]?.[method]?.requestBody?.content["application/json"]?.example;
    // Create names its two shapes, each an example that validates.
    const media = document.paths["/customers"]?.post?.requestBody?.content["application/json"] as
      | { examples?: Record<string, { value: unknown }> }
      | undefined;
    const creates = media?.examples;
    expect(Object.keys(creates ?? {})).toEqual(["individual", "corporate"]);
    for (const [type, { value }] of Object.entries(creates ?? {})) {
      expect(CreateCustomerBodySchema.safeParse(value).success).toBe(true);
      expect((value as { type: string }).type).toBe(type);
    }
    expect(SimulateBodySchema.safeParse(example("/sandbox/customers/{customer_id}/simulate", "post")).success).toBe(
      true,
    );
    const code = document.components.schemas.Problem?.properties?.code as { enum?: string[] } | undefined;
    expect([...(code?.enum ?? [])].sort()).toEqual(Object.keys(Problems).sort());
  });

  it("is served at GET /openapi.json without a token, even with DynamoDB down", async () => {
    const t = await startTestStack({ registerWebhook: false });
    try {
      await t.stack.dynamo.close();
      const response = await fetch(`${t.stack.apiUrl}/openapi.json`);
      expect(response.status).toBe(200);
      const served = (await response.json()) as { openapi: string; paths: object };
      expect(served.openapi).toBe("3.1.0");
      expect(Object.keys(served.paths)).toEqual(Object.keys(document.paths));
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
