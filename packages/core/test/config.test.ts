import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, requireAlignKey } from "../src/index.js";

const base = { ALIGN_API_KEY: "key-1", TABLE_NAME: "table" };

describe("loadConfig", () => {
  it("applies defaults; the webhook secret defaults to the API key", () => {
    const config = loadConfig(base, {});
    expect(config).toMatchObject({
      alignEnvironment: "sandbox",
      alignApiKey: "key-1",
      webhookSecrets: ["key-1"],
      tableName: "table",
      kycRefreshAfterMs: 30_000,
      alignTimeoutMs: 8_000,
    });
    expect(config.alignBaseUrl).toBeUndefined();
  });

  it("reads several webhook secrets for rotation", () => {
    expect(loadConfig({ ...base, ALIGN_WEBHOOK_SECRET: " new , old ," }, {}).webhookSecrets).toEqual(["new", "old"]);
  });

  it("prefers SST-linked values over the environment", () => {
    expect(loadConfig(base, { ALIGN_API_KEY: "linked", TABLE_NAME: "linked-table" })).toMatchObject({
      alignApiKey: "linked",
      tableName: "linked-table",
    });
  });

  it("fails fast naming every bad variable, and never its value", () => {
    const attempt = () =>
      loadConfig(
        { ALIGN_API_KEY: " ", ALIGN_ENVIRONMENT: "staging", KYC_REFRESH_AFTER_SECONDS: "-1", ALIGN_BASE_URL: "sekrit" },
        {},
      );
    expect(attempt).toThrow(ConfigError);
    let message = "";
    try {
      attempt();
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ["TABLE_NAME", "ALIGN_ENVIRONMENT", "KYC_REFRESH_AFTER_SECONDS", "ALIGN_BASE_URL"]) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain("sekrit");
  });

  it("a blank API key is refused by name; a missing one only where a function needs it", () => {
    expect(() => loadConfig({ TABLE_NAME: "table", ALIGN_API_KEY: " " }, {})).toThrow(/ALIGN_API_KEY/);
    const withoutKey = loadConfig({ TABLE_NAME: "table" }, {});
    expect(withoutKey.alignApiKey).toBeUndefined();
    expect(withoutKey.webhookSecrets).toEqual([]);
    expect(() => requireAlignKey(withoutKey)).toThrow(ConfigError);
    expect(() => requireAlignKey(withoutKey)).toThrow(/ALIGN_API_KEY/);
    expect(requireAlignKey(loadConfig({ TABLE_NAME: "table", ALIGN_API_KEY: "k" }, {}))).toBe("k");
  });
});
