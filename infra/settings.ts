/**
 * Deploy-time settings: read from the `sst deploy` shell and checked before
 * anything is created. Imports only infra/stage.ts, so `sst.config.ts`, `npm run deploy`'s
 * preflight and the unit tests all run the same checks without AWS.
 */

import { type AlignEnvironment, StageError, stageProfile } from "./stage.js";

/** Where each stage lives. Pinned here, not taken from the shell, so a CI job with another `AWS_REGION` cannot create a second stack. */
export const StageRegions = {
  default: "us-east-1",
  production: "us-east-1",
} as const satisfies Record<string, string>;

/** Alarm thresholds (per five minutes unless said otherwise); each overridable by the setting of that name. */
export const AlarmDefaults = {
  /** Lambda `Errors` (the function threw, timed out or crashed) per function. */
  ALARM_FUNCTION_ERRORS: 1,
  /** Lambda `Throttles` per function. */
  ALARM_FUNCTION_THROTTLES: 1,
  /** Percent of the API's requests answered 5xx (only counted when at least 20 requests came). */
  ALARM_API_5XX_PERCENT: 5,
  /** Align answered 401/403: our key is wrong or was rotated. */
  ALARM_ALIGN_AUTH_ERRORS: 1,
  /** Align answered 429. */
  ALARM_ALIGN_RATE_LIMITED: 5,
  /** Align unreachable or 5xx (status 0, 500, 502, 503, 504). */
  ALARM_ALIGN_UNAVAILABLE: 10,
  /** Webhook deliveries refused (bad signature or body): a secret rotated on one side only. */
  ALARM_WEBHOOKS_REJECTED: 5,
  /** Sandbox resets in the failure queue (failed after their retries; infra/reset.ts). */
  ALARM_SANDBOX_RESET_FAILED: 1,
} as const;
export type AlarmName = keyof typeof AlarmDefaults;

export interface DeploySettings {
  stage: string;
  region: string;
  alignEnvironment: AlignEnvironment;
  /** Not a personal stage: point-in-time recovery and deletion protection (infra/stage.ts). */
  longLived: boolean;
  jwtIssuer: string;
  jwtAudience: string;
  throttleRateLimit: number;
  throttleBurstLimit: number;
  kycRefreshAfterSeconds: number;
  sandboxResetSchedule: `cron(${string})` | `rate(${string})`;
  alarms: Record<AlarmName, number>;
  /** Where alarm notifications go (an SNS email subscription), if set. */
  alarmEmail: string | undefined;
}

/** One refused setting; the message is one line that names it. */
export class DeploySettingsError extends Error {
  override name = "DeploySettingsError";
  constructor(
    readonly setting: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`${setting}: ${message}`, options);
  }
}

type Env = Record<string, string | undefined>;

/** The region a stage deploys to. */
export function regionFor(stage: string): string {
  return stage === "production" ? StageRegions.production : StageRegions.default;
}

const present = (env: Env, name: string) => {
  const value = env[name];
  return value === undefined || value.trim() === "" ? undefined : value;
};

function positiveInteger(env: Env, name: string, fallback: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || value <= 0) {
    throw new DeploySettingsError(name, `must be a positive integer (got "${raw}")`);
  }
  return value;
}

function positiveNumber(env: Env, name: string, fallback: number): number {
  const raw = present(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new DeploySettingsError(name, `must be a positive number (got "${raw}")`);
  return value;
}

/** The settings that have no default, unset in `env`; `npm run deploy` names them all at once. */
export function missingSettings(env: Env): string[] {
  return ["JWT_ISSUER", "JWT_AUDIENCE"].filter((name) => present(env, name) === undefined);
}

/**
 * Reads and checks every deploy-time setting for `stage`.
 *
 * @throws {DeploySettingsError} on the first bad setting, naming it.
 * @example
 * ```ts
 * const settings = readDeploySettings(process.env, $app.stage);
 * ```
 */
export function readDeploySettings(env: Env, stage: string): DeploySettings {
  const profile = (() => {
    try {
      return stageProfile(env, stage);
    } catch (error) {
      if (error instanceof StageError)
        throw new DeploySettingsError(error.setting, error.message.slice(error.setting.length + 2));
      throw error;
    }
  })();
  const missing = missingSettings(env);
  if (missing.length > 0) {
    throw new DeploySettingsError(
      missing.join(", "),
      "required (your identity provider's issuer URL and the audience its tokens carry); set it before deploying",
    );
  }
  const jwtIssuer = (env.JWT_ISSUER as string).trim();
  const issuerUrl = (() => {
    try {
      return new URL(jwtIssuer);
    } catch (error) {
      throw new DeploySettingsError("JWT_ISSUER", `must be an https URL (got "${jwtIssuer}")`, { cause: error });
    }
  })();
  if (issuerUrl.protocol !== "https:") {
    throw new DeploySettingsError("JWT_ISSUER", `must be an https URL (got "${jwtIssuer}")`);
  }
  // API Gateway compares `iss` with the configured issuer as written; URL parsing would add or drop a slash.
  if (/\s/.test(jwtIssuer) || issuerUrl.search !== "" || issuerUrl.hash !== "") {
    throw new DeploySettingsError(
      "JWT_ISSUER",
      `must be the provider's issuer exactly as in its tokens' iss claim, with no spaces, query or fragment (got "${jwtIssuer}")`,
    );
  }
  const jwtAudience = (env.JWT_AUDIENCE as string).trim();

  const region = regionFor(stage);
  for (const name of ["AWS_REGION", "AWS_DEFAULT_REGION"]) {
    const shell = present(env, name);
    if (shell !== undefined && shell !== region) {
      throw new DeploySettingsError(
        name,
        `is ${shell}, but stage "${stage}" is pinned to ${region} (infra/settings.ts StageRegions); unset it or change the pin`,
      );
    }
  }

  const schedule = present(env, "SANDBOX_RESET_SCHEDULE") ?? "cron(0 3 * * ? *)";
  if (!/^(cron|rate)\(.+\)$/.test(schedule)) {
    throw new DeploySettingsError("SANDBOX_RESET_SCHEDULE", `must be cron(...) or rate(...) (got "${schedule}")`);
  }

  const throttleRateLimit = positiveInteger(env, "THROTTLE_RATE_LIMIT", 25);
  const throttleBurstLimit = positiveInteger(env, "THROTTLE_BURST_LIMIT", 50);
  const kycRefreshAfterSeconds = positiveNumber(env, "KYC_REFRESH_AFTER_SECONDS", 30);
  // The functions read it as an integer number of seconds (packages/core/src/config.ts).
  if (!Number.isInteger(kycRefreshAfterSeconds) || kycRefreshAfterSeconds > 86_400) {
    throw new DeploySettingsError(
      "KYC_REFRESH_AFTER_SECONDS",
      `must be a whole number of seconds from 1 to 86400 (got "${env.KYC_REFRESH_AFTER_SECONDS}")`,
    );
  }

  const alarms = {} as Record<AlarmName, number>;
  for (const [name, fallback] of Object.entries(AlarmDefaults) as [AlarmName, number][]) {
    alarms[name] = positiveNumber(env, name, fallback);
  }
  const alarmEmail = present(env, "ALARM_EMAIL")?.trim();
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    throw new DeploySettingsError("ALARM_EMAIL", `must be an email address (got "${alarmEmail}")`);
  }

  return {
    stage,
    region,
    alignEnvironment: profile.alignEnvironment,
    longLived: profile.longLived,
    jwtIssuer,
    jwtAudience,
    throttleRateLimit,
    throttleBurstLimit,
    kycRefreshAfterSeconds,
    sandboxResetSchedule: schedule as DeploySettings["sandboxResetSchedule"],
    alarms,
    alarmEmail,
  };
}
