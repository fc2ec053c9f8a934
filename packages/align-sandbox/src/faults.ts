/**
 * Fault injection: the next N requests to a route answer a given status, are
 * delayed, or lose their connection before or after the change is committed.
 */

export const FaultKind = {
  Status: "status",
  Delay: "delay",
  Drop: "drop",
} as const;

export const DropPoint = {
  /** The connection closes before anything changes: the request never ran. */
  BeforeCommit: "before_commit",
  /** The change is made, then the connection closes with no answer. */
  AfterCommit: "after_commit",
} as const;
export type DropPoint = (typeof DropPoint)[keyof typeof DropPoint];

export type FaultAction =
  | { type: "status"; status: number; retry_after?: number; body?: Record<string, unknown> }
  | { type: "delay"; ms: number }
  | { type: "drop"; when: DropPoint };

export interface FaultSpec {
  /** Route pattern such as `POST /v0/customers`, or `*` for every Align route. */
  route: string;
  /** How many matching requests it applies to (default 1). */
  count?: number;
  action: FaultAction;
}

interface ArmedFault {
  route: string;
  remaining: number;
  action: FaultAction;
}

const MAX_DELAY_MS = 600_000;

/** Checks an untrusted fault description; returns an error message or the spec. */
export function validateFault(input: unknown): FaultSpec | string {
  if (typeof input !== "object" || input === null) return "fault must be a JSON object";
  const { route, count = 1, action } = input as Record<string, unknown>;
  if (typeof route !== "string" || route.length === 0) return "route must be a route pattern or '*'";
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > 10_000) {
    return "count must be an integer from 1 to 10000";
  }
  if (typeof action !== "object" || action === null) return "action is required";
  const a = action as Record<string, unknown>;
  switch (a.type) {
    case FaultKind.Status: {
      if (typeof a.status !== "number" || !Number.isInteger(a.status) || a.status < 200 || a.status > 599) {
        return "action.status must be an HTTP status";
      }
      if (a.retry_after !== undefined && (typeof a.retry_after !== "number" || a.retry_after < 0)) {
        return "action.retry_after must be a non-negative number of seconds";
      }
      if (a.body !== undefined && (typeof a.body !== "object" || a.body === null || Array.isArray(a.body))) {
        return "action.body must be an object";
      }
      break;
    }
    case FaultKind.Delay:
      if (typeof a.ms !== "number" || a.ms < 0 || a.ms > MAX_DELAY_MS) return `action.ms must be 0..${MAX_DELAY_MS}`;
      break;
    case FaultKind.Drop:
      if (a.when !== DropPoint.BeforeCommit && a.when !== DropPoint.AfterCommit) {
        return "action.when must be 'before_commit' or 'after_commit'";
      }
      break;
    default:
      return "action.type must be 'status', 'delay' or 'drop'";
  }
  return { route, count, action: action as FaultAction };
}

export class FaultQueue {
  #faults: ArmedFault[] = [];

  add(spec: FaultSpec): void {
    this.#faults.push({ route: spec.route, remaining: spec.count ?? 1, action: spec.action });
  }

  clear(): void {
    this.#faults = [];
  }

  /** Takes one use of the first fault armed for `route`, if any. */
  take(route: string): FaultAction | undefined {
    const fault = this.#faults.find((entry) => entry.route === route || entry.route === "*");
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults.splice(this.#faults.indexOf(fault), 1);
    return fault.action;
  }

  list(): FaultSpec[] {
    return this.#faults.map((fault) => ({ route: fault.route, count: fault.remaining, action: fault.action }));
  }
}

export function describeFault(action: FaultAction): string {
  if (action.type === "status") return `status ${action.status}`;
  if (action.type === "delay") return `delay ${action.ms}ms`;
  return `drop ${action.when}`;
}
