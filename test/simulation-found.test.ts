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
