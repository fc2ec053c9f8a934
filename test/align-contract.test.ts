/**
 * The Align contract (test/contract) against the emulator in each profile;
 * `npm run test:live` runs it against the real sandbox. The client starts
 * with no wire configuration every time and must learn each profile's dialect.
 */
import { type AlignSandbox, type SandboxProfile, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alignContract } from "./contract/align-contract.js";
import { formatVerdict, VERDICT_POINTS } from "./live/verdict.js";

const expected: Record<SandboxProfile, string[]> = {
  sdk: [
    "auth headers accepted: authorization",
    "customer type field accepted alone: type",
    "client learned: ALIGN_AUTH_HEADER=authorization ALIGN_CUSTOMER_TYPE_FIELD=type",
    "email list filter: exact (case-sensitive)",
  ],
  official: [
    "auth headers accepted: api-key",
    "customer type field accepted alone: type",
    "client learned: ALIGN_AUTH_HEADER=api-key ALIGN_CUSTOMER_TYPE_FIELD=type",
    "email list filter: exact (case-sensitive)",
  ],
  legacy: [
    "auth headers accepted: authorization",
    "customer type field accepted alone: beneficiary_type",
    "client learned: ALIGN_AUTH_HEADER=authorization ALIGN_CUSTOMER_TYPE_FIELD=beneficiary_type",
    "email list filter: exact (case-sensitive)",
  ],
  guide: [
    "auth headers accepted: bearer",
    "customer type field accepted alone: type",
    "client learned: ALIGN_AUTH_HEADER=bearer ALIGN_CUSTOMER_TYPE_FIELD=type",
    "email list filter: exact (case-sensitive)",
  ],
};

for (const profile of ["sdk", "official", "legacy", "guide"] as const) {
  describe(`profile ${profile}`, () => {
    let sandbox: AlignSandbox;
    const reports: string[] = [];
    beforeAll(async () => {
      sandbox = await startAlignSandbox({ apiKey: "contract-key", profile });
    });
    afterAll(() => sandbox.close());

    alignContract(() => ({
      baseUrl: sandbox.url,
      apiKey: "contract-key",
      settleMs: 1_000,
      report: (line) => reports.push(line),
    }));

    it("the emulator accepts exactly the profile's variants, and the client learned them", () => {
      for (const line of expected[profile]) expect(reports).toContain(line);
      expect(reports).toContain("409 body keys: code, message");
      expect(reports).toContain("email uniqueness: ignores case (409)");
      expect(reports).toContain("simulate without a KYC session: refused 400 kyc_session_required");
    });

    it("the one-screen verdict settles every contested point", () => {
      const verdict = formatVerdict(reports, { baseUrl: sandbox.url, at: new Date(0) });
      expect(verdict.split("\n")).toHaveLength(VERDICT_POINTS.length + 1);
      expect(verdict).not.toContain("(not reached)");
      expect(verdict).toContain(`type field            ${profile === "legacy" ? "beneficiary_type" : "type"}`);
      expect(verdict).toContain("create answer         200, kycs null");
      expect(verdict).toContain("duplicate email       409, keys: code, message");
      expect(verdict).toContain(
        `error body            400, keys: ${profile === "legacy" ? "message, errors[]: no" : "code, errors, message, errors[]: yes"}`,
      );
      expect(verdict).toContain("second KYC start      same link, pending");
      expect(verdict).toContain("webhook list items    created_at, id, status, url");
    });

    it("no request carried the key in two headers", () => {
      const counts = sandbox.state().requests.map((entry) => entry.auth_headers?.length);
      expect(counts.length).toBeGreaterThan(10);
      // The variant probes send exactly one header each too.
      expect(new Set(counts)).toEqual(new Set([1]));
    });
  });
}
