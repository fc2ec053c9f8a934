/** `npm run test:live`: the Align contract against the real Align sandbox (needs ALIGN_API_KEY). */
import { afterAll } from "vitest";
import { alignContract } from "../contract/align-contract.js";

const reports: string[] = [];
afterAll(() => {
  console.log(`\nWhat the real Align sandbox accepted:\n${reports.map((line) => `  ${line}`).join("\n")}\n`);
  const pins = reports.find((line) => line.startsWith("client learned: "));
  if (pins) {
    console.log(
      `To skip negotiation, pin these in the functions' environment (README "Going live"):\n  ${pins.slice("client learned: ".length)}\n`,
    );
  }
});

alignContract(() => ({
  baseUrl: process.env.ALIGN_BASE_URL || "https://api-sandbox.alignlabs.dev",
  apiKey: process.env.ALIGN_API_KEY ?? "",
  settleMs: 60_000,
  report: (line) => reports.push(line),
}));
