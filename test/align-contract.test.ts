/** The Align contract (test/contract) against the emulator; `npm run test:live` runs it against the real sandbox. */
import { type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, expect, it } from "vitest";
import { alignContract } from "./contract/align-contract.js";

let sandbox: AlignSandbox;
const reports: string[] = [];
beforeAll(async () => {
  sandbox = await startAlignSandbox({ apiKey: "contract-key" });
});
afterAll(() => sandbox.close());

alignContract(() => ({
  baseUrl: sandbox.url,
  apiKey: "contract-key",
  settleMs: 1_000,
  report: (line) => reports.push(line),
}));

it("the emulator accepts every documented variant", () => {
  expect(reports).toContain("auth headers accepted: Api-Key, Authorization (raw), Authorization (Bearer)");
  expect(reports).toContain("customer type field accepted alone: type, beneficiary_type");
  expect(reports).toContain("409 body keys: code, message");
});
