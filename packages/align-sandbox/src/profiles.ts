/**
 * Emulator profiles: where Align's sources contradict each other, each profile
 * accepts exactly one variant and refuses the others as Align would, so a
 * client that guesses wrong fails here as it would against the real API.
 */
import type { AuthRefusals, ValidationBody } from "./dialects.js";

/** How the key must arrive. */
export const SandboxAuth = {
  /** `Api-Key: <key>` (the update-customer and virtual-account-simulate reference pages). */
  ApiKey: "api-key",
  /** `Authorization: <key>`, no scheme (the public SDK, production integrations, the newest create/get/KYC pages). */
  Authorization: "authorization",
  /** `Authorization: Bearer <key>` (one official guide). */
  Bearer: "bearer",
} as const;
export type SandboxAuth = (typeof SandboxAuth)[keyof typeof SandboxAuth];

/** The name of the customer type on create. */
export const SandboxTypeField = {
  Type: "type",
  BeneficiaryType: "beneficiary_type",
} as const;
export type SandboxTypeField = (typeof SandboxTypeField)[keyof typeof SandboxTypeField];

/**
 * How `GET /v0/customers?email=` compares. Every profile follows the SDK docs
 * (exact) unless overridden. Uniqueness (the 409) ignores case in every profile.
 */
export const EmailFilter = {
  /** Exactly as stored (the SDK docs call the filter an exact match). */
  Exact: "exact",
  /** Ignoring case, like the uniqueness check. */
  CaseInsensitive: "case_insensitive",
} as const;
export type EmailFilter = (typeof EmailFilter)[keyof typeof EmailFilter];

export const SandboxProfile = {
  /**
   * What works in the field: raw `Authorization` + `type` (the public SDK,
   * a production integration, the newest create/get/KYC reference pages);
   * list filter exact (SDK docs). The default: the reading the client tries first.
   */
  Sdk: "sdk",
  /**
   * `Api-Key` + `type` (the update-customer and simulate reference pages),
   * behind a gateway: a key not in `Api-Key` is refused `403 {"message":"Missing
   * Authentication Token"}`, a wrong one `403 Forbidden`.
   */
  Official: "official",
  /**
   * Raw `Authorization` + `beneficiary_type` (the older reference and a
   * production integration); an invalid create is refused with a message-only
   * 400 such as `{"message":"beneficiary_type is required; ..."}`.
   */
  Legacy: "legacy",
  /**
   * `Authorization: Bearer <key>` + `type` (one guide), behind a gateway: a
   * key in no `Authorization` header is refused `400 {"message":"Missing
   * Authentication Token"}`, any other `Authorization` value `403 Forbidden`.
   */
  Guide: "guide",
} as const;
export type SandboxProfile = (typeof SandboxProfile)[keyof typeof SandboxProfile];

/** The contested points a profile decides. */
export interface ProfileSettings {
  auth: SandboxAuth;
  typeField: SandboxTypeField;
  emailFilter: EmailFilter;
}

/**
 * The answer shapes a profile refuses with unless the caller chooses others
 * (values of the emulator's `authRefusal` and `validationBody` options).
 */
export interface ProfileRefusals {
  authRefusal: AuthRefusals;
  validationBody: ValidationBody;
}

const PROFILES = new Map<SandboxProfile, ProfileSettings>([
  [SandboxProfile.Sdk, { auth: "authorization", typeField: "type", emailFilter: "exact" }],
  [SandboxProfile.Official, { auth: "api-key", typeField: "type", emailFilter: "exact" }],
  [SandboxProfile.Legacy, { auth: "authorization", typeField: "beneficiary_type", emailFilter: "exact" }],
  [SandboxProfile.Guide, { auth: "bearer", typeField: "type", emailFilter: "exact" }],
]);

// Each strict profile refuses the other readings in a shape real gateways use, so the client meets them all.
const REFUSALS = new Map<SandboxProfile, ProfileRefusals>([
  [
    SandboxProfile.Sdk,
    { authRefusal: { missing: "unauthorized_401", wrong: "unauthorized_401" }, validationBody: "field_errors" },
  ],
  [
    SandboxProfile.Official,
    { authRefusal: { missing: "gateway_403", wrong: "forbidden_403" }, validationBody: "field_errors" },
  ],
  [
    SandboxProfile.Legacy,
    { authRefusal: { missing: "unauthorized_401", wrong: "unauthorized_401" }, validationBody: "message_only" },
  ],
  [
    SandboxProfile.Guide,
    { authRefusal: { missing: "gateway_400", wrong: "forbidden_403" }, validationBody: "field_errors" },
  ],
]);

/**
 * The default profile: `sdk`, the reading the sources that run against Align
 * attest (the SDK, production) and the one the client tries first, so `npm
 * start` and the tests run with no configuration and no negotiation round
 * trip; the other profiles prove the client learns what it did not guess.
 */
export const DEFAULT_PROFILE: SandboxProfile = SandboxProfile.Sdk;

/** The refusal shapes of `profile` (see {@link ProfileRefusals}). */
export function profileRefusals(profile: SandboxProfile): ProfileRefusals {
  const refusals = REFUSALS.get(profile);
  if (!refusals) throw new Error(`Unknown emulator profile "${profile}"`);
  return structuredClone(refusals);
}

/** Whether `value` names a profile. */
export function isSandboxProfile(value: unknown): value is SandboxProfile {
  return typeof value === "string" && PROFILES.has(value as SandboxProfile);
}

/** The settings of `profile`, with any overrides applied. */
export function profileSettings(profile: SandboxProfile, overrides: Partial<ProfileSettings> = {}): ProfileSettings {
  const base = PROFILES.get(profile);
  if (!base) throw new Error(`Unknown emulator profile "${profile}" (one of: ${[...PROFILES.keys()].join(", ")})`);
  return { ...base, ...overrides };
}
