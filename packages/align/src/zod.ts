/**
 * Parsing for everything the Lambdas load, which writes its schemas with the
 * `zod/mini` API (functions instead of methods, so a bundle holds only the
 * checks it uses). zod/mini sets no locale; classic zod sets English on first
 * use. {@link safeParse} does the same before its first parse, so every error
 * path and message stays as classic zod wrote it. Parse through it, not a
 * schema's own `safeParse`.
 */
import { config, type core, safeParse as parse } from "zod/mini";
import en from "zod/v4/locales/en.js";

/** `z.safeParse`, with English messages unless a locale was chosen. */
export function safeParse<S extends core.$ZodType>(
  schema: S,
  input: unknown,
): core.util.SafeParseResult<core.output<S>> {
  if (config().localeError === undefined) config(en());
  return parse(schema, input) as core.util.SafeParseResult<core.output<S>>;
}

/** Builds `build()` once, on first call (a schema another one extends, shared by both). */
export const once = <T>(build: () => T): (() => T) => {
  let built: T | undefined;
  return () => {
    built ??= build();
    return built;
  };
};
