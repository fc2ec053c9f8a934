import { buildOpenApi } from "@align-onboarding/core";
import { routesFor } from "../../../functions/routes.js";

/** docs/openapi.json as it should be: the sandbox route set (a superset of production's), pretty-printed. */
export function openApiDocument(): string {
  return `${JSON.stringify(buildOpenApi(routesFor("sandbox")), null, 2)}\n`;
}
