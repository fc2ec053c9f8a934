/** `npm run test:live`: the Align contract against the real Align sandbox (needs ALIGN_API_KEY). */
import { afterAll } from "vitest";
import { alignContract } from "../contract/align-contract.js";

const reports: string[] = [];
afterAll(() => {
  console.log(`\nWhat the real Align sandbox accepted:\n${reports.map((line) => `  ${line}`).join("\n")}\n`);
});

alignContract(() => ({
  baseUrl: process.env.ALIGN_BASE_URL || "https://api-sandbox.alignlabs.dev",
  apiKey: process.env.ALIGN_API_KEY ?? "",
  settleMs: 60_000,
  report: (line) => reports.push(line),
}));
