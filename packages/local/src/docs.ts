import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * `GET /docs` on `npm start`: an interactive reference of `/openapi.json`
 * (Swagger UI from the swagger-ui-dist package's own files: no CDN, no
 * network), where "Authorize" takes a bearer token and "Try it out" calls the
 * local stack. Only local: the deployed API serves the document, not a UI
 * (see README, "API reference").
 */
const assets = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>align-onboarding API reference</title>
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an online validator.
const INIT = `window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
  deepLinking: true,
  displayRequestDuration: true,
  tryItOutEnabled: true,
});
`;

/** The files served under /docs/, and nothing else (no path from the request reaches the disk). */
const FILES = new Map<string, { type: string; file?: string; text?: string }>([
  ["/docs", { type: "text/html; charset=utf-8", text: PAGE }],
  ["/docs/", { type: "text/html; charset=utf-8", text: PAGE }],
  ["/docs/init.js", { type: "text/javascript; charset=utf-8", text: INIT }],
  ["/docs/swagger-ui.css", { type: "text/css; charset=utf-8", file: "swagger-ui.css" }],
  ["/docs/swagger-ui-bundle.js", { type: "text/javascript; charset=utf-8", file: "swagger-ui-bundle.js" }],
  ["/docs/favicon-32x32.png", { type: "image/png", file: "favicon-32x32.png" }],
]);

const cache = new Map<string, Buffer>();

/** The answer to `GET <pathname>` when it is a /docs file, else undefined. */
export async function docsAsset(pathname: string): Promise<{ type: string; body: Buffer } | undefined> {
  const entry = FILES.get(pathname);
  if (!entry) return undefined;
  let body = cache.get(pathname);
  if (!body) {
    body = entry.file === undefined ? Buffer.from(entry.text ?? "") : await readFile(join(assets, entry.file));
    cache.set(pathname, body);
  }
  return { type: entry.type, body };
}
