import { Audience, buildOpenApi } from "@align-onboarding/core";
import { routesFor } from "../../../functions/routes.js";

/** docs/openapi.json as it should be: the sandbox route set (a superset of production's), pretty-printed. */
export function openApiDocument(): string {
  return `${JSON.stringify(buildOpenApi(routesFor("sandbox")), null, 2)}\n`;
}

/** docs/openapi.app.json: only the operations mobile and web apps call (generate app clients from this one). */
export function openApiAppDocument(): string {
  return `${JSON.stringify(buildOpenApi(routesFor("sandbox"), { audience: Audience.App }), null, 2)}\n`;
}
