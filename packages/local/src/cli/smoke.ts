/**
 * `npm run smoke -- <api-url> [--read-only]`: checks a deployed stage (or the
 * local stack) end to end with a real token (SMOKE_TOKEN). Full mode walks the
 * seed's workflow: create, replay (Idempotent-Replayed), list, KYC start,
 * sandbox approval, and waits for `approved`. `--read-only` (production) only
 * calls routes that change nothing. One line per check; on failure one line
 * naming the problem and exit 1.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

function fail(message: string): never {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs({ allowPositionals: true, options: { "read-only": { type: "boolean" } } });
} catch (error) {
  console.error(
    `${error instanceof Error ? error.message : String(error)}\nusage: npm run smoke -- <api-url> [--read-only]`,
  );
  process.exit(2);
}
const [rawUrl] = args.positionals;
if (!rawUrl) {
  console.error("usage: npm run smoke -- <api-url> [--read-only]   (token in SMOKE_TOKEN)");
  process.exit(2);
}
let base: string;
try {
  base = new URL(rawUrl).toString().replace(/\/+$/, "");
} catch {
  fail(`"${rawUrl}" is not a URL`);
}
const token = process.env.SMOKE_TOKEN;
if (!token) fail("SMOKE_TOKEN is not set: export a token your identity provider issued for this stage");
const readOnly = args.values["read-only"] === true;

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; key?: string; auth?: boolean } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.auth !== false) headers.authorization = `Bearer ${token}`;
  if (options.key) headers["idempotency-key"] = options.key;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers,
      signal: AbortSignal.timeout(30_000),
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    fail(`cannot reach ${base}${cause ? ` (${cause})` : ""}: is the URL right and the stage deployed?`);
  }
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status === 401 && options.auth !== false)
    fail(`${method} ${path}: the stage rejected SMOKE_TOKEN (401)`);
  if (response.status >= 500)
    fail(`${method} ${path}: the stage answered ${response.status} ${String(json.code ?? json.message ?? "")}`.trim());
  return { status: response.status, headers: response.headers, json };
}

function check(ok: boolean, label: string, answer?: Answer): void {
  if (!ok) fail(`${label}${answer ? ` (got ${answer.status} ${String(answer.json.code ?? "")})` : ""}`);
  console.log(`ok   ${label}`);
}

const doc = await call("GET", "/openapi.json", { auth: false });
check(
  doc.status === 200 && (doc.json.info as { title?: string } | undefined)?.title === "align-onboarding",
  "GET /openapi.json is this API",
  doc,
);
const anonymous = await call("GET", "/customers", { auth: false });
check(anonymous.status === 401, "GET /customers without a token is 401", anonymous);
const list = await call("GET", "/customers?limit=1");
check(list.status === 200 && Array.isArray(list.json.items), "GET /customers lists the caller's customers", list);
const missing = await call("GET", `/customers/${randomUUID()}`);
check(
  missing.status === 404 && missing.json.code === "not_found",
  "GET /customers/{unknown id} is a 404 problem",
  missing,
);

if (!readOnly) {
  const key = randomUUID();
  const body = {
    email: `smoke+${key.slice(0, 8)}@example.com`,
    type: "individual",
    first_name: "Smoke",
    last_name: "Test",
  };
  const created = await call("POST", "/customers", { key, body });
  check(
    created.status === 201 && typeof created.json.customer_id === "string",
    "POST /customers creates (201)",
    created,
  );
  const id = created.json.customer_id as string;
  const replay = await call("POST", "/customers", { key, body });
  check(
    replay.status === 201 && replay.headers.get("idempotent-replayed") === "true" && replay.json.customer_id === id,
    "the same Idempotency-Key replays it (Idempotent-Replayed: true)",
    replay,
  );
  const session = await call("POST", `/customers/${id}/kyc-sessions`, { key: randomUUID() });
  check(
    session.status === 201 && typeof (session.json.kycs as { kyc_flow_link?: unknown })?.kyc_flow_link === "string",
    "POST /customers/{id}/kyc-sessions starts KYC (201)",
    session,
  );
  const simulated = await call("POST", `/sandbox/customers/${id}/simulate`, {
    key: randomUUID(),
    body: { action: "kyc.status.approve" },
  });
  if (simulated.status === 404) fail("the sandbox route does not exist: this is a production stage, use --read-only");
  check(simulated.status === 200, "POST /sandbox/customers/{id}/simulate approves (200)", simulated);
  const deadline = Date.now() + 90_000;
  let status = "pending";
  while (Date.now() < deadline) {
    const read = await call("GET", `/customers/${id}`);
    status = String((read.json.kycs as { status?: string } | null)?.status ?? "not_started");
    if (status === "approved") break;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  check(status === "approved", `GET /customers/{id} reaches approved (webhook or refresh)`);
}
console.log(`smoke test passed against ${base}${readOnly ? " (read-only)" : ""}`);
