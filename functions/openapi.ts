import { buildOpenApi } from "@align-onboarding/core";
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { routesFor } from "./routes.js";

let document: string | undefined;

/**
 * `GET /openapi.json`: the API's OpenAPI 3.1 document, built once per cold
 * start from the same schemas the handlers validate with. Needs no
 * configuration, token or table, so it answers even when they are broken.
 */
export const handler = async (event?: Partial<APIGatewayProxyEventV2>) => {
  const domain = event?.requestContext?.domainName;
  const server = domain && !domain.startsWith("127.0.0.1") ? `https://${domain}` : undefined;
  document ??= JSON.stringify(
    buildOpenApi(routesFor(process.env.ALIGN_ENVIRONMENT === "production" ? "production" : "sandbox"), server),
  );
  return {
    statusCode: 200,
    headers: { "content-type": "application/json", "cache-control": "public, max-age=300" },
    body: document,
  };
};
