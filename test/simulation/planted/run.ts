/**
 * `npm run simulate:planted [-- --runs N --seed S --only NAME]`: the
 * simulation's own mutation score. Each `*.patch` here is a small broken
 * variant of the production code (its first line says how it is broken).
 * For each, a temporary copy of the repository's source gets the patch and
 * the simulation runs there (seeded, stopping at the first violation); a
 * table says which were caught, by which invariant, after how many schedules.
 *
 * The unplanted code runs first with the same seed: a violation it has at
 * the same schedule (a defect not yet fixed) is looked past, so a plant
 * counts as caught only by what it broke.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const here = join(root, "test/simulation/planted");
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "300" },
    seed: { type: "string", default: "1" },
    only: { type: "string", multiple: true },
  },
});

/** What the copy holds: the source the simulation runs, and the configs and scripts it reads. */
const SOURCE = ["packages", "functions", "infra", "scripts", "test", "package.json", "tsconfig.json", "biome.json"];
/** Linked, not copied: fetched tools (DynamoDB Local's jar), which some runs' worlds start. */
const LINKED = [".data"];

/**
 * A copy of the repository's source, with a `node_modules` of links to the
 * original's entries, except the workspace packages, which point at the copy.
 */
function copyRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), "planted-"));
  for (const entry of SOURCE) {
    cpSync(join(root, entry), join(dir, entry), {
      recursive: true,
      filter: (source) => !source.includes("/node_modules") && !source.includes("/dist/"),
    });
  }
  for (const entry of LINKED) if (existsSync(join(root, entry))) symlinkSync(join(root, entry), join(dir, entry));
  const modules = join(dir, "node_modules");
  mkdirSync(modules);
  for (const entry of readdirSync(join(root, "node_modules"))) {
    if (entry === "@align-onboarding") continue;
    symlinkSync(join(root, "node_modules", entry), join(modules, entry));
  }
  mkdirSync(join(modules, "@align-onboarding"));
  for (const name of readdirSync(join(root, "node_modules/@align-onboarding"))) {
    symlinkSync(join("../../packages", name), join(modules, "@align-onboarding", name));
  }
  return dir;
}

interface Outcome {
  caught: boolean;
  invariant: string;
  schedules: number;
  violations: string[];
  wallMs: number;
  output: string;
}

function simulate(dir: string, extra: string[]): Outcome {
  const started = Date.now();
  const result = spawnSync(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      "test/simulation/cli.ts",
      "--runs",
      values.runs as string,
      "--seed",
      values.seed as string,
      "--no-shrink",
      ...extra,
    ],
    { cwd: dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NODE_OPTIONS: "" } },
  );
  const output = `${result.stdout}${result.stderr}`;
  const violated = /INVARIANT VIOLATED: (.*)/.exec(output)?.[1] ?? "";
  const passed = Number(/seed \d+: (\d+) schedules/.exec(output)?.[1] ?? "0");
  const crashed = result.status !== 0 && !violated;
  return {
    caught: violated !== "" || crashed,
    invariant: crashed ? `(the run failed: ${output.trim().split("\n").at(-1)})` : violated.replace(/: [[{"].*$/s, ""),
    schedules: violated ? passed + 1 : passed,
    violations: [...output.matchAll(/^violation (.*)$/gm)].map((match) => match[1] as string),
    wallMs: Date.now() - started,
    output,
  };
}

const patches = readdirSync(here)
  .filter((name) => name.endsWith(".patch"))
  .filter((name) => !values.only || values.only.some((only) => name.includes(only)))
  .sort();
const dir = copyRepository();
const rows: string[] = [];
try {
  console.log(`planted defects: ${patches.length}, up to ${values.runs} schedules each, seed ${values.seed}`);
  const baseline = simulate(dir, ["--keep-going"]);
  console.log(
    `unplanted code: ${baseline.violations.length} violations in ${baseline.schedules} schedules (looked past below)` +
      `${baseline.violations.length ? `: ${[...new Set(baseline.violations.map((v) => v.replace(/^\d+\|/, "")))].join("; ")}` : ""}`,
  );
  if (baseline.invariant.startsWith("(the run failed")) {
    // Every plant would "fail" the same way: that is the copy's fault, not a catch.
    throw new Error(
      `the unplanted code's run failed in the copy: ${baseline.invariant}\n${baseline.output.slice(-2000)}`,
    );
  }
  const known = join(dir, "known-violations.json");
  writeFileSync(known, JSON.stringify(baseline.violations));
  // A violation of an invariant the unplanted code also violates (elsewhere in the run) may be that defect met
  // on another interleaving (a plant changes the calls, so the scheduler's draws): not attributable to the plant.
  const baselineInvariants = new Set(baseline.violations.map((violation) => violation.replace(/^\d+\|/, "")));
  rows.push(
    "| defect | caught | invariant | attributable | seed | schedules until caught | wall time |",
    "|---|---|---|---|---|---|---|",
  );
  for (const name of patches) {
    const patch = join(here, name);
    const description = readFileSync(patch, "utf8").split("\n")[0]?.replace(/^#\s*/, "") ?? "";
    execFileSync("patch", ["-p1", "-s", "-i", patch], { cwd: dir });
    try {
      const outcome = simulate(dir, ["--known", known]);
      const attributable = outcome.caught ? (baselineInvariants.has(outcome.invariant) ? "no" : "yes") : "-";
      const row = `| ${basename(name, ".patch")}: ${description} | ${outcome.caught ? "yes" : "**no**"} | ${outcome.invariant || "-"} | ${attributable} | ${values.seed} | ${outcome.caught ? outcome.schedules : `${outcome.schedules} (none)`} | ${(outcome.wallMs / 1000).toFixed(0)} s |`;
      rows.push(row);
      console.log(row);
    } finally {
      execFileSync("patch", ["-p1", "-R", "-s", "-i", patch], { cwd: dir });
    }
  }
  console.log(`\n${rows.join("\n")}`);
} finally {
  if (process.env.PLANTED_KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
