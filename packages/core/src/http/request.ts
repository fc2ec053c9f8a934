import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";

/** What a handler sees of an API Gateway HTTP API (payload v2) event. */
export interface HttpRequest {
  method: string;
  /** The route template, e.g. `POST /customers/{customer_id}/kyc-sessions`. */
  routeKey: string;
  /** The concrete path, e.g. `/customers/123.../kyc-sessions`. */
  rawPath: string;
  /** Lower-cased names (API Gateway v2 lower-cases them already). */
  headers: Record<string, string>;
  query: Record<string, string>;
  pathParameters: Record<string, string>;
  /** The exact bytes received (base64-decoded when API Gateway encoded them). */
  body: Buffer;
  requestId: string;
  /** JWT claims API Gateway's authorizer verified; undefined on unauthenticated routes. */
  claims: Record<string, unknown> | undefined;
}

export type ApiEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

/**
 * Null-prototype maps: a header or parameter named `__proto__` is kept as
 * data (on a plain object the assignment would vanish), and `constructor`
 * finds nothing that was not sent.
 */
const emptyMap = (): Record<string, string> => Object.create(null) as Record<string, string>;

function lowerCased(source: Record<string, string | undefined> | undefined): Record<string, string> {
  const out = emptyMap();
  for (const [name, value] of Object.entries(source ?? {})) if (value !== undefined) out[name.toLowerCase()] = value;
  return out;
}

function defined(source: Record<string, string | undefined> | undefined): Record<string, string> {
  const out = emptyMap();
  for (const [name, value] of Object.entries(source ?? {})) if (value !== undefined) out[name] = value;
  return out;
}

/** Turns an API Gateway v2 event into a typed request. */
export function toHttpRequest(event: ApiEvent, fallbackRequestId: string): HttpRequest {
  const context = event.requestContext as Partial<ApiEvent["requestContext"]> | undefined;
  const raw = event.body ?? "";
  return {
    method: context?.http?.method ?? "GET",
    routeKey: event.routeKey ?? context?.routeKey ?? "",
    rawPath: event.rawPath ?? context?.http?.path ?? "/",
    headers: lowerCased(event.headers),
    query: defined(event.queryStringParameters),
    pathParameters: defined(event.pathParameters),
    body: Buffer.from(raw, event.isBase64Encoded ? "base64" : "utf8"),
    requestId: context?.requestId ?? fallbackRequestId,
    claims: (context?.authorizer as { jwt?: { claims?: Record<string, unknown> } } | undefined)?.jwt?.claims,
  };
}
