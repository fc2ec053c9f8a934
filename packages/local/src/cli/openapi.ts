/**
 * `npm run openapi`: writes docs/openapi.json, docs/openapi.app.json and the
 * client's types (packages/client/src/api-types.ts) from the schemas; tests
 * fail when any of them drifts.
 */
import { writeFileSync } from "node:fs";
import { openApiAppDocument, openApiDocument } from "../openapi-file.js";
import { renderApiTypes } from "../openapi-types.js";

for (const [path, text] of [
  ["docs/openapi.json", openApiDocument()],
  ["docs/openapi.app.json", openApiAppDocument()],
  ["packages/client/src/api-types.ts", renderApiTypes(JSON.parse(openApiAppDocument()))],
] as const) {
  const file = new URL(`../../../../${path}`, import.meta.url);
  writeFileSync(file, text);
  console.log(`wrote ${file.pathname}`);
}
