import { Audience, buildOpenApi } from "@align-onboarding/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { routesFor } from "./routes.js";

/** Built documents by server URL and audience: one or two per warm instance. */
const documents = new Map<string, string>();

const LOOPBACK = /^(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?$/;

/**
 * The URL this API is served at, from the request: in AWS the stage's URL
 * (`https://<domain>`, plus `/<stage>` for a named stage), locally
 * `http://127.0.0.1:<the real port>` from the Host the gateway saw.
 */
export function serverUrlOf(event?: Partial<APIGatewayProxyEventV2>): string | undefined {
  const domain = event?.requestContext?.domainName;
  if (!domain) return undefined;
  if (LOOPBACK.test(domain)) return `http://${domain}`;
  const stage = event.requestContext?.stage;
  return `https://${domain}${stage && stage !== "$default" ? `/${stage}` : ""}`;
}

/**
 * `GET /openapi.json`: the API's OpenAPI 3.1 document, built from the same
 * schemas the handlers validate with, naming the server it is served from;
 * `?audience=app` leaves out what apps never call (Align's webhook, this
 * document). Needs no configuration, token or table, so it answers even when
 * they are broken.
 */
export const handler = async (event?: Partial<APIGatewayProxyEventV2>) => {
  const serverUrl = serverUrlOf(event);
  const app = event?.queryStringParameters?.audience === Audience.App;
  const cacheKey = `${app ? "app" : "all"} ${serverUrl ?? ""}`;
  let document = documents.get(cacheKey);
  if (document === undefined) {
    document = JSON.stringify(
      buildOpenApi(routesFor(process.env.ALIGN_ENVIRONMENT === "production" ? "production" : "sandbox"), {
        ...(serverUrl === undefined ? {} : { serverUrl }),
        ...(app ? { audience: Audience.App } : {}),
      }),
    );
    // Bounded: the key comes from the request's domain, which API Gateway sets (a Host header only locally).
    if (documents.size < 16) documents.set(cacheKey, document);
  }
  return {
    statusCode: 200,
    headers: {
      "content-type": "application/json",
      "cache-control": "public, max-age=300",
      "x-request-id": event?.requestContext?.requestId ?? "local",
    },
    body: document,
  };
};
