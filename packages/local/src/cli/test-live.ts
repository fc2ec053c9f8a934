/**
 * `npm run test:live`: the Align client's contract against the real Align
 * sandbox, reporting which wire variants it accepted (and the values to pin in
 * ALIGN_AUTH_HEADER / ALIGN_CUSTOMER_TYPE_FIELD). Without ALIGN_API_KEY it
 * says what it would test and exits 0.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

if (!process.env.ALIGN_API_KEY) {
  console.log(
    "test:live skipped: set ALIGN_API_KEY (an Align sandbox key) to check create, 409, get, list, KYC, simulate and webhooks against the real Align sandbox and report which auth header and customer type field it accepts.",
  );
  process.exit(0);
}
const root = fileURLToPath(new URL("../../../../", import.meta.url));
const result = spawnSync("npx", ["vitest", "run", "--config", "vitest.live.config.ts"], {
  cwd: root,
  stdio: "inherit",
});
process.exit(result.status ?? 1);
