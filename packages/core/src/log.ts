/**
 * Structured JSON logs, one line each. Fields are primitives only, so an
 * object holding PII (a body, a customer) cannot be logged by accident; call
 * sites pass ids and codes, never emails, names, keys or tokens.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogValue = string | number | boolean | null | undefined;
export type LogFields = Record<string, LogValue>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogSink = (line: string) => void;

let defaultSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Where loggers created without a sink write (stdout by default; tests capture it). */
export function setLogSink(sink: LogSink): void {
  defaultSink = sink;
}

export class Logger {
  readonly #fields: LogFields;
  readonly #level: LogLevel;
  readonly #min: number;
  readonly #sink: LogSink | undefined;

  constructor(fields: LogFields = {}, level: LogLevel = "info", sink?: LogSink) {
    this.#fields = fields;
    this.#level = level;
    this.#min = RANK[level];
    this.#sink = sink;
  }

  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger {
    return new Logger({ ...this.#fields, ...fields }, this.#level, this.#sink);
  }

  debug(message: string, fields?: LogFields): void {
    this.#write("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#write("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#write("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#write("error", message, fields);
  }

  /** Writes a line that is already JSON (an EMF metrics line) to the same sink. */
  raw(line: string): void {
    (this.#sink ?? defaultSink)(line);
  }

  #write(level: LogLevel, message: string, fields: LogFields | undefined): void {
    if (RANK[level] < this.#min) return;
    const line = JSON.stringify({ level, time: new Date().toISOString(), message, ...this.#fields, ...fields });
    (this.#sink ?? defaultSink)(line);
  }
}

/** Safe fields describing an error: its class, code and status, never its message or body. */
export function errorFields(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error: typeof error };
  const e = error as Error & { code?: unknown; status?: unknown; requestId?: unknown; $metadata?: unknown };
  return {
    error: e.name,
    error_code: typeof e.code === "string" ? e.code : undefined,
    error_status: typeof e.status === "number" ? e.status : undefined,
    align_request_id: typeof e.requestId === "string" ? e.requestId : undefined,
  };
}
