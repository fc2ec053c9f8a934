/**
 * `npm run simulate -- [--runs N] [--steps M] [--seed S] [--no-shrink] [--ignore PREFIX]...`: plays N seeded
 * schedules against the real handlers, dynalite and the Align emulator, and
 * checks the invariants after each. Exit 1 with the shrunk schedule on a
 * violation; the same seed replays it.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatReport, simulate } from "./run.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "200" },
    steps: { type: "string", default: "12" },
    seed: { type: "string" },
    "no-shrink": { type: "boolean", default: false },
    /** Look past a known violation (its message's start), e.g. --ignore "1. no orphan" */
    ignore: { type: "string", multiple: true },
    /** Look past every violation, and list them (`violation <schedule>|<invariant>`). */
    "keep-going": { type: "boolean", default: false },
    /** A JSON array of `<schedule>|<invariant>` to look past (what the unplanted code violates). */
    known: { type: "string" },
  },
});
const number = (name: string, value: string | undefined, min: number) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    console.error(`--${name} must be an integer >= ${min}`);
    process.exit(2);
  }
  return parsed;
};
const runs = number("runs", values.runs, 1);
const steps = number("steps", values.steps, 1);
const seed = values.seed === undefined ? Date.now() % 2_147_483_647 : number("seed", values.seed, 0);

const known = new Set<string>(values.known === undefined ? [] : JSON.parse(readFileSync(values.known, "utf8")));
console.log(`simulating ${runs} schedules of up to ${steps} steps, seed ${seed}`);
const report = await simulate({
  runs,
  steps,
  seed,
  noShrink: values["no-shrink"] === true,
  ignore: values.ignore ?? [],
  lookPast: (schedule, invariant) => values["keep-going"] === true || known.has(`${schedule}|${invariant}`),
  progress: (line) => console.log(line),
});
console.log(formatReport(report));
for (const violation of report.lookedPast) console.log(`violation ${violation}`);
if (values["keep-going"]) for (const detail of report.lookedPastDetail) console.log(`evidence ${detail}`);
process.exit(report.failure ? 1 : 0);
