/**
 * Runs many schedules (fast-check: seeded, shrunk on failure) in one world
 * and reports what was explored.
 */
import fc from "fast-check";
import { InvariantError, play, REACH, type Reach, type RunStats } from "./play.js";
import { describeSchedule, type Schedule, scheduleArbitrary } from "./schedule.js";
import { startWorld } from "./world.js";

export interface SimulationOptions {
  runs: number;
  /** Waves per schedule at most. */
  steps: number;
  seed: number;
  /** Report the first failing schedule as drawn, without shrinking it (shrinking can take minutes). */
  noShrink?: boolean;
  /** A line now and then on long runs. */
  progress?: (line: string) => void;
  /**
   * Violations whose message starts with one of these are counted, not
   * failed: to look past a known defect for the next one (FINDINGS.md).
   */
  ignore?: string[];
  /**
   * Looks past a violation when this says so (by the schedule's 1-based
   * index and the invariant's name): a planted defect is caught only by a
   * violation the unplanted code does not have (test/simulation/planted).
   */
  lookPast?: (schedule: number, invariant: string) => boolean;
}

/** The invariant a violation names (its message up to the evidence). */
export const invariantOf = (message: string) => message.replace(/: [[{"].*$/s, "");

export interface SimulationReport {
  seed: number;
  /** Waves per schedule at most (a replay needs the same). */
  steps: number;
  runs: number;
  operations: number;
  retries: number;
  crashes: number;
  /** Schedules played on AWS's DynamoDB Local, and the transactions they ran. */
  dynamodbRuns: number;
  transactions: number;
  faults: Record<string, number>;
  /** How far the schedules got, summed over the runs (see `formatReport` for per 1,000). */
  reach: Reach;
  /** Violations looked past (`ignore`, `lookPast`), by invariant. */
  ignored: Record<string, number>;
  /** Every violation looked past: `<schedule>|<invariant>`. */
  lookedPast: string[];
  /** The same with the evidence: `<schedule>|<message>`. */
  lookedPastDetail: string[];
  wallMs: number;
  /** Set when an invariant failed: the shrunk schedule, readable, and the violation. */
  failure?: { schedule: string; error: string; trace: string };
}

/**
 * Plays `runs` schedules drawn from `seed`. On a violation, fast-check
 * shrinks the schedule and the report carries the smallest one found.
 */
export async function simulate(options: SimulationOptions): Promise<SimulationReport> {
  const world = await startWorld();
  const started = Date.now();
  const report: SimulationReport = {
    seed: options.seed,
    steps: options.steps,
    runs: 0,
    operations: 0,
    retries: 0,
    crashes: 0,
    dynamodbRuns: 0,
    transactions: 0,
    faults: {},
    reach: Object.fromEntries(REACH.map((name) => [name, 0])) as Reach,
    ignored: {},
    lookedPast: [],
    lookedPastDetail: [],
    wallMs: 0,
  };
  let run = 0;
  let shrinking = false;
  let lastProgress = started;
  const add = (stats: RunStats, schedule: Schedule) => {
    report.operations += stats.operations;
    report.transactions += stats.transactions;
    if (schedule.table === "dynamodb") report.dynamodbRuns += 1;
    report.retries += stats.retries;
    report.crashes += stats.crashes;
    for (const [kind, count] of Object.entries(stats.faults)) report.faults[kind] = (report.faults[kind] ?? 0) + count;
    for (const name of REACH) report.reach[name] += stats.reach[name];
  };
  try {
    const result = await fc.check(
      fc.asyncProperty(scheduleArbitrary(options.steps), async (schedule: Schedule) => {
        run += 1;
        try {
          const stats = await play(world, run, schedule);
          if (!shrinking) {
            report.runs += 1;
            add(stats, schedule);
          }
        } catch (error) {
          const ignored =
            error instanceof InvariantError &&
            (options.ignore?.find((prefix) => error.message.startsWith(prefix)) ??
              (options.lookPast?.(report.runs + 1, invariantOf(error.message))
                ? invariantOf(error.message)
                : undefined));
          if (ignored) {
            // While shrinking too: a looked-past violation is no failure, so the shrunk schedule keeps the one found.
            if (!shrinking) {
              report.runs += 1;
              if (error.stats) add(error.stats, schedule);
              report.ignored[ignored] = (report.ignored[ignored] ?? 0) + 1;
              report.lookedPast.push(`${report.runs}|${invariantOf(error.message)}`);
              report.lookedPastDetail.push(`${report.runs}|${error.message}`);
            }
            await world.endRun().catch(() => undefined);
            return;
          }
          shrinking = true;
          await world.endRun().catch(() => undefined);
          throw error;
        }
        if (options.progress && Date.now() - lastProgress > 10_000) {
          lastProgress = Date.now();
          options.progress(
            `  ${report.runs}/${options.runs} schedules, ${Math.round((Date.now() - started) / 1000)} s`,
          );
        }
      }),
      { numRuns: options.runs, seed: options.seed, endOnFailure: options.noShrink === true },
    );
    if (result.failed && result.counterexample) {
      const [schedule] = result.counterexample as [Schedule];
      const error = result.errorInstance;
      report.failure = {
        schedule: describeSchedule(schedule),
        error: error instanceof InvariantError ? error.message : String(error instanceof Error ? error.stack : error),
        trace: error instanceof InvariantError ? error.trace : "",
      };
    }
  } finally {
    report.wallMs = Date.now() - started;
    await world.close();
  }
  return report;
}

/** Reach scaled to 1,000 schedules (what `npm test` asserts floors on). */
export function reachPerThousand(report: SimulationReport): Reach {
  const scale = report.runs === 0 ? 0 : 1000 / report.runs;
  return Object.fromEntries(REACH.map((name) => [name, Math.round(report.reach[name] * scale)])) as Reach;
}

const REACH_LABELS: Record<keyof Reach, string> = {
  approvals: "KYC approvals",
  webhooksApplied: "webhook deliveries applied to a record",
  kycStarts201: "KYC starts answered 201",
  parallelKeyRuns: "runs of one key in parallel",
  emailContests: "two-caller contests of one email",
  contestsBothLost: "contests where both lost Align's answer",
  identicalBodies: "contests with identical bodies",
  mixedCaseCreates: "mixed-case creates",
  promptDeliveries: "events delivered as published",
  redeliveries: "redeliveries of earlier bytes",
  staleRedeliveries: "of them, events whose customer had moved on at Align",
  olderSessionRedeliveries: "events of a session Align had replaced 12 s or more before",
  deadlinesMidCall: "calls in flight past a deadline",
  gets200: "GETs answered 200",
  gets404: "GETs answered 404",
};

function formatReach(report: SimulationReport): string {
  const scaled = reachPerThousand(report);
  return REACH.map((name) => `${REACH_LABELS[name]} ${scaled[name]}`).join(", ");
}

/** The report as lines for a terminal or the README. */
export function formatReport(report: SimulationReport): string {
  const faults = Object.entries(report.faults)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, count]) => `${kind} ${count}`)
    .join(", ");
  const lines = [
    `seed ${report.seed}: ${report.runs} schedules, ${report.operations} operations (${report.retries} convergence retries), ` +
      `${report.crashes} crashes, in ${(report.wallMs / 1000).toFixed(1)} s`,
    `tables: ${report.runs - report.dynamodbRuns} dynalite, ${report.dynamodbRuns} DynamoDB Local (${report.transactions} transactions)`,
    `faults injected: ${faults || "none"}`,
    `reach per 1,000 schedules: ${formatReach(report)}`,
  ];
  const ignored = Object.entries(report.ignored).map(([invariant, count]) => `${invariant} ×${count}`);
  if (ignored.length > 0) lines.push(`violations looked past: ${ignored.join("; ")}`);
  if (report.failure) {
    lines.push(
      "",
      `INVARIANT VIOLATED: ${report.failure.error}`,
      "shrunk schedule:",
      report.failure.schedule,
      "I/O calls in the order they ran (op#call):",
      report.failure.trace,
      `replay: npm run simulate -- --seed ${report.seed} --steps ${report.steps} --runs ${report.runs + 1}`,
    );
  }
  return lines.join("\n");
}
