/**
 * Deterministic interleaving of concurrent invocations at their I/O points.
 *
 * Every DynamoDB call and every Align call of an operation waits at a gate.
 * Only one operation runs at a time: when every live operation is waiting at
 * a gate (or done), the scheduler picks the next one with a seeded random
 * generator and tells it what happens to that call (a fault, or a crash
 * before or after it). So a schedule and a seed decide the whole run: races
 * are explored, not hoped for, and a failure replays exactly.
 */
import { AsyncLocalStorage } from "node:async_hooks";

/** What an I/O call is, as the gate sees it (for faults and for the readable schedule). */
export interface IoCall {
  kind: "dynamo" | "align";
  /** e.g. `PutItemCommand IDEMPOTENCY#` or `POST /v0/customers`. */
  label: string;
}

/** A DynamoDB fault, played at the wire beneath the SDK (see `WIRE_FAULTS` in world.ts). */
export type DynamoFault =
  | "throttle_once"
  | "throttle"
  | "throughput"
  | "server_error_once"
  | "server_error"
  | "conflict"
  | "reset"
  | "answer_lost_once"
  | "answer_lost"
  | "slow";
export type AlignFault =
  | { type: "status"; status: number; retry_after?: number }
  | { type: "timeout" }
  | { type: "drop"; when: "before_commit" | "after_commit" };

/** What the gate lets happen to one call. */
export interface Instruction {
  dynamoFault?: DynamoFault;
  alignFault?: AlignFault;
  /** The invocation dies: before the call is sent, or after it took effect (its answer lost). */
  crash?: "before" | "after";
  /**
   * The call is in flight this long (virtual ms) before it lands: the clock
   * moves on and other operations run first, so the invocation's deadline
   * (and lease) can end mid-call while a retry takes over.
   */
  stallMs?: number;
}

/** Decides, per call, what happens (from the schedule). `callIndex` counts this operation's calls from 0. */
export type Planner = (op: number, callIndex: number, call: IoCall) => Instruction;

interface Waiting {
  op: number;
  call: IoCall;
  release: (instruction: Instruction) => void;
  /** Decided already: a stalled call waiting to land. */
  held?: Instruction;
}

/** Small seeded PRNG (mulberry32): the interleaving is a function of the seed alone. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A promise that never settles, new each time: the continuation of a crashed
 * invocation hangs on it and is garbage once nothing else refers to it (a
 * shared one would keep every crashed invocation alive).
 */
const never = () => new Promise<never>(() => undefined);

/**
 * One storage for every scheduler: Node (20) visits each live
 * AsyncLocalStorage on every promise it creates, so one per run made a long
 * simulation slower with every schedule (9 a second at first, under 1 after
 * 1,500). The store names its scheduler, so a leftover continuation of an
 * earlier run is never taken for an operation of this one.
 */
const operation = new AsyncLocalStorage<{ scheduler: Scheduler; op: number }>();

export class Scheduler {
  #waiting: Waiting[] = [];
  #running = 0;
  #calls = new Map<number, number>();
  #idle: (() => void) | undefined;
  #random: () => number;
  #planner: Planner;
  /** Every call released, in order: `op#n label [fault]` (for the failure report). */
  readonly trace: string[] = [];
  crashed = new Set<number>();

  #advance: (ms: number) => void;

  /** `advance` moves the virtual clock (a stalled call's time in flight). */
  constructor(seed: number, planner: Planner, advance: (ms: number) => void = () => undefined) {
    this.#random = prng(seed);
    this.#planner = planner;
    this.#advance = advance;
  }

  /** From now on, `planner` decides what happens to each call (the convergence phase injects nothing). */
  replan(planner: Planner): void {
    this.#planner = planner;
  }

  /** The operation the current async context belongs to, if any (calls outside any operation pass freely). */
  current(): number | undefined {
    const store = operation.getStore();
    return store?.scheduler === this ? store.op : undefined;
  }

  /**
   * Runs `work` as operation `op`: it starts at once and runs until its first
   * gate. Resolves with its result, or never if it crashes.
   */
  start<T>(op: number, work: () => Promise<T>): Promise<T> {
    this.#running += 1;
    return operation.run({ scheduler: this, op }, async () => {
      try {
        return await work();
      } finally {
        this.#running -= 1;
        this.#check();
      }
    });
  }

  /**
   * Called by the I/O seams: waits for this operation's turn. Never resolves
   * for a crash before the call (the invocation is gone, its lock left to its lease).
   */
  async gate(call: IoCall): Promise<Instruction> {
    const op = this.current();
    if (op === undefined) return {};
    const instruction = await new Promise<Instruction>((release) => {
      this.#waiting.push({ op, call, release });
      this.#running -= 1;
      this.#check();
    });
    if (instruction.crash === "before") return never();
    return instruction;
  }

  /** After a call that took effect: the invocation dies here when told so (its answer is lost). */
  async afterCall(instruction: Instruction): Promise<void> {
    if (instruction.crash !== "after") return;
    this.#running -= 1;
    this.#check();
    await never();
  }

  /** Runs until every started operation is done or crashed. */
  async drain(): Promise<void> {
    for (;;) {
      await this.#quiet();
      if (this.#waiting.length === 0) return;
      const index = Math.floor(this.#random() * this.#waiting.length);
      const [next] = this.#waiting.splice(index, 1);
      if (!next) return;
      if (next.held) {
        this.#release(next, next.held);
        continue;
      }
      const callIndex = this.#calls.get(next.op) ?? 0;
      this.#calls.set(next.op, callIndex + 1);
      const instruction = this.#planner(next.op, callIndex, next.call);
      if (instruction.stallMs !== undefined) {
        // In flight: time passes now, and the call lands when the scheduler picks it again.
        const { stallMs, ...rest } = instruction;
        this.#advance(stallMs);
        this.trace.push(`op${next.op}#${callIndex} ${next.call.label} [in flight ${stallMs / 1000} s]`);
        this.#waiting.push({ ...next, held: rest });
        continue;
      }
      this.#release(next, instruction, callIndex);
    }
  }

  #release(next: Waiting, instruction: Instruction, callIndex?: number): void {
    const faults = [instruction.dynamoFault, instruction.alignFault && JSON.stringify(instruction.alignFault)];
    const note = [...faults, instruction.crash && `crash ${instruction.crash}`].filter(Boolean).join(", ");
    const at = callIndex === undefined ? " lands:" : `#${callIndex}`;
    this.trace.push(`op${next.op}${at} ${next.call.label}${note ? ` [${note}]` : ""}`);
    if (instruction.crash === "before") {
      this.crashed.add(next.op);
    } else {
      this.#running += 1;
      if (instruction.crash === "after") this.crashed.add(next.op);
    }
    next.release(instruction);
  }

  #quiet(): Promise<void> {
    if (this.#running <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = resolve;
    });
  }

  #check(): void {
    if (this.#running <= 0 && this.#idle) {
      const resolve = this.#idle;
      this.#idle = undefined;
      resolve();
    }
  }
}
