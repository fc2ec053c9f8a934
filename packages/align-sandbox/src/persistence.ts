import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { dirname } from "node:path";
import type { KycSession, SandboxState, StateChange, StoredCustomer, StoredWebhook } from "./state.js";

interface SavedState {
  customers: StoredCustomer[];
  webhooks: StoredWebhook[];
  sessions?: KycSession[];
}

/** The journal beside a snapshot file. */
export function journalFile(file: string): string {
  return `${file}.journal`;
}

/**
 * Loads the snapshot, then replays the journal after it; returns how many
 * journal entries were replayed. A torn last line (a
 * write cut short by a crash, never acknowledged) is cut off, so the next
 * append starts on a clean line. Every change is an absolute put, delete or
 * reset, so replaying a journal over a snapshot that already holds it
 * changes nothing (a crash between compaction's two steps is harmless).
 */
export function loadState(file: string, state: SandboxState): number {
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as SavedState;
    for (const customer of saved.customers ?? []) state.apply({ op: "customer", customer });
    for (const webhook of saved.webhooks ?? []) state.apply({ op: "webhook", webhook });
    for (const session of saved.sessions ?? []) state.apply({ op: "session", session });
  }
  const journal = journalFile(file);
  if (!existsSync(journal)) return 0;
  const text = readFileSync(journal, "utf8");
  const end = text.lastIndexOf("\n") + 1;
  let replayed = 0;
  for (const line of text.slice(0, end).split("\n")) {
    if (line === "") continue;
    state.apply(JSON.parse(line) as StateChange);
    replayed += 1;
  }
  if (end < text.length) truncateSync(journal, Buffer.byteLength(text.slice(0, end)));
  return replayed;
}

/**
 * Saves customers, sessions and webhook registrations (not deliveries or the
 * request log) atomically and durably: a crash mid-write leaves the previous file.
 */
export function saveState(file: string, state: SandboxState): void {
  mkdirSync(dirname(file), { recursive: true });
  const saved: SavedState = {
    customers: [...state.customers.values()],
    webhooks: [...state.webhooks.values()],
    sessions: [...state.sessions.values()],
  };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(saved));
  syncPath(temporary);
  renameSync(temporary, file);
  syncPath(dirname(file));
}

function syncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface JournalOptions {
  /** Compact (snapshot, then empty the journal) once it holds this many changes. Default 5 000. */
  compactAfter?: number;
}

/**
 * An append-only journal with group commit: changes are queued as they
 * happen, and one `write` + `fdatasync` makes a whole batch durable, so a
 * burst of requests shares one disk flush instead of rewriting the state per
 * request. {@link Journal.durable} resolves once everything queued so far is
 * on disk; the server answers only then.
 */
export class Journal {
  readonly #file: string;
  readonly #state: SandboxState;
  readonly #compactAfter: number;
  #handle: FileHandle | undefined;
  #queued: string[] = [];
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #flushing: Promise<void> | undefined;
  #entries = 0;
  #failed: unknown;

  private constructor(file: string, state: SandboxState, options: JournalOptions) {
    this.#file = file;
    this.#state = state;
    this.#compactAfter = options.compactAfter ?? 5_000;
  }

  /** Loads `file` (snapshot + journal) into `state` and starts journaling its changes. */
  static async open(file: string, state: SandboxState, options: JournalOptions = {}): Promise<Journal> {
    mkdirSync(dirname(file), { recursive: true });
    const replayed = loadState(file, state);
    const journal = new Journal(file, state, options);
    journal.#handle = await open(journalFile(file), "a");
    journal.#entries = replayed;
    state.onChange = (change) => journal.#append(change);
    return journal;
  }

  /** Changes queued and not yet durable. */
  get pending(): number {
    return this.#queued.length;
  }

  #append(change: StateChange): void {
    // Serialised now: the object may change again before the batch is written.
    this.#queued.push(`${JSON.stringify(change)}\n`);
  }

  /** Resolves once every change queued so far is on disk (at once when none is pending). */
  durable(): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    if (this.#queued.length === 0 && this.#flushing === undefined) return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#flushing ??= this.#flush();
    return promise;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queued.length > 0 || this.#waiters.length > 0) {
        const batch = this.#queued;
        const waiters = this.#waiters;
        this.#queued = [];
        this.#waiters = [];
        try {
          if (batch.length > 0) {
            const handle = this.#handle;
            if (!handle) throw new Error("journal is closed");
            await handle.write(batch.join(""));
            await handle.datasync();
            this.#entries += batch.length;
          }
          if (this.#entries >= this.#compactAfter) await this.#compact();
        } catch (error) {
          // A disk that fails once cannot be trusted to have kept anything after it: fail every later answer.
          this.#failed = error;
          for (const waiter of [...waiters, ...this.#waiters]) waiter.reject(error);
          this.#waiters = [];
          return;
        }
        for (const waiter of waiters) waiter.resolve();
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Writes a snapshot of the whole state, then empties the journal (see {@link loadState} for the crash case). */
  async #compact(): Promise<void> {
    // The state already holds every change queued after this batch; they stay queued and are replayed harmlessly.
    saveState(this.#file, this.#state);
    await this.#handle?.truncate(0);
    await this.#handle?.datasync();
    this.#entries = 0;
  }

  /** Flushes what is queued and closes the file. */
  async close(): Promise<void> {
    await this.durable().catch(() => undefined);
    await this.#handle?.close();
    this.#handle = undefined;
    this.#state.onChange = undefined;
  }
}
