/**
 * Deploy-time settings are refused before anything is created, one line
 * naming the setting, with no AWS: the module sst.config.ts and `npm run
 * deploy` call, and `npm run deploy` itself from a shell without settings.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { AlarmDefaults, DeploySettingsError, readDeploySettings, regionFor } from "../infra/settings.js";

const run = promisify(execFile);
const valid = { JWT_ISSUER: "https://idp.example.com/", JWT_AUDIENCE: "mobile-app" };

function refusal(env: Record<string, string | undefined>, stage = "dev"): DeploySettingsError {
  try {
    readDeploySettings(env, stage);
  } catch (error) {
    expect(error).toBeInstanceOf(DeploySettingsError);
    const refused = error as DeploySettingsError;
    expect(refused.message).not.toContain("\n"); // one line
    expect(refused.message.startsWith(`${refused.setting}:`)).toBe(true); // naming the setting first
    return refused;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe("deploy settings", () => {
  it("accepts the required pair and fills the defaults", () => {
    const settings = readDeploySettings(valid, "dev");
    expect(settings).toMatchObject({
      region: "us-east-1",
      alignEnvironment: "sandbox",
      jwtIssuer: "https://idp.example.com/",
      jwtAudience: "mobile-app",
      throttleRateLimit: 25,
      throttleBurstLimit: 50,
      kycRefreshAfterSeconds: 30,
      sandboxResetSchedule: "cron(0 3 * * ? *)",
      alarmEmail: undefined,
    });
    expect(settings.alarms).toEqual(AlarmDefaults);
    expect(readDeploySettings(valid, "production").alignEnvironment).toBe("production");
  });

  it("names every missing required setting at once", () => {
    expect(refusal({}).setting).toBe("JWT_ISSUER, JWT_AUDIENCE");
    expect(refusal({ JWT_ISSUER: valid.JWT_ISSUER, JWT_AUDIENCE: "  " }).setting).toBe("JWT_AUDIENCE");
  });

  it.each([
    ["http://idp.example.com/", "not https"],
    ["idp.example.com", "not a URL"],
    ["https://idp.example.com/?tenant=1", "a query"],
    ["https://idp.example.com/#x", "a fragment"],
    ["https://idp example.com", "a space"],
  ])("refuses the issuer %s (%s)", (issuer) => {
    expect(refusal({ ...valid, JWT_ISSUER: issuer }).setting).toBe("JWT_ISSUER");
  });

  it("keeps the issuer exactly as written, trailing slash or not (API Gateway compares iss as a string)", () => {
    expect(readDeploySettings({ ...valid, JWT_ISSUER: "https://a.example.com" }, "dev").jwtIssuer).toBe(
      "https://a.example.com",
    );
    expect(readDeploySettings({ ...valid, JWT_ISSUER: "https://a.example.com/t/" }, "dev").jwtIssuer).toBe(
      "https://a.example.com/t/",
    );
  });

  it.each([
    ["THROTTLE_RATE_LIMIT", "0"],
    ["THROTTLE_RATE_LIMIT", "-5"],
    ["THROTTLE_RATE_LIMIT", "2.5"],
    ["THROTTLE_RATE_LIMIT", "ten"],
    ["THROTTLE_BURST_LIMIT", "1e3"],
    ["THROTTLE_BURST_LIMIT", "0"],
    ["KYC_REFRESH_AFTER_SECONDS", "0"],
    ["KYC_REFRESH_AFTER_SECONDS", "-1"],
    ["KYC_REFRESH_AFTER_SECONDS", "1.5"],
    ["KYC_REFRESH_AFTER_SECONDS", "abc"],
    ["ALARM_API_5XX_PERCENT", "0"],
    ["ALARM_FUNCTION_ERRORS", "many"],
    ["ALARM_EMAIL", "oncall"],
    ["SANDBOX_RESET_SCHEDULE", "nightly"],
  ])("refuses %s=%s", (setting, value) => {
    const refused = refusal({ ...valid, [setting]: value });
    expect(refused.setting).toBe(setting);
    expect(refused.message).toContain(value);
  });

  it("accepts positive values", () => {
    const settings = readDeploySettings(
      { ...valid, THROTTLE_RATE_LIMIT: "100", THROTTLE_BURST_LIMIT: "200", KYC_REFRESH_AFTER_SECONDS: "5" },
      "dev",
    );
    expect(settings).toMatchObject({ throttleRateLimit: 100, throttleBurstLimit: 200, kycRefreshAfterSeconds: 5 });
  });

  it("pins the region per stage: a different AWS_REGION in the shell is refused, not followed", () => {
    expect(regionFor("dev")).toBe("us-east-1");
    expect(regionFor("production")).toBe("us-east-1");
    expect(refusal({ ...valid, AWS_REGION: "eu-west-1" }).setting).toBe("AWS_REGION");
    expect(refusal({ ...valid, AWS_DEFAULT_REGION: "eu-west-1" }, "production").setting).toBe("AWS_DEFAULT_REGION");
    expect(readDeploySettings({ ...valid, AWS_REGION: "us-east-1" }, "dev").region).toBe("us-east-1");
  });
});

describe("npm run deploy (the preflight, no AWS)", () => {
  const deploy = async (env: Record<string, string>) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !/^(JWT_|THROTTLE_|ALARM_|AWS_REGION|AWS_DEFAULT_REGION)/.test(name),
      ),
    );
    try {
      await run("npx", ["tsx", "infra/deploy.ts", "--stage", "dev"], { env: { ...clean, ...env }, timeout: 30_000 });
    } catch (error) {
      return error as { code: number; stderr: string };
    }
    throw new Error("the preflight let it through");
  };

  it("stops with one line naming the unset settings, before building anything", async () => {
    const failed = await deploy({});
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split("\n")).toEqual([
      'npm run deploy: set JWT_ISSUER and JWT_AUDIENCE (your identity provider) first; see README "Deploy"',
    ]);
  });

  it("stops with one line naming a bad setting", async () => {
    const failed = await deploy({ ...valid, THROTTLE_BURST_LIMIT: "0" });
    expect(failed.stderr.trim().split("\n")).toEqual([
      'npm run deploy: THROTTLE_BURST_LIMIT: must be a positive integer (got "0")',
    ]);
  });
});
