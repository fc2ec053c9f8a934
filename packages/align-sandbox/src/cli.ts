#!/usr/bin/env node
/**
 * `npm run align-sandbox`: the Align sandbox emulator on loopback.
 * ALIGN_SANDBOX_PORT (default 3001), ALIGN_SANDBOX_KEY (default `sandbox-key`),
 * ALIGN_SANDBOX_PROFILE (`sdk` (default), `official`, `legacy` or `guide`; or `--profile <name>`),
 * ALIGN_SANDBOX_KYC_LINK_TTL_SECONDS (default 86400), ALIGN_SANDBOX_DATA_FILE
 * (keep state across restarts, durable before each answer; in memory when unset).
 * Opt-in older shapes: ALIGN_SANDBOX_CREATE_ANSWER (`customer` | `with_kycs`),
 * ALIGN_SANDBOX_AUTH_REFUSAL (`unauthorized_401` | `forbidden_403` |
 * `gateway_403` | `gateway_400`), ALIGN_SANDBOX_VALIDATION_BODY
 * (`field_errors` | `message_only`).
 */
import { AuthRefusal, CreateAnswer, ValidationBody } from "./dialects.js";
import { DEFAULT_PROFILE, isSandboxProfile } from "./profiles.js";
import { startAlignSandbox } from "./server.js";

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const port = Number(process.env.ALIGN_SANDBOX_PORT ?? 3001);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  fail(`ALIGN_SANDBOX_PORT must be a port number, got "${process.env.ALIGN_SANDBOX_PORT}"`);
}
const apiKey = process.env.ALIGN_SANDBOX_KEY || "sandbox-key";
const flag = process.argv.indexOf("--profile");
const profile =
  (flag >= 0 ? process.argv[flag + 1] : undefined) || process.env.ALIGN_SANDBOX_PROFILE || DEFAULT_PROFILE;
if (!isSandboxProfile(profile)) fail(`ALIGN_SANDBOX_PROFILE must be sdk, official, legacy or guide, got "${profile}"`);
const ttlRaw = process.env.ALIGN_SANDBOX_KYC_LINK_TTL_SECONDS;
const ttlSeconds = ttlRaw ? Number(ttlRaw) : undefined;
if (ttlSeconds !== undefined && !(ttlSeconds > 0)) {
  fail(`ALIGN_SANDBOX_KYC_LINK_TTL_SECONDS must be a positive number, got "${ttlRaw}"`);
}
const dataFile = process.env.ALIGN_SANDBOX_DATA_FILE || undefined;

/** An opt-in dialect setting from the environment: one of `allowed`, or unset. */
function choice<T extends string>(name: string, allowed: Record<string, T>): T | undefined {
  const value = process.env[name] || undefined;
  const values = Object.values(allowed);
  if (value !== undefined && !values.includes(value as T))
    fail(`${name} must be one of ${values.join(", ")}, got "${value}"`);
  return value as T | undefined;
}
const createAnswer = choice("ALIGN_SANDBOX_CREATE_ANSWER", CreateAnswer);
const authRefusal = choice("ALIGN_SANDBOX_AUTH_REFUSAL", AuthRefusal);
const validationBody = choice("ALIGN_SANDBOX_VALIDATION_BODY", ValidationBody);

try {
  const sandbox = await startAlignSandbox({
    apiKey,
    port,
    profile,
    ...(ttlSeconds === undefined ? {} : { kycLinkTtlMs: ttlSeconds * 1000 }),
    ...(dataFile ? { dataFile } : {}),
    ...(createAnswer ? { createAnswer } : {}),
    ...(authRefusal ? { authRefusal } : {}),
    ...(validationBody ? { validationBody } : {}),
    log: (entry) => console.log(JSON.stringify({ source: "align-sandbox", ...entry })),
  });
  console.log(
    `Align sandbox emulator listening on ${sandbox.url} (profile ${profile}: auth ${sandbox.profile.auth}, type field ${sandbox.profile.typeField}; API key from ALIGN_SANDBOX_KEY)`,
  );
  console.log(`  admin: ${sandbox.url}/_emulator/state, /_emulator/faults, /_emulator/reset`);
  const stop = (signal: string) => {
    console.log(`${signal} received, stopping`);
    sandbox.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
} catch (error) {
  const code = (error as { code?: string }).code;
  fail(
    code === "EADDRINUSE"
      ? `Port ${port} is in use: set ALIGN_SANDBOX_PORT to a free port`
      : `Could not start: ${String(error)}`,
  );
}
