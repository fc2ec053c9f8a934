/**
 * `npm run test:live`: the Align contract against the real Align sandbox
 * (needs ALIGN_API_KEY). It settles each contested point in one run, prints a
 * one-screen verdict and writes it to a file to commit (docs/deploy.md, "Going live").
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll } from "vitest";
import { alignContract } from "../contract/align-contract.js";
import { formatVerdict } from "./verdict.js";

const SANDBOX_URL = "https://api-sandbox.alignlabs.dev";
const baseUrl = process.env.ALIGN_BASE_URL || SANDBOX_URL;
// Only a run against the real sandbox writes into the repository; any other target (the emulator) writes to tmp.
const verdictFile =
  process.env.ALIGN_LIVE_VERDICT_FILE ||
  (baseUrl === SANDBOX_URL
    ? fileURLToPath(new URL("../../docs/align-live-verdict.md", import.meta.url))
    : join(tmpdir(), "align-live-verdict.md"));

const reports: string[] = [];
afterAll(() => {
  const verdict = formatVerdict(reports, { baseUrl, at: new Date() });
  console.log(`\nWhat the real Align sandbox accepted:\n${reports.map((line) => `  ${line}`).join("\n")}\n`);
  console.log(verdict);
  mkdirSync(dirname(verdictFile), { recursive: true });
  writeFileSync(verdictFile, `${verdict}\n`);
  console.log(`Verdict written to ${verdictFile}`);
  const pins = reports.find((line) => line.startsWith("client learned: "));
  if (pins) {
    console.log(
      `To skip negotiation, pin these in the functions' environment (docs/deploy.md, "Going live"):\n  ${pins.slice("client learned: ".length)}\n`,
    );
  }
});

alignContract(() => ({
  baseUrl,
  apiKey: process.env.ALIGN_API_KEY ?? "",
  settleMs: 60_000,
  report: (line) => reports.push(line),
}));
