/**
 * `npm run demo`: the seed's complete workflow against a running `npm start`
 * (or API_URL), printed step by step as the seed's examples print:
 * individual and corporate customers, KYC start, sandbox approval, the webhook
 * bringing the status home, the final status. One line and exit 1 when the
 * stack is not there, is something else, or refuses the token.
 *
 *   API_URL (http://127.0.0.1:$PORT, PORT 3000)   DEMO_TOKEN (default: a local token for sub "demo-user")
 */
import { randomUUID } from "node:crypto";
import { signToken } from "../jwt.js";
import { LocalDefaults } from "../stack.js";

const apiUrl = (process.env.API_URL || `http://127.0.0.1:${process.env.PORT || LocalDefaults.apiPort}`).replace(
  /\/+$/,
  "",
);
const token =
  process.env.DEMO_TOKEN ||
  signToken(
    {
      secret: process.env.LOCAL_JWT_SECRET || LocalDefaults.jwt.secret,
      issuer: process.env.JWT_ISSUER || LocalDefaults.jwt.issuer,
      audience: process.env.JWT_AUDIENCE || LocalDefaults.jwt.audience,
    },
    "demo-user",
    3600,
  );

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

async function call(method: string, path: string, body?: unknown, withKey = method === "POST") {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (withKey) headers["idempotency-key"] = randomUUID();
  if (body !== undefined) headers["content-type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`${apiUrl}${path}`, {
      method,
      headers,
      signal: AbortSignal.timeout(15_000),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    fail(`Cannot reach the API at ${apiUrl}: start it with \`npm start\` (or set API_URL).`);
  }
  const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status === 401)
    fail(`The API at ${apiUrl} refused the token (401): check DEMO_TOKEN or LOCAL_JWT_SECRET.`);
  if (!response.ok) {
    fail(`${method} ${path} answered ${response.status} ${String(json.code ?? json.message ?? "")}`.trim());
  }
  return json;
}

// Is this our API at all? Its OpenAPI document says so, with no token needed.
try {
  const response = await fetch(`${apiUrl}/openapi.json`, { signal: AbortSignal.timeout(5_000) });
  const doc = (await response.json().catch(() => ({}))) as { info?: { title?: string } };
  if (doc.info?.title !== "align-onboarding") {
    fail(`${apiUrl} answers, but it is not align-onboarding (no OpenAPI document): check API_URL or PORT.`);
  }
} catch {
  fail(`Cannot reach the API at ${apiUrl}: start it with \`npm start\` (or set API_URL).`);
}

const run = Date.now().toString(36);

// 1. Create the customer
const customer = await call("POST", "/customers", {
  email: `alice+${run}@example.com`,
  type: "individual",
  first_name: "Alice",
  last_name: "Smith",
});
console.log(`Customer ID: ${customer.customer_id}`);
console.log(`Email: ${customer.email}`);

const company = await call("POST", "/customers", {
  email: `billing+${run}@acme.example`,
  type: "corporate",
  company_name: "Acme Corporation",
});
console.log(`Company: ${company.company_name}`);

// 2. Initiate KYC verification
const session = await call("POST", `/customers/${customer.customer_id}/kyc-sessions`);
console.log(`KYC Link: ${(session.kycs as { kyc_flow_link: string }).kyc_flow_link}`);

// 3. (In sandbox) Simulate KYC approval
await call("POST", `/sandbox/customers/${customer.customer_id}/simulate`, { action: "kyc.status.approve" });
console.log("Simulated KYC approval (kyc.status.approve)");

// 4. The webhook brings the new status home
let status = "pending";
const deadline = Date.now() + 20_000;
while (Date.now() < deadline) {
  const read = await call("GET", `/customers/${customer.customer_id}`);
  status = String((read.kycs as { status?: string } | null)?.status ?? "not_started");
  if (status === "approved") break;
  await new Promise((resolve) => setTimeout(resolve, 250));
}
if (status !== "approved")
  fail(`KYC status is still ${status} after 20 s: is the webhook registered (npm start does it)?`);
console.log(`KYC status: ${status}`);
console.log("Customer is now ready for transactions!");
