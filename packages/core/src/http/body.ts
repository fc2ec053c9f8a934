import { safeParse, toFieldErrors } from "@align-onboarding/align";
import type * as z from "zod/mini";
import { ProblemError } from "./problem.js";
import type { HttpRequest } from "./request.js";

/** Bodies above this are refused with 413 before parsing. */
export const MAX_BODY_BYTES = 64 * 1024;

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

export interface ParsedBody<T> {
  /** The validated body. */
  data: T;
  /** The JSON value as received (for request fingerprints). */
  json: Record<string, unknown>;
}

export interface BodyOptions {
  /** An empty body is read as `{}` (for POSTs whose body is optional). */
  optional?: boolean;
}

/**
 * Reads a JSON object body and validates it: 413 over 64 KiB, 415 unless
 * `application/json`, 400 for broken JSON, a non-object, an unknown field or a
 * schema failure (every field path at once).
 */
export function parseJsonBody<S extends z.core.$ZodType>(
  request: HttpRequest,
  schema: S,
  allowedFields: readonly string[],
  options: BodyOptions = {},
): ParsedBody<z.output<S>> {
  const { body } = request;
  if (body.length > MAX_BODY_BYTES) {
    throw new ProblemError("payload_too_large", { detail: `The body must be at most ${MAX_BODY_BYTES} bytes` });
  }
  let value: unknown = {};
  if (body.length > 0 || !options.optional) {
    if (body.length === 0) throw new ProblemError("invalid_body", { detail: "A JSON object body is required" });
    if (!JSON_MEDIA_TYPE.test(request.headers["content-type"] ?? "")) throw new ProblemError("unsupported_media_type");
    try {
      value = JSON.parse(body.toString("utf8"));
    } catch {
      throw new ProblemError("invalid_json");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ProblemError("invalid_body");
  const unknown = Object.keys(value)
    .filter((field) => !allowedFields.includes(field))
    .map((field) => ({ path: [field], message: "Unknown field" }));
  const result = safeParse(schema, value);
  const errors = [...(result.success ? [] : toFieldErrors(result.error.issues)), ...unknown];
  if (!result.success || errors.length > 0) throw new ProblemError("validation_failed", { errors });
  return { data: result.data, json: value as Record<string, unknown> };
}
