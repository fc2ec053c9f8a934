import { AuthHeader, CustomerTypeField, safeParse } from "@align-onboarding/align";
import { Resource } from "sst/resource";
import * as z from "zod/mini";

/**
 * Configuration, read once per cold start. In AWS the secrets and the table
 * name come from SST links (`Resource`); locally and in tests from the
 * environment. A bad or missing value fails fast with a message naming it.
 */
// Built on first use (the first invocation), not at import.
const ConfigSchema = z.lazy(() =>
  z.object({
    ALIGN_ENVIRONMENT: z._default(z.enum(["sandbox", "production"]), "sandbox"),
    /** Required by every function that calls Align or verifies webhooks; the sandbox reset runs without it. */
    ALIGN_API_KEY: z.optional(z.string().check(z.trim(), z.minLength(1))),
    /** Comma-separated, so a key can be rotated; defaults to the API key, which Align signs with. */
    ALIGN_WEBHOOK_SECRET: z.optional(z.string()),
    ALIGN_BASE_URL: z.optional(z.url({ protocol: /^https?$/ })),
    /** Our own signing secrets (list cursors), `<version>:<secret>` comma-separated, current first. */
    SIGNING_SECRETS: z.optional(
      z.string().check(
        z.refine((value) => parseSigningSecrets(value) !== undefined, {
          error: `must be <version>:<secret>[,<version>:<secret>...], current first: versions of 1-16 letters, digits, - or _, each once; secrets of ${MIN_SIGNING_SECRET_LENGTH}+ characters without commas`,
        }),
      ),
    ),
    ALIGN_TIMEOUT_MS: z._default(z.coerce.number().check(z.int(), z.minimum(100), z.maximum(60_000)), 8_000),
    TABLE_NAME: z.string().check(z.trim(), z.minLength(3), z.maxLength(255)),
    DYNAMODB_ENDPOINT: z.optional(z.url({ protocol: /^https?$/ })),
    /** Whether the table takes TransactWriteItems: DynamoDB does (the default), dynalite does not (the default with an endpoint). */
    DYNAMODB_TRANSACTIONS: z.optional(z.enum(["true", "false"])),
    AWS_REGION: z._default(z.string().check(z.minLength(1)), "us-east-1"),
    KYC_REFRESH_AFTER_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(86_400)), 30),
    /** A pending KYC session's link is handed out again for this long; after it, a new session is opened. */
    KYC_LINK_MAX_AGE_SECONDS: z._default(
      z.coerce.number().check(z.int(), z.minimum(60), z.maximum(30 * 86_400)),
      3_600,
    ),
    /** Pin the contested wire details when they are known (else the client negotiates them). */
    ALIGN_AUTH_HEADER: z.optional(z.enum(Object.values(AuthHeader))),
    ALIGN_CUSTOMER_TYPE_FIELD: z.optional(z.enum(Object.values(CustomerTypeField))),
    LOG_LEVEL: z._default(z.enum(["debug", "info", "warn", "error"]), "info"),
  }),
);

/** One version of our own signing secret. */
export interface SigningSecret {
  /** Carried by what it signs (a list cursor), so verification picks the right secret. */
  version: string;
  secret: string;
}

export const MIN_SIGNING_SECRET_LENGTH = 32;

/** `v2:secret,v1:secret` -> versions, current first; undefined when malformed. */
function parseSigningSecrets(value: string): SigningSecret[] | undefined {
  const secrets: SigningSecret[] = [];
  for (const entry of value.split(",")) {
    const at = entry.indexOf(":");
    const version = entry.slice(0, at).trim();
    const secret = entry.slice(at + 1).trim();
    if (at < 0 || !/^[A-Za-z0-9_-]{1,16}$/.test(version) || secret.length < MIN_SIGNING_SECRET_LENGTH) return undefined;
    if (secrets.some((known) => known.version === version)) return undefined;
    secrets.push({ version, secret });
  }
  return secrets;
}

export interface Config {
  alignEnvironment: "sandbox" | "production";
  /** Undefined only where a function does not use Align (see {@link requireAlignKey}). */
  alignApiKey: string | undefined;
  /** Secrets accepted on webhook signatures, current first. */
  webhookSecrets: string[];
  alignBaseUrl: string | undefined;
  /**
   * Our own signing secrets, current first; the others are still accepted
   * (a rotation). Never derived from the Align key, so rotating that key
   * voids nothing of ours. Undefined where not configured (see {@link requireSigningSecrets}).
   */
  signingSecrets: SigningSecret[] | undefined;
  alignTimeoutMs: number;
  tableName: string;
  dynamoEndpoint: string | undefined;
  /** TransactWriteItems is available (DynamoDB); false for a local endpoint (dynalite has none) unless told. */
  dynamoTransactions: boolean;
  region: string;
  kycRefreshAfterMs: number;
  kycLinkMaxAgeMs: number;
  alignAuthHeader: AuthHeader | undefined;
  alignCustomerTypeField: CustomerTypeField | undefined;
  logLevel: "debug" | "info" | "warn" | "error";
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Source = Record<string, string | undefined>;

/** SST-linked values, when this code runs inside a linked function; else nothing. */
function linkedValues(): Source {
  const read = (get: () => string | undefined): string | undefined => {
    try {
      return get();
    } catch {
      return undefined; // not linked: Resource throws on first access
    }
  };
  const resource = Resource as unknown as Record<string, { value?: string; name?: string } | undefined>;
  return {
    ALIGN_API_KEY: read(() => resource.AlignApiKey?.value),
    ALIGN_WEBHOOK_SECRET: read(() => resource.AlignWebhookSecret?.value),
    SIGNING_SECRETS: read(() => resource.SigningSecrets?.value),
    TABLE_NAME: read(() => resource.Table?.name),
  };
}

/**
 * Builds the configuration from the environment (and SST links when present).
 *
 * @throws {ConfigError} naming every bad or missing variable.
 * @example
 * ```ts
 * const config = loadConfig(process.env);
 * ```
 */
export function loadConfig(env: Source = process.env, linked: Source = linkedValues()): Config {
  const merged: Source = { ...env };
  for (const [name, value] of Object.entries(linked)) if (value) merged[name] = value;
  // Empty strings mean "unset", as in most deploy tools.
  for (const [name, value] of Object.entries(merged)) if (value === "") delete merged[name];
  const parsed = safeParse(ConfigSchema, merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  const webhookSecrets = (c.ALIGN_WEBHOOK_SECRET ?? c.ALIGN_API_KEY ?? "")
    .split(",")
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0);
  return {
    alignEnvironment: c.ALIGN_ENVIRONMENT,
    alignApiKey: c.ALIGN_API_KEY,
    webhookSecrets,
    alignBaseUrl: c.ALIGN_BASE_URL,
    signingSecrets: c.SIGNING_SECRETS === undefined ? undefined : parseSigningSecrets(c.SIGNING_SECRETS),
    alignTimeoutMs: c.ALIGN_TIMEOUT_MS,
    tableName: c.TABLE_NAME,
    dynamoEndpoint: c.DYNAMODB_ENDPOINT,
    dynamoTransactions:
      c.DYNAMODB_TRANSACTIONS === undefined ? c.DYNAMODB_ENDPOINT === undefined : c.DYNAMODB_TRANSACTIONS === "true",
    region: c.AWS_REGION,
    kycRefreshAfterMs: c.KYC_REFRESH_AFTER_SECONDS * 1000,
    kycLinkMaxAgeMs: c.KYC_LINK_MAX_AGE_SECONDS * 1000,
    alignAuthHeader: c.ALIGN_AUTH_HEADER,
    alignCustomerTypeField: c.ALIGN_CUSTOMER_TYPE_FIELD,
    logLevel: c.LOG_LEVEL,
  };
}

/**
 * The Align API key, for the functions that use it (every one but the sandbox
 * reset, which is not given the secret).
 *
 * @throws {ConfigError} naming `ALIGN_API_KEY` when it is not configured.
 */
export function requireAlignKey(config: Config): string {
  if (config.alignApiKey === undefined) {
    throw new ConfigError("Invalid configuration: ALIGN_API_KEY: required by this function");
  }
  return config.alignApiKey;
}

/**
 * Our signing secrets, for the functions that sign or verify (the list's
 * cursors). Required wherever it is used, production or not: the local
 * runtime and the tests set a fixed development value, and SST refuses to
 * deploy without the `SigningSecrets` secret.
 *
 * @throws {ConfigError} naming `SIGNING_SECRETS` when it is not configured.
 */
export function requireSigningSecrets(config: Config): SigningSecret[] {
  if (config.signingSecrets === undefined) {
    throw new ConfigError(
      "Invalid configuration: SIGNING_SECRETS: required by this function (<version>:<secret>, e.g. v1:$(openssl rand -base64 32))",
    );
  }
  return config.signingSecrets;
}
