/**
 * `npm run test:live` as a user runs it: without a key it skips in one line;
 * with one it runs the live contract (here pointed at the emulator through
 * ALIGN_BASE_URL, since this machine cannot reach Align) and reports what the
 * API accepted.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AlignSandbox, startAlignSandbox } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
let sandbox: AlignSandbox;
beforeAll(async () => {
  sandbox = await startAlignSandbox({ apiKey: "live-key" });
});
afterAll(() => sandbox.close());

describe("npm run test:live", () => {
  it("without ALIGN_API_KEY: one line saying what it would test and how to enable it, exit 0", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "test:live"], {
      cwd: root,
      env: { ...process.env, ALIGN_API_KEY: "" },
    });
    expect(stdout.trim().split("\n")).toHaveLength(1);
    expect(stdout).toMatch(/^test:live skipped: set ALIGN_API_KEY/);
  });

  it("with a key: runs the contract and reports the accepted wire variants, leaving no webhook", async () => {
    const { stdout } = await run("npm", ["run", "--silent", "test:live"], {
      cwd: root,
      env: { ...process.env, ALIGN_API_KEY: "live-key", ALIGN_BASE_URL: sandbox.url, CI: "true" },
      timeout: 120_000,
    });
    expect(stdout).toContain("What the real Align sandbox accepted:");
    // The emulator's default profile (sdk) accepts exactly one form of each.
    expect(stdout).toContain("auth headers accepted: authorization\n");
    expect(stdout).toContain("customer type field accepted alone: type\n");
    expect(stdout).toContain("simulate without a KYC session: refused 400 kyc_session_required");
    expect(stdout).toContain("pin these in the functions' environment");
    expect(stdout).toContain("ALIGN_AUTH_HEADER=authorization ALIGN_CUSTOMER_TYPE_FIELD=type");
    // The one-screen verdict, written outside the repository for any target but the real sandbox.
    expect(stdout).toMatch(/Align live verdict: http:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).not.toContain("(not reached)");
    expect(stdout).not.toContain("docs/align-live-verdict.md");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the runner's colours
    expect(stdout.replace(/\u001b\[[0-9;]*m/g, "")).toMatch(/Tests\s+11 passed \(11\)/);
    expect(sandbox.state().webhooks).toEqual([]);
  }, 120_000);
});
