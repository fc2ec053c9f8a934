/**
 * Emulator profiles: where Align's sources contradict each other, each profile
 * accepts exactly one variant and refuses the others as Align would, so a
 * client that guesses wrong fails here as it would against the real API.
 */

/** How the key must arrive. */
export const SandboxAuth = {
  /** `Api-Key: <key>` (newer official reference pages). */
  ApiKey: "api-key",
  /** `Authorization: <key>`, no scheme (older official pages, the public SDK). */
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

/** How `GET /v0/customers?email=` compares. Uniqueness (the 409) ignores case in every profile. */
export const EmailFilter = {
  /** Exactly as stored (the SDK docs call the filter an exact match). */
  Exact: "exact",
  /** Ignoring case, like the uniqueness check. */
  CaseInsensitive: "case_insensitive",
} as const;
export type EmailFilter = (typeof EmailFilter)[keyof typeof EmailFilter];

export const SandboxProfile = {
  /** Newer official reference: `Api-Key` + `type`; list filter ignores case (assumed). The default. */
  Official: "official",
  /** The public SDK: raw `Authorization` + `type`; list filter exact (SDK docs). */
  Sdk: "sdk",
  /** Older official pages and one integration: raw `Authorization` + `beneficiary_type`; filter exact (assumed). */
  Legacy: "legacy",
} as const;
export type SandboxProfile = (typeof SandboxProfile)[keyof typeof SandboxProfile];

/** The contested points a profile decides. */
export interface ProfileSettings {
  auth: SandboxAuth;
  typeField: SandboxTypeField;
  emailFilter: EmailFilter;
}

const PROFILES = new Map<SandboxProfile, ProfileSettings>([
  [SandboxProfile.Official, { auth: "api-key", typeField: "type", emailFilter: "case_insensitive" }],
  [SandboxProfile.Sdk, { auth: "authorization", typeField: "type", emailFilter: "exact" }],
  [SandboxProfile.Legacy, { auth: "authorization", typeField: "beneficiary_type", emailFilter: "exact" }],
]);

/**
 * The default profile: `official`. It follows the newest official reference,
 * and it is the variant the client tries first, so `npm start` and the tests
 * run with no configuration and no negotiation round trip; the other profiles
 * prove the client learns what it did not guess.
 */
export const DEFAULT_PROFILE: SandboxProfile = SandboxProfile.Official;

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
