/**
 * `npm run deploy -- [--stage <name>] [sst deploy options]`: checks the
 * deploy-time settings (one line naming what is wrong), builds the bundles,
 * then hands over to `sst deploy`, whose config checks both again. The
 * settings are checked here too because SST asks AWS for credentials before
 * it runs the config, and a missing setting should not need an AWS account to report.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultRoot } from "./bundles.js";
import { DeploySettingsError, missingSettings, readDeploySettings } from "./settings.js";

const args = process.argv.slice(2);
const root = defaultRoot();

/** The stage as `sst deploy` will pick it: `--stage`, then SST_STAGE, then the personal stage SST saved. */
function stageOf(argv: readonly string[]): string | undefined {
  const index = argv.findIndex((arg) => arg === "--stage" || arg.startsWith("--stage="));
  if (index >= 0) return argv[index]?.includes("=") ? argv[index]?.split("=")[1] : argv[index + 1];
  if (process.env.SST_STAGE) return process.env.SST_STAGE;
  try {
    return readFileSync(join(root, ".sst", "stage"), "utf8").trim() || undefined;
  } catch {
    return undefined; // SST will ask for one
  }
}

function refuse(message: string): never {
  console.error(`npm run deploy: ${message}`);
  process.exit(1);
}

const missing = missingSettings(process.env);
if (missing.length > 0) refuse(`set ${missing.join(" and ")} (your identity provider) first; see README "Deploy"`);
const stage = stageOf(args);
try {
  // Without a stage yet SST will pick a personal one; sst.config.ts checks the stage it picks (region, ALIGN_ENVIRONMENT).
  readDeploySettings(process.env, stage ?? "dev");
} catch (error) {
  if (error instanceof DeploySettingsError) refuse(error.message);
  throw error;
}

const run = (command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env) => {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit", env });
  if (result.status !== 0) process.exit(result.status ?? 1);
};
run("npm", ["run", "--silent", "build"]);
run("npx", ["sst", "deploy", ...args], { ...process.env, SST_TELEMETRY_DISABLED: "1" });
