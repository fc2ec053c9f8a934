import type * as z from "zod/mini";
import { AlignValidationError, type FieldError } from "./errors.js";
import { safeParse } from "./zod.js";

/** Zod issues as the seed's field errors: `[{ path: ["email"], message }]`. */
export function toFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }));
}

/** Parses `input` or throws {@link AlignValidationError} listing every problem. */
export function parseRequest<S extends z.core.$ZodType>(schema: S, input: unknown, message: string): z.output<S> {
  const result = safeParse(schema, input);
  if (result.success) return result.data;
  throw new AlignValidationError(message, toFieldErrors(result.error.issues));
}
