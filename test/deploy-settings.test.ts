/**
 * Deploy-time settings are refused before anything is created, one line
 * naming the setting, with no AWS: the module sst.config.ts and `npm run
 * deploy` call, and `npm run deploy` itself: without settings, with a bad
 * one, with an undeclared production-looking stage, and with good settings
 * but no AWS credentials (built, then stopped by SST).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { AlarmDefaults, DeploySettingsError, readDeploySettings, regionFor } from "../infra/settings.js";
import { appProfile, checkDevMode, isPersonalStage, looksLikeProduction, stageProfile } from "../infra/stage.js";

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
    expect(settings.longLived).toBe(false);
    expect(readDeploySettings({ ...valid, ALIGN_ENVIRONMENT: "production" }, "production").alignEnvironment).toBe(
      "production",
    );
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
    expect(
      refusal({ ...valid, ALIGN_ENVIRONMENT: "production", AWS_DEFAULT_REGION: "eu-west-1" }, "production").setting,
    ).toBe("AWS_DEFAULT_REGION");
    expect(readDeploySettings({ ...valid, AWS_REGION: "us-east-1" }, "dev").region).toBe("us-east-1");
  });
});

describe("which Align a stage talks to (infra/stage.ts)", () => {
  it.each(["prod", "Production", "PROD", "live", "prd", "prod-eu", "eu-live", "preprod", "production"])(
    "%s looks like production",
    (stage) => {
      expect(looksLikeProduction(stage)).toBe(true);
    },
  );
  it.each(["dev", "staging", "oliver", "delivery", "pr-7"])("%s does not look like production", (stage) => {
    expect(looksLikeProduction(stage)).toBe(false);
  });

  it("personal stages: dev, dev-*, pr-<n> and the OS user's name (SST's default stage); nothing else", () => {
    for (const stage of ["dev", "dev-alice", "pr-12"]) expect(isPersonalStage(stage)).toBe(true);
    expect(isPersonalStage("alice", { USER: "alice" })).toBe(true);
    for (const stage of ["staging", "alice", "pr-x", "development"]) expect(isPersonalStage(stage)).toBe(false);
  });

  it.each(["prod", "Production", "live", "staging", "qa"])(
    "refuses stage %s without ALIGN_ENVIRONMENT, naming the setting",
    (stage) => {
      const refused = refusal(valid, stage);
      expect(refused.setting).toBe("ALIGN_ENVIRONMENT");
      expect(refused.message).toContain(`stage "${stage}"`);
    },
  );

  it("a production-looking personal name (dev-prod) must declare too; a user named like production is not personal", () => {
    expect(refusal(valid, "dev-prod").setting).toBe("ALIGN_ENVIRONMENT");
    expect(() => stageProfile({ USER: "live" }, "live")).toThrow(/ALIGN_ENVIRONMENT: required/);
  });

  it("takes the declaration: production anywhere but a personal stage, sandbox anywhere", () => {
    expect(stageProfile({ ALIGN_ENVIRONMENT: "production" }, "live")).toEqual({
      stage: "live",
      alignEnvironment: "production",
      longLived: true,
      removal: "retain",
      protect: true,
    });
    expect(stageProfile({ ALIGN_ENVIRONMENT: "sandbox" }, "prod-like-staging")).toMatchObject({
      alignEnvironment: "sandbox",
      longLived: true,
      removal: "retain",
      protect: false,
    });
    expect(stageProfile({}, "dev")).toMatchObject({ alignEnvironment: "sandbox", longLived: false, removal: "remove" });
    expect(refusal({ ...valid, ALIGN_ENVIRONMENT: "production" }, "dev").message).toMatch(/cannot be production/);
    expect(refusal({ ...valid, ALIGN_ENVIRONMENT: "Production" }, "staging").message).toMatch(
      /must be sandbox or production/,
    );
  });

  it("app()'s view never throws: an undecided stage is retained and protected", () => {
    expect(appProfile({}, "prod")).toEqual({ removal: "retain", protect: true });
    expect(appProfile({}, "dev")).toEqual({ removal: "remove", protect: false });
  });

  it("refuses sst dev on production or a production-looking stage", () => {
    expect(() => checkDevMode({ dev: true, stage: "main", alignEnvironment: "production" })).toThrow(
      /^sst dev: refused/,
    );
    expect(() => checkDevMode({ dev: true, stage: "prod-copy", alignEnvironment: "sandbox" })).toThrow(/sst dev/);
    expect(() => checkDevMode({ dev: false, stage: "production", alignEnvironment: "production" })).not.toThrow();
    expect(() => checkDevMode({ dev: true, stage: "dev", alignEnvironment: "sandbox" })).not.toThrow();
  });
});

describe("npm run deploy (the preflight, no AWS)", () => {
  const deploy = async (env: Record<string, string>, stage = "dev", timeout = 30_000) => {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !/^(JWT_|THROTTLE_|ALARM_|ALIGN_ENVIRONMENT|AWS_|SST_)/.test(name),
      ),
    );
    try {
      await run("npx", ["tsx", "infra/deploy.ts", "--stage", stage], {
        env: { ...clean, npm_config_update_notifier: "false", ...env },
        timeout,
      });
    } catch (error) {
      return error as { code: number; stdout: string; stderr: string };
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

  it("stops with one line on a production-looking stage that does not say which Align it talks to", async () => {
    const failed = await deploy(valid, "prod");
    expect(failed.stderr.trim().split("\n")).toEqual([
      'npm run deploy: ALIGN_ENVIRONMENT: required for stage "prod", which looks like production: set ALIGN_ENVIRONMENT=production or ALIGN_ENVIRONMENT=sandbox',
    ]);
  });

  // The first `sst deploy` on a machine downloads Pulumi and its providers from GitHub; without a network it
  // stops at "Could not install pulumi". SST_SKIP_DEPENDENCY_CHECK skips that download, so the next check
  // shows: with good settings and no credentials, the bundles are built and SST stops asking for credentials.
  it("with good settings and no AWS credentials: builds the bundles, then SST stops at its credentials check", async () => {
    const failed = await deploy(
      {
        ...valid,
        SST_SKIP_DEPENDENCY_CHECK: "true",
        SST_NO_BUN: "1",
        SST_TELEMETRY_DISABLED: "1",
        // Nothing may reach AWS: no profile, no keys, and not the instance metadata service either.
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_CONFIG_FILE: "/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
      },
      "dev",
      120_000,
    );
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/built 7 functions/);
    expect(`${failed.stdout}\n${failed.stderr}`).toContain("AWS credentials are not configured");
  }, 150_000);
});
