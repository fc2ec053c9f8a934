/**
 * What a stage is: which Align environment it serves, whether its data is
 * long-lived, and how SST may remove it. Production is an explicit, checked
 * setting (`ALIGN_ENVIRONMENT`), never inferred from a stage name alone: a
 * stage named `prod`, `Production` or `live` is refused until it declares
 * which Align it talks to. Import-free, so `sst.config.ts` (`app()` and
 * `run()`), `npm run deploy` and the tests run the same decision.
 */

export type AlignEnvironment = "sandbox" | "production";

/** One refused stage decision; the message is one line that names the setting. */
export class StageError extends Error {
  override name = "StageError";
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Stages that are obviously one person's or one pull request's: `dev`,
 * `dev-<anything>`, `pr-<number>`, and the OS user's name (SST's default
 * personal stage). Their data is disposable; every other stage is long-lived.
 */
export function isPersonalStage(stage: string, env: Env = {}): boolean {
  const user = env.USER?.trim().toLowerCase();
  return /^(dev(-[a-z0-9-]+)?|pr-\d+)$/.test(stage) || (user !== undefined && user !== "" && stage === user);
}

/** Names someone could mean as production: `prod` anywhere (`Production`, `preprod`), or a part `prd` or `live`. */
export function looksLikeProduction(stage: string): boolean {
  return /prod/i.test(stage) || stage.split(/[^a-z0-9]+/i).some((part) => /^(prd|live)$/i.test(part));
}

export interface StageProfile {
  stage: string;
  alignEnvironment: AlignEnvironment;
  /** Not personal: point-in-time recovery, deletion protection, and the table kept on `sst remove`. */
  longLived: boolean;
  /** SST `removal`: `retain` keeps the table (and would keep buckets) when the stage is removed. */
  removal: "retain" | "remove";
  /** SST `protect`: `sst remove` refuses the stage outright. */
  protect: boolean;
}

/**
 * Decides a stage from `ALIGN_ENVIRONMENT` (in the deploy shell) and its name.
 * Personal stages default to `sandbox` and cannot be production; every other
 * stage must set `ALIGN_ENVIRONMENT`; a name that looks like production must
 * set it even where it would otherwise be optional.
 *
 * @throws {StageError} naming `ALIGN_ENVIRONMENT` when the decision is missing or contradicts the name.
 */
export function stageProfile(env: Env, stage: string): StageProfile {
  const raw = env.ALIGN_ENVIRONMENT?.trim();
  const declared = raw === undefined || raw === "" ? undefined : raw;
  if (declared !== undefined && declared !== "sandbox" && declared !== "production") {
    throw new StageError("ALIGN_ENVIRONMENT", `must be sandbox or production (got "${declared}")`);
  }
  const personal = isPersonalStage(stage, env) && !looksLikeProduction(stage);
  if (declared === undefined && !personal) {
    const why = looksLikeProduction(stage) ? "looks like production" : "is not a personal stage (dev, dev-*, pr-<n>)";
    throw new StageError(
      "ALIGN_ENVIRONMENT",
      `required for stage "${stage}", which ${why}: set ALIGN_ENVIRONMENT=production or ALIGN_ENVIRONMENT=sandbox`,
    );
  }
  if (declared === "production" && personal) {
    throw new StageError(
      "ALIGN_ENVIRONMENT",
      `stage "${stage}" is a personal stage and cannot be production; deploy production under its own stage name`,
    );
  }
  const alignEnvironment: AlignEnvironment = declared ?? "sandbox";
  const production = alignEnvironment === "production";
  return {
    stage,
    alignEnvironment,
    longLived: !personal,
    removal: personal ? "remove" : "retain",
    protect: production,
  };
}

/**
 * For SST's `app()`, which runs for every command (`sst secret set`, `sst
 * remove`, `sst install`) and must not fail there: an undecidable stage is
 * treated as production, the safe side (retained, protected); `run()` then
 * refuses it with `stageProfile`'s message.
 */
export function appProfile(env: Env, stage: string): Pick<StageProfile, "removal" | "protect"> {
  try {
    const { removal, protect } = stageProfile(env, stage);
    return { removal, protect };
  } catch {
    return { removal: "retain", protect: true };
  }
}

/**
 * `sst dev` (Live mode) on a production stage would run production's Lambdas
 * on a laptop with production's secrets: refused, as is any stage whose name
 * looks like production.
 */
export function checkDevMode(input: { dev: boolean; stage: string; alignEnvironment: AlignEnvironment }): void {
  if (!input.dev) return;
  if (input.alignEnvironment === "production" || looksLikeProduction(input.stage)) {
    throw new StageError(
      "sst dev",
      `refused on stage "${input.stage}": Live mode would run its Lambdas on this machine; use a personal stage (sst dev --stage dev-<you>)`,
    );
  }
}
