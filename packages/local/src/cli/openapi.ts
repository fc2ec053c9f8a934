/** `npm run openapi`: writes docs/openapi.json from the schemas (a test fails when it drifts). */
import { writeFileSync } from "node:fs";
import { openApiDocument } from "../openapi-file.js";

const file = new URL("../../../../docs/openapi.json", import.meta.url);
writeFileSync(file, openApiDocument());
console.log(`wrote ${file.pathname}`);
