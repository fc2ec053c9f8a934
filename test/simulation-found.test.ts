/**
 * Schedules the simulation (or its authors) found against earlier code,
 * written out by hand and replayed against the real handlers and stores:
 * each must hold every invariant now. A failure prints the invariant and the
 * I/O calls in the order they ran.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { InvariantError, play } from "./simulation/play.js";
import type { Schedule } from "./simulation/schedule.js";
import { startWorld, type World } from "./simulation/world.js";

let world: World;
beforeAll(async () => {
  world = await startWorld();
}, 60_000);
afterAll(() => world?.close());

async function holds(schedule: Schedule): Promise<void> {
  try {
    await play(world, 1, schedule);
  } catch (error) {
    if (error instanceof InvariantError) expect.fail(`${error.message}\n${error.trace}`);
    throw error;
  }
}

it("a create retried while Align's list lags, whose lock's answer is lost and resent by the SDK, adopts its own customer (no orphan)", async () => {
  // Before: the resent lock knew an earlier attempt may have run but not when it began, and a create that
  // could not find the email at Align took that as "long ago" and stored 409 email_already_exists for good.
  await holds({
    interleaving: 1,
    table: "dynalite",
    world: { indexLagMs: 0, alignSkewMs: 0, kycSessions: "reuse_active", alignListLagMs: 5_000 },
    waves: [
      {
        kind: "ops",
        ops: [
          {
            kind: "create",
            caller: 0,
            email: 0,
            key: 0,
            plan: { faults: [{ at: 0, align: { type: "drop", when: "after_commit" } }] },
          },
        ],
      },
      {
        kind: "ops",
        ops: [
          { kind: "create", caller: 0, email: 0, key: 0, plan: { faults: [{ at: 0, dynamo: "answer_lost_once" }] } },
        ],
      },
    ],
  });
}, 60_000);

it("a create whose Align call lands 90 s after its attempt began, while Align's list lags, is never answered 'exists' for good over its own customer (long run, seed 20261213, schedule 3,733)", async () => {
  // Two other calls in flight 45 s each hold the virtual clock while user-1's create waits to reach Align: it
  // lands, creates the customer and dies past its deadline. Its retry meets Align's 409 and cannot list the new
  // customer yet. Before, it judged the earlier attempt (begun 90 s before, over ALIGN_LOOKUP_LAG_MS's 60 s)
  // too old to be the author and stored a final 409; now it answers "may change" and a later retry adopts it.
  await holds({
    interleaving: 1_761_001_279,
    table: "dynalite",
    world: { indexLagMs: 0, alignSkewMs: -60_000, kycSessions: "reuse_active", alignListLagMs: 5_000 },
    waves: [
      {
        kind: "ops",
        ops: [
          {
            kind: "get",
            caller: 2,
            target: 7,
            plan: {
              faults: [{ at: 1, dynamo: "conflict" }],
              crash: { at: 1, when: "after" },
              stall: { at: 0, ms: 45_000 },
            },
          },
          { kind: "next", caller: 1, key: 1, plan: { faults: [] } },
          {
            kind: "next",
            caller: 0,
            key: 0,
            plan: {
              faults: [
                { at: 2, dynamo: "slow" },
                { at: 0, align: { type: "drop", when: "after_commit" } },
              ],
              crash: { at: 0, when: "before" },
              stall: { at: 0, ms: 45_000 },
            },
          },
        ],
      },
      { kind: "ops", ops: [{ kind: "next", caller: 1, key: 1, plan: { faults: [] } }] },
    ],
  });
}, 60_000);
