import type * as z from "zod";
import { AlignValidationError, type FieldError } from "./errors.js";

/** Zod issues as the seed's field errors: `[{ path: ["email"], message }]`. */
export function toFieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((issue) => ({ path: issue.path.map(String), message: issue.message }));
}

/** Parses `input` or throws {@link AlignValidationError} listing every problem. */
export function parseRequest<S extends z.ZodType>(schema: S, input: unknown, message: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new AlignValidationError(message, toFieldErrors(result.error.issues));
}
