/**
 * `npm run test:live`: the Align client's contract against the real Align
 * sandbox. It settles each contested point in one run, prints a one-screen
 * verdict (with the values to pin in ALIGN_AUTH_HEADER /
 * ALIGN_CUSTOMER_TYPE_FIELD) and writes it to docs/align-live-verdict.md
 * (another target, such as the emulator through ALIGN_BASE_URL, writes to the
 * temp dir; ALIGN_LIVE_VERDICT_FILE chooses). Without ALIGN_API_KEY it says
 * what it would test and exits 0.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

if (!process.env.ALIGN_API_KEY) {
  console.log(
    "test:live skipped: set ALIGN_API_KEY (an Align sandbox key) to check create, 409, get, list, KYC, simulate and webhooks against the real Align sandbox and write a verdict on each contested point (auth header, type field, create answer, error body, duplicate email, email filter, second KYC start, simulate, webhook list) to docs/align-live-verdict.md.",
  );
  process.exit(0);
}
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const result = spawnSync("npx", ["vitest", "run", "--config", "vitest.live.config.ts"], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
