/**
 * `npm run demo`: the seed's complete workflow against a running `npm start`
 * (or API_URL), printed step by step as the seed's examples print:
 * individual and corporate customers, KYC start, sandbox approval, the webhook
 * bringing the status home, the final status, through the app-side client
 * (@align-onboarding/client), as an app would. One line and exit 1 when the
 * stack is not there, is something else, or refuses the token.
 *
 *   API_URL (http://127.0.0.1:$PORT, PORT 3000)   DEMO_TOKEN (default: a local token for sub "demo-user")
 */
import {
  AlignOnboarding,
  ApiConnectionError,
  ApiError,
  GatewayError,
  KycWaitTimeoutError,
} from "@align-onboarding/client";
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

// The app-side client: automatic Idempotency-Keys, safe retries, typed problems.
const api = new AlignOnboarding({ baseUrl: apiUrl, token, totalTimeoutMs: 15_000 });

/** Runs one step; a failure ends the demo with one line. */
async function step<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiConnectionError)
      fail(`Cannot reach the API at ${apiUrl}: start it with \`npm start\` (or set API_URL).`);
    if (error instanceof GatewayError && error.status === 401) {
      fail(`The API at ${apiUrl} refused the token (401): check DEMO_TOKEN or LOCAL_JWT_SECRET.`);
    }
    if (error instanceof ApiError) fail(`${what} answered ${error.status} ${error.code ?? error.message}`);
    throw error;
  }
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
const customer = await step("POST /customers", () =>
  api.customers.create({
    email: `alice+${run}@example.com`,
    type: "individual",
    first_name: "Alice",
    last_name: "Smith",
  }),
);
console.log(`Customer ID: ${customer.customer_id}`);
console.log(`Email: ${customer.email}`);

const company = await step("POST /customers", () =>
  api.customers.create({ email: `billing+${run}@acme.example`, type: "corporate", company_name: "Acme Corporation" }),
);
console.log(`Company: ${company.company_name}`);

// 2. Initiate KYC verification
const session = await step("POST /customers/{id}/kyc-sessions", () => api.customers.startKyc(customer.customer_id));
console.log(`KYC Link: ${session.kycs.kyc_flow_link}`);

// 3. (In sandbox) Simulate KYC approval
await step("POST /sandbox/customers/{id}/simulate", () =>
  api.sandbox.simulate(customer.customer_id, { action: "kyc.status.approve" }),
);
console.log("Simulated KYC approval (kyc.status.approve)");

// 4. The webhook brings the new status home
const approved = await step("GET /customers/{id}", () =>
  api.customers
    .waitForKycStatus(customer.customer_id, { until: "approved", timeoutMs: 20_000, intervalMs: 250 })
    .catch((error: unknown) => {
      if (error instanceof KycWaitTimeoutError) {
        fail(
          `KYC status is still ${error.lastStatus ?? "not_started"} after 20 s: is the webhook registered (npm start does it)?`,
        );
      }
      throw error;
    }),
);
console.log(`KYC status: ${approved.kycs?.status}`);
console.log("Customer is now ready for transactions!");
