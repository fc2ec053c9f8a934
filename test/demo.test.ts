/** `npm run demo`: the seed's workflow end to end, and one clear line for each way it cannot run. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AlignRoute } from "@align-onboarding/align-sandbox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedPort } from "./support/receiver.js";
import { startTestStack, type TestStack } from "./support/stack.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
});
afterAll(() => t.close());

const demo = (env: Record<string, string>) =>
  run("npm", ["run", "--silent", "demo"], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 });
const failure = async (env: Record<string, string>) =>
  (await demo(env).catch((error: unknown) => error)) as { code: number; stdout: string; stderr: string };

describe("npm run demo", () => {
  it("walks the seed's complete workflow and prints each step, through the app client's retries", async () => {
    // The app-side client retries a 503 with the same key, so a transient Align failure does not stop the demo.
    t.stack.sandbox?.addFault({ route: AlignRoute.CreateCustomer, action: { type: "status", status: 503 } });
    const { stdout } = await demo({ API_URL: t.stack.apiUrl });
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^Customer ID: [0-9a-f-]{36}$/);
    expect(lines[1]).toMatch(/^Email: alice\+\w+@example\.com$/);
    expect(lines[2]).toBe("Company: Acme Corporation");
    expect(lines[3]).toMatch(/^KYC Link: http:\/\/127\.0\.0\.1:\d+\//);
    expect(lines.slice(4)).toEqual([
      "Simulated KYC approval (kyc.status.approve)",
      "KYC status: approved",
      "Customer is now ready for transactions!",
    ]);
    expect(t.stack.sandbox?.state().requests.filter((r) => r.status === 503)).toHaveLength(1);
  }, 60_000);

  it("says in one line that the stack is not running", async () => {
    const port = await closedPort();
    const error = await failure({ API_URL: `http://127.0.0.1:${port}` });
    expect(error.code).toBe(1);
    expect(error.stderr.trim().split("\n")).toEqual([
      `Cannot reach the API at http://127.0.0.1:${port}: start it with \`npm start\` (or set API_URL).`,
    ]);
  });

  it("says in one line that the port is something else", async () => {
    const error = await failure({ API_URL: t.stack.alignUrl });
    expect(error.code).toBe(1);
    expect(error.stderr.trim().split("\n")).toHaveLength(1);
    expect(error.stderr).toContain("is not align-onboarding");
  });

  it("says in one line that the token was refused", async () => {
    const error = await failure({ API_URL: t.stack.apiUrl, DEMO_TOKEN: "broken" });
    expect(error.code).toBe(1);
    expect(error.stderr.trim()).toBe(
      `The API at ${t.stack.apiUrl} refused the token (401): check DEMO_TOKEN or LOCAL_JWT_SECRET.`,
    );
  });
});
