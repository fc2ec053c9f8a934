/**
 * Checks an HTTP answer against the OpenAPI document: the status is one the
 * operation documents, the content type one of that status's, the body valid
 * against its schema (closed objects, enums, formats), and each documented
 * header present where required and valid where present. A path no operation
 * has may only get API Gateway's own `{"message"}` answer.
 */
import { openApiDocument } from "@align-onboarding/local";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

export interface ObservedResponse {
  method: string;
  /** Path and query, as requested. */
  path: string;
  status: number;
  headers: Headers;
  body: string;
}

type Json = Record<string, unknown>;
interface HeaderDoc {
  required?: boolean;
  schema: Json;
}
interface ResponseDoc {
  headers?: Record<string, HeaderDoc>;
  content?: Record<string, { schema: Json }>;
}
interface OperationDoc {
  responses: Record<string, ResponseDoc>;
}

// API Gateway answers these itself for any path, routed or not (see GatewayMessage in the document).
const GATEWAY_ANY_PATH = new Set([400, 404, 413, 414, 429, 431, 500, 503]);

/** A validator for one document (the committed docs/openapi.json unless given). */
export function createResponseValidator(document: Json = JSON.parse(openApiDocument()) as Json) {
  // Component references become references into one registered schema, so each body schema compiles alone.
  const rewritten = JSON.parse(
    JSON.stringify(document).replaceAll('"#/components/schemas/', '"components#/$defs/'),
  ) as Json & { paths: Record<string, Record<string, OperationDoc>>; components: { schemas: Json } };
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: "components", $defs: rewritten.components.schemas });
  const compiled = new Map<Json, ValidateFunction>();
  const check = (schema: Json, value: unknown): string[] => {
    let validate = compiled.get(schema);
    if (!validate) {
      validate = ajv.compile(schema);
      compiled.set(schema, validate);
    }
    if (validate(value)) return [];
    return (validate.errors ?? []).map(
      (error) => `${error.instancePath || "(root)"} ${error.message ?? "invalid"} ${JSON.stringify(error.params)}`,
    );
  };
  const templates = Object.keys(rewritten.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
  }));
  const gatewayMessage = { $ref: "components#/$defs/GatewayMessage" };

  return function validate(response: ObservedResponse): string[] {
    const errors: string[] = [];
    const pathname = new URL(response.path, "http://api.invalid").pathname;
    const template = templates.find(({ pattern }) => pattern.test(pathname))?.template;
    const operation = template ? rewritten.paths[template]?.[response.method.toLowerCase()] : undefined;
    const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
    let parsed: unknown;
    try {
      parsed = response.body === "" ? undefined : JSON.parse(response.body);
    } catch {
      errors.push("the body is not JSON");
    }
    if (!operation) {
      // No operation: only API Gateway's own answer.
      if (!GATEWAY_ANY_PATH.has(response.status)) errors.push(`status ${response.status} for a path no operation has`);
      if (mediaType !== "application/json") errors.push(`content type ${mediaType} for a path no operation has`);
      errors.push(...check(gatewayMessage, parsed));
      return errors;
    }
    const documented = operation.responses[String(response.status)] ?? operation.responses.default;
    if (!documented) return [`status ${response.status} is not documented`];
    for (const [name, header] of Object.entries(documented.headers ?? {})) {
      const value = response.headers.get(name);
      if (value === null) {
        if (header.required) errors.push(`header ${name} is required`);
        continue;
      }
      const typed = header.schema.type === "integer" && /^[0-9]+$/.test(value) ? Number(value) : value;
      errors.push(...check(header.schema, typed).map((message) => `header ${name}: ${message}`));
    }
    const content = documented.content ?? {};
    const media = content[mediaType];
    if (!media) {
      errors.push(`content type "${mediaType}" is not documented (${Object.keys(content).join(", ") || "no body"})`);
      return errors;
    }
    errors.push(...check(media.schema, parsed).map((message) => `body ${message}`));
    return errors;
  };
}

let shared: ReturnType<typeof createResponseValidator> | undefined;

/**
 * Throws, naming every mismatch, when the answer is not what the document says.
 *
 * @example
 * ```ts
 * assertDocumented({ method: "GET", path: "/customers", status: 200, headers, body });
 * ```
 */
export function assertDocumented(response: ObservedResponse): void {
  shared ??= createResponseValidator();
  const errors = shared(response);
  if (errors.length > 0) {
    throw new Error(
      `The answer does not match docs/openapi.json: ${response.method} ${response.path} -> ${response.status}\n- ${errors.join("\n- ")}\nbody: ${response.body.slice(0, 500)}`,
    );
  }
}
