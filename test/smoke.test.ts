/** `npm run smoke`: against the local stack, full and read-only; one line and exit 1 for each way a stage can fail it. */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
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

const smoke = (args: string[], env: Record<string, string>) =>
  run("npm", ["run", "--silent", "smoke", "--", ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
const failure = async (args: string[], env: Record<string, string>) =>
  (await smoke(args, env).catch((error: unknown) => error)) as { code: number; stdout: string; stderr: string };

describe("npm run smoke", () => {
  it("walks the workflow on a sandbox stage, replay header and approval included", async () => {
    const { stdout } = await smoke([t.stack.apiUrl], { SMOKE_TOKEN: t.stack.token("smoke-user") });
    expect(stdout).toContain("ok   the same Idempotency-Key replays it (Idempotent-Replayed: true)");
    expect(stdout).toContain("ok   GET /customers/{id} reaches approved (webhook or refresh)");
    expect(stdout.trim().split("\n").at(-1)).toBe(`smoke test passed against ${t.stack.apiUrl}`);
  }, 120_000);

  it("read-only changes nothing", async () => {
    const before = (await t.items()).length;
    const alignRequests = t.stack.sandbox?.state().requests.length ?? 0;
    const { stdout } = await smoke([t.stack.apiUrl, "--read-only"], { SMOKE_TOKEN: t.stack.token("smoke-user") });
    expect(stdout).toContain("(read-only)");
    expect((await t.items()).length).toBe(before);
    expect(t.stack.sandbox?.state().requests.length).toBe(alignRequests);
  });

  it.each([
    ["no token", () => [t.stack.apiUrl], () => ({ SMOKE_TOKEN: "" }), /SMOKE_TOKEN is not set/],
    [
      "a rejected token",
      () => [t.stack.apiUrl],
      () => ({ SMOKE_TOKEN: "not-a-token" }),
      /rejected SMOKE_TOKEN \(401\)/,
    ],
    ["a wrong URL", () => ["not a url"], () => ({ SMOKE_TOKEN: "x" }), /is not a URL/],
    ["something else at the URL", () => [t.stack.alignUrl], () => ({ SMOKE_TOKEN: "x" }), /openapi\.json is this API/],
  ] as [string, () => string[], () => Record<string, string>, RegExp][])(
    "%s: one line, exit 1",
    async (_label, args, env, message) => {
      const error = await failure(args(), env());
      expect(error.code).toBe(1);
      expect(error.stderr.trim().split("\n")).toHaveLength(1);
      expect(error.stderr).toMatch(message);
    },
  );

  it("a stage that is down: one line, exit 1", async () => {
    const port = await closedPort();
    const error = await failure([`http://127.0.0.1:${port}`], { SMOKE_TOKEN: "x" });
    expect(error.code).toBe(1);
    expect(error.stderr.trim()).toMatch(/^FAIL cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  });
});
