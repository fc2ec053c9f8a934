import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * `GET /docs` on `npm start`: an interactive reference of `/openapi.json`
 * (Swagger UI from the swagger-ui-dist package's own files: no CDN, no
 * network), where "Authorize" takes a bearer token and "Try it out" calls the
 * local stack. Only local: the deployed API serves the document, not a UI
 * (see docs/api.md, "API reference").
 *
 * What the page adds for a first try: a dev token one click away
 * (`GET /docs/token`, signed with the local secret, so only on `npm start`),
 * authorization kept across reloads, and on every Execute a fresh
 * Idempotency-Key and a unique example email, so a second try is not a replay
 * or a 409.
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
  <style>
    .local-note { box-sizing: border-box; max-width: 1460px; margin: 16px auto 0; padding: 12px 20px;
      font: 14px/1.5 sans-serif; color: #3b4151; background: #f0f7ff; border: 1px solid #b7d4f5; border-radius: 4px; }
    .local-note code { font-size: 13px; background: #fff; padding: 0 3px; border-radius: 3px; }
    .local-note button { font: 600 14px sans-serif; color: #fff; background: #49cc90; border: 0; border-radius: 4px;
      padding: 6px 12px; margin-right: 8px; cursor: pointer; }
    .local-note button code { background: transparent; color: inherit; padding: 0; }
    @media (max-width: 600px) { .local-note { margin: 8px; } }
  </style>
</head>
<body>
  <div class="local-note" id="local-note">
    <p><strong>Local stack.</strong> <button type="button" id="dev-token">Authorize as <code>docs-user</code></button>
    <span id="dev-token-state">uses a dev token from this server.</span> Another caller:
    <code>npm run --silent token -- &lt;sub&gt;</code>, then paste it in <em>Authorize</em>. Authorization is kept across reloads.</p>
    <p>On <em>Execute</em>, the key <code>fresh-on-every-try</code> becomes a new UUID and <code>+fresh</code> in an
    example email a unique tag, so each try is a new request (type your own key to see a replay).</p>
  </div>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl null: Swagger UI would otherwise send the document to an online validator.
// The page's copy of the document prefills placeholders the request interceptor replaces on each
// Execute; the document itself (/openapi.json) is not changed.
const INIT = `const FRESH_KEY = "fresh-on-every-try";
const hex = (bytes) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const uuid = () => { const h = hex(16); return h.slice(0, 8) + "-" + h.slice(8, 12) + "-4" + h.slice(13, 16) + "-a" + h.slice(17, 20) + "-" + h.slice(20); };

function localCopy(spec) {
  const key = spec.components && spec.components.parameters && spec.components.parameters.IdempotencyKey;
  if (key) key.example = FRESH_KEY;
  const body = spec.paths["/customers"] && spec.paths["/customers"].post && spec.paths["/customers"].post.requestBody;
  const media = body && body.content["application/json"];
  for (const example of Object.values((media && media.examples) || {})) {
    if (example.value && typeof example.value.email === "string") example.value.email = example.value.email.replace("@", "+fresh@");
  }
  return spec;
}

fetch("/openapi.json").then((r) => r.json()).then((spec) => {
  window.ui = SwaggerUIBundle({
    spec: localCopy(spec),
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    displayRequestDuration: true,
    tryItOutEnabled: true,
    persistAuthorization: true,
    requestInterceptor: (request) => {
      for (const name of Object.keys(request.headers || {})) {
        if (name.toLowerCase() === "idempotency-key" && request.headers[name] === FRESH_KEY) request.headers[name] = uuid();
      }
      if (typeof request.body === "string" && request.body.includes("+fresh@")) {
        request.body = request.body.split("+fresh@").join("+" + hex(4) + "@");
      }
      return request;
    },
  });
});

const state = document.getElementById("dev-token-state");
// Swagger UI keeps authorization in localStorage ("authorized") when persistAuthorization is on.
if ((localStorage.getItem("authorized") || "").includes("bearer")) state.textContent = "authorized (kept from before the reload).";
document.getElementById("dev-token").addEventListener("click", async () => {
  const response = await fetch("/docs/token");
  if (!response.ok) { state.textContent = "no dev token here (" + response.status + ")."; return; }
  window.ui.preauthorizeApiKey("bearer", (await response.json()).token);
  // preauthorizeApiKey does not persist by itself (the Authorize dialog does).
  window.ui.authActions.persistAuthorizationIfNeeded();
  state.textContent = "authorized as docs-user (kept across reloads).";
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

/** The subject of the token `GET /docs/token` gives. */
export const DOCS_TOKEN_SUBJECT = "docs-user";

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
