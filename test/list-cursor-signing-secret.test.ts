/**
 * A dedicated signing secret (defect 10): list cursors are signed with our own
 * versioned secret (`SIGNING_SECRETS`, `<version>:<secret>`, current first),
 * never a key derived from the Align API key. A cursor names the version that
 * signed it; the current and the previous versions verify, so a rotation voids
 * no open cursor; one signed by a secret we do not hold is a 400 on `cursor`;
 * and rotating the Align key voids nothing.
 */
import { ConfigError, loadConfig, requireSigningSecrets, resetRuntime } from "@align-onboarding/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { individual, startTestStack, type TestStack } from "./support/stack.js";

const V1 = `v1:${"1".repeat(40)}`;
const V2 = `v2:${"2".repeat(40)}`;
const V3 = `v3:${"3".repeat(40)}`;
const OTHER = `v1:${"x".repeat(40)}`;

let t: TestStack;
let token = "";
beforeAll(async () => {
  t = await startTestStack({ registerWebhook: false, env: { SIGNING_SECRETS: V1 } });
  token = t.stack.token("cursor-owner");
  for (const n of [1, 2, 3]) {
    const created = await t.api("POST", "/customers", { token, body: individual(`cursor-${n}@example.com`) });
    expect(created.status).toBe(201);
  }
});
afterAll(() => t.close());

/** Changes the functions' environment as a redeploy would: the next invocation reads it afresh. */
function redeploy(env: Record<string, string>) {
  Object.assign(process.env, env);
  resetRuntime();
}

const page = (cursor?: string) =>
  t.api("GET", `/customers?limit=1${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`, { token });

async function firstCursor(): Promise<string> {
  const first = await page();
  expect(first.status).toBe(200);
  return first.json.next_cursor as string;
}

describe("list cursors under our own versioned signing secret", () => {
  it("a cursor issued under v1 still pages after rotating to v2 with v1 as previous, and names its version", async () => {
    redeploy({ SIGNING_SECRETS: V1 });
    const underV1 = await firstCursor();
    expect(underV1.split(".")[0]).toBe("v1");
    const first = (await page()).json.items as { email: string }[];

    redeploy({ SIGNING_SECRETS: `${V2},${V1}` });
    const second = await page(underV1);
    expect(second.status).toBe(200);
    const items = second.json.items as { email: string }[];
    expect(items).toHaveLength(1);
    expect(items[0]?.email).not.toBe(first[0]?.email);
    // New cursors are signed with the current version.
    expect(String(second.json.next_cursor).split(".")[0]).toBe("v2");
  });

  it("a cursor signed by a secret we do not hold (never held, or rotated out) is a 400 with path [cursor]", async () => {
    redeploy({ SIGNING_SECRETS: OTHER });
    const foreign = await firstCursor();
    redeploy({ SIGNING_SECRETS: V1 });
    const underV1 = await firstCursor();

    redeploy({ SIGNING_SECRETS: `${V2},${V1}` });
    const refused = await page(foreign);
    expect([refused.status, refused.json.code, refused.json.errors]).toEqual([
      400,
      "validation_failed",
      [{ path: ["cursor"], message: "Invalid cursor" }],
    ]);
    // Once v1 is no longer listed, its cursors are refused the same way.
    redeploy({ SIGNING_SECRETS: `${V3},${V2}` });
    const retired = await page(underV1);
    expect([retired.status, retired.json.errors]).toEqual([400, [{ path: ["cursor"], message: "Invalid cursor" }]]);
  });

  it("rotating the Align API key does not void cursors", async () => {
    redeploy({ SIGNING_SECRETS: V1, ALIGN_API_KEY: "sandbox-key" });
    const cursor = await firstCursor();
    redeploy({ ALIGN_API_KEY: "a-rotated-align-key" });
    try {
      const next = await page(cursor);
      expect(next.status).toBe(200);
      expect(next.json.items).toHaveLength(1);
    } finally {
      redeploy({ ALIGN_API_KEY: "sandbox-key" });
    }
  });
});

describe("SIGNING_SECRETS in the configuration", () => {
  const base = { TABLE_NAME: "table", ALIGN_API_KEY: "align-key" };

  it("is versioned, current first, and never falls back to the Align key", () => {
    expect(loadConfig({ ...base, SIGNING_SECRETS: `${V2}, ${V1}` }, {}).signingSecrets).toEqual([
      { version: "v2", secret: "2".repeat(40) },
      { version: "v1", secret: "1".repeat(40) },
    ]);
    const missing = loadConfig(base, {});
    expect(missing.signingSecrets).toBeUndefined();
    expect(() => requireSigningSecrets(missing)).toThrow(ConfigError);
    expect(() => requireSigningSecrets(missing)).toThrow(/SIGNING_SECRETS/);
  });

  it.each([
    ["no version", "x".repeat(40)],
    ["a short secret", "v1:short"],
    ["a repeated version", `${V1},${V1}`],
    ["a bad version", `v.1:${"1".repeat(40)}`],
    ["an empty entry", `${V1},`],
  ])("refuses %s, naming the variable and never echoing the value", (_, value) => {
    const error = (() => {
      try {
        loadConfig({ ...base, SIGNING_SECRETS: value }, {});
      } catch (caught) {
        return caught as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toMatch(/SIGNING_SECRETS/);
    expect(error?.message).not.toContain("1111");
    expect(error?.message).not.toContain("xxxx");
  });

  it("the list fails loudly (500, logged with the variable's name) where it is not configured", async () => {
    const saved = process.env.SIGNING_SECRETS;
    redeploy({ SIGNING_SECRETS: "" });
    try {
      const cursorless = await page();
      // The first page needs no verification, but its next_cursor needs a signature.
      expect([cursorless.status, cursorless.json.code]).toEqual([500, "internal_error"]);
      expect(t.logs.some((line) => line.includes("SIGNING_SECRETS"))).toBe(true);
    } finally {
      redeploy({ SIGNING_SECRETS: saved ?? V1 });
    }
  });
});
